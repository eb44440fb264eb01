"""Loading libtiller.so and the ctypes declarations of the functions the package calls.

Only the public API (include/tiller/*.h) is used; struct layouts mirror those headers.
"""
import ctypes
import ctypes.util
import os

c_int_p = ctypes.POINTER(ctypes.c_int)
c_float_p = ctypes.POINTER(ctypes.c_float)
c_int32_p = ctypes.POINTER(ctypes.c_int32)


class TillerError(Exception):
    """A tiller call failed. ``str(e)`` is tiller's message (tl_last_error): it names the
    file, field and value at fault. ``e.status`` is the tl_status name, e.g. "TL_E_IO"."""

    def __init__(self, message, status="TL_E_ARG"):
        super().__init__(message)
        self.status = status


_STATUS = ["TL_OK", "TL_E_IO", "TL_E_FORMAT", "TL_E_NOMEM", "TL_E_ARG", "TL_E_RANGE",
           "TL_E_UNSUPPORTED", "TL_E_NUMERIC"]


class Config(ctypes.Structure):
    """tl_config (tiller/model.h)."""
    _fields_ = [("dim", ctypes.c_int), ("hidden_dim", ctypes.c_int), ("n_layers", ctypes.c_int),
                ("n_heads", ctypes.c_int), ("n_kv_heads", ctypes.c_int), ("head_dim", ctypes.c_int),
                ("vocab_size", ctypes.c_int), ("seq_len", ctypes.c_int), ("rope_theta", ctypes.c_float),
                ("norm_eps", ctypes.c_float), ("tied_embeddings", ctypes.c_int), ("rope_layout", ctypes.c_int)]


class SamplerParams(ctypes.Structure):
    _fields_ = [("temperature", ctypes.c_float), ("top_k", ctypes.c_int), ("top_p", ctypes.c_float),
                ("seed", ctypes.c_uint64)]


class GenOpts(ctypes.Structure):
    _fields_ = [("max_new", ctypes.c_int), ("stop_eos", ctypes.c_int), ("stop_bos", ctypes.c_int),
                ("stop_newline", ctypes.c_int)]


class GenResult(ctypes.Structure):
    _fields_ = [("n_new", ctypes.c_int), ("stop", ctypes.c_int), ("n_run", ctypes.c_int)]


class Ckpt(ctypes.Structure):
    _fields_ = [("step", ctypes.c_int64), ("name", ctypes.c_char_p), ("path", ctypes.c_char_p)]


class CkptList(ctypes.Structure):
    _fields_ = [("n", ctypes.c_int), ("items", ctypes.POINTER(Ckpt))]


# void (*tl_hook_fn)(void *user, tl_hook_point point, int layer, float *x, int T, int width, int pos0)
HOOK_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int, ctypes.c_int, c_float_p, ctypes.c_int,
                           ctypes.c_int, ctypes.c_int)
# int (*tl_gen_fn)(void *user, int32_t id, const char *text, size_t len)
GEN_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_int32, ctypes.POINTER(ctypes.c_char),
                          ctypes.c_size_t)


def _candidates():
    env = os.environ.get("TILLER_LIB")
    if env:
        yield env
        return
    found = ctypes.util.find_library("tiller")
    if found:
        yield found
    yield "libtiller.so.0"
    # the source tree: python/tiller/_lib.py -> <repo>/build/libtiller.so
    here = os.path.dirname(os.path.abspath(__file__))
    for build in ("build", "build-asan"):
        yield os.path.join(here, "..", "..", build, "libtiller.so")


def _load():
    errors = []
    for path in _candidates():
        try:
            return ctypes.CDLL(path)
        except OSError as e:
            errors.append("%s: %s" % (path, e))
    raise ImportError("tiller: cannot load libtiller.so (set TILLER_LIB to its path, or build the C "
                      "library first): " + "; ".join(errors))


lib = _load()

