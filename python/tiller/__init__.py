"""tiller: Python bindings (ctypes over libtiller.so, numpy arrays).

    import tiller
    m = tiller.Model("stories260K.bin", tokenizer="tok512.bin")
    m.generate("Once upon a time", max_new=40, temperature=0)
    m.score("Once upon a time", " there was")          # log-probs per token
    acts = m.capture(["a text", "another"], ["resid_post.2"])   # {"resid_post.2": [2, dim]}
    with m.steer("resid_post.2", add=direction, scale=4.0):
        m.generate("I think", temperature=0)
    for c in tiller.read_series("runs/pretrain"): print(c.step, c.path)

Errors from tiller raise tiller.TillerError carrying tiller's message. See docs/python.md.
"""
from ._lib import TillerError
from .core import Checkpoint, Model, Tokenizer, parse_hook, read_series

__all__ = ["Model", "Tokenizer", "Checkpoint", "read_series", "parse_hook", "TillerError"]
__version__ = "0.1.0"