_SIGNATURES = {
    # base
    "tl_last_error": (ctypes.c_char_p, []),
    "tl_status_string": (ctypes.c_char_p, [ctypes.c_int]),
    "tl_free": (None, [ctypes.c_void_p]),
    # tokenizer
    "tl_tokenizer_load": (ctypes.c_int, [ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]),
    "tl_tokenizer_free": (None, [ctypes.c_void_p]),
    "tl_tokenizer_n_vocab": (ctypes.c_int, [ctypes.c_void_p]),
    "tl_tokenizer_bos": (ctypes.c_int32, [ctypes.c_void_p]),
    "tl_tokenizer_eos": (ctypes.c_int32, [ctypes.c_void_p]),
    "tl_tokenizer_encode": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int,
                                           ctypes.POINTER(c_int32_p), ctypes.POINTER(ctypes.c_size_t)]),
    "tl_tokenizer_decode_piece": (ctypes.c_size_t, [ctypes.c_void_p, ctypes.c_int32, ctypes.c_int32,
                                                    ctypes.c_char_p, ctypes.c_size_t]),
    # model and format
    "tl_model_load": (ctypes.c_int, [ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p),
                                     ctypes.POINTER(ctypes.c_void_p)]),
    "tl_model_free": (None, [ctypes.c_void_p]),
    "tl_model_config": (ctypes.POINTER(Config), [ctypes.c_void_p]),
    "tl_model_pick_tokenizer": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
                                               ctypes.POINTER(ctypes.c_void_p)]),
    "tl_model_n_params": (ctypes.c_size_t, [ctypes.c_void_p]),
    # session, hooks
    "tl_session_new": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.POINTER(ctypes.c_void_p)]),
    "tl_session_free": (None, [ctypes.c_void_p]),
    "tl_session_reset": (None, [ctypes.c_void_p]),
    "tl_session_hooks": (ctypes.c_void_p, [ctypes.c_void_p]),
    "tl_session_n_ctx": (ctypes.c_int, [ctypes.c_void_p]),
    "tl_forward": (ctypes.c_int, [ctypes.c_void_p, c_int32_p, ctypes.c_int, ctypes.POINTER(c_float_p)]),
    "tl_hook_parse": (ctypes.c_int, [ctypes.c_char_p, c_int_p, c_int_p]),
    "tl_hook_name": (ctypes.c_char_p, [ctypes.c_int]),
    "tl_hooks_add": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_int, ctypes.c_int, HOOK_FN, ctypes.c_void_p]),
    "tl_hooks_clear": (None, [ctypes.c_void_p]),
    # sampling, generation, scoring
    "tl_sampler_new": (ctypes.c_int, [ctypes.POINTER(SamplerParams), ctypes.c_int, ctypes.POINTER(ctypes.c_void_p)]),
    "tl_sampler_delete": (None, [ctypes.c_void_p]),
    "tl_generate": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, c_int32_p, ctypes.c_int,
                                   ctypes.POINTER(GenOpts), GEN_FN, ctypes.c_void_p, ctypes.POINTER(GenResult)]),
    "tl_score_tokens": (ctypes.c_int, [ctypes.c_void_p, c_int32_p, ctypes.c_int, c_int32_p, ctypes.c_int,
                                       ctypes.POINTER(ctypes.c_double)]),
    "tl_eval_encode_pair": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p,
                                           ctypes.POINTER(c_int32_p), c_int_p, ctypes.POINTER(c_int32_p), c_int_p]),
    # checkpoint series
    "tl_series_list": (ctypes.c_int, [ctypes.c_char_p, ctypes.POINTER(CkptList)]),
    "tl_ckpt_list_free": (None, [ctypes.POINTER(CkptList)]),
}

for _name, (_res, _args) in _SIGNATURES.items():
    _f = getattr(lib, _name)
    _f.restype = _res
    _f.argtypes = _args


def check(status):
    """Raise TillerError with tiller's message when a call returned a non-zero tl_status."""
    if status:
        msg = lib.tl_last_error()
        name = _STATUS[status] if 0 <= status < len(_STATUS) else "TL_E_%d" % status
        raise TillerError(msg.decode("utf-8", "replace") if msg else name, name)


def encode_path(path):
    return os.fsencode(path)
