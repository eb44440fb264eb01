"""Model, hooks, generation, scoring, capture and steering over libtiller.so."""
import contextlib
import ctypes

import numpy as np

from ._lib import (HOOK_FN, GEN_FN, CkptList, GenOpts, GenResult, SamplerParams, TillerError, c_float_p,
                   c_int32_p, check, encode_path, lib)

_REDUCE = ("last", "mean", None)


def _ids_ptr(ids):
    arr = np.ascontiguousarray(ids, dtype=np.int32)
    return arr, arr.ctypes.data_as(c_int32_p)


def parse_hook(name):
    """Split a hook-point name into (point, layer) the way tiller does: "resid_post.3" ->
    (point id, 3); "embed", "final_norm", "logits" -> (point id, -1); "resid_post" -> every layer
    (-1). Raises TillerError for an unknown name."""
    point, layer = ctypes.c_int(), ctypes.c_int()
    check(lib.tl_hook_parse(name.encode(), ctypes.byref(point), ctypes.byref(layer)))
    return point.value, layer.value


class Tokenizer:
    """A tokenizer (llama2.c tokenizer.bin, GGUF, or Hugging Face tokenizer.json).

    Either loaded from a file, or the one a model file carries (loaded beside the model by
    Model); owned either way."""

    def __init__(self, path=None, _handle=None):
        if path is not None:
            h = ctypes.c_void_p()
            check(lib.tl_tokenizer_load(encode_path(path), ctypes.byref(h)))
            self._h, self._owned = h, True
        else:
            self._h, self._owned = ctypes.c_void_p(_handle), True

    def close(self):
        if self._owned and self._h:
            lib.tl_tokenizer_free(self._h)
        self._h = ctypes.c_void_p()

    def __del__(self):
        self.close()

    @property
    def n_vocab(self):
        return lib.tl_tokenizer_n_vocab(self._h)

    @property
    def bos(self):
        return lib.tl_tokenizer_bos(self._h)

    @property
    def eos(self):
        return lib.tl_tokenizer_eos(self._h)

    def encode(self, text, bos=True, special=False):
        """Token ids of ``text`` (str or bytes) as an int32 ndarray; ``bos`` prepends BOS,
        ``special`` matches control tokens such as ``</s>`` written in the text."""
        data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
        ids, n = c_int32_p(), ctypes.c_size_t()
        flags = (1 if bos else 0) | (2 if special else 0)
        check(lib.tl_tokenizer_encode(self._h, data, len(data), flags, ctypes.byref(ids), ctypes.byref(n)))
        try:
            return np.ctypeslib.as_array(ids, shape=(n.value,)).copy() if n.value else np.zeros(0, np.int32)
        finally:
            lib.tl_free(ids)

    def decode(self, ids, prev=-1):
        """The text of ``ids`` as tiller's decoder streams it (each token after the previous one;
        control tokens give nothing). Invalid UTF-8 is replaced."""
        out, buf = bytearray(), ctypes.create_string_buffer(256)
        for i in np.asarray(ids, dtype=np.int64).ravel():
            n = lib.tl_tokenizer_decode_piece(self._h, int(prev), int(i), buf, 256)
            out += buf.raw[:min(n, 256)]
            prev = int(i)
        return out.decode("utf-8", "replace")


class Model:
    """A Llama-family model loaded with tiller (.gguf, llama2.c .bin, .safetensors or a Hugging
    Face directory), with one inference session (KV cache) and a table of hooks.

    ``tokenizer``: a path (tokenizer.bin, .gguf, tokenizer.json) used instead of the one the
    model file carries. ``n_ctx``: the session's context (0 = the model's seq_len).

    >>> m = Model("stories260K.bin", tokenizer="tok512.bin")
    >>> m.generate("Once upon a time", max_new=20, temperature=0)
    """

    def __init__(self, path, tokenizer=None, n_ctx=0):
        self._m = ctypes.c_void_p()
        self._s = ctypes.c_void_p()
        self._hooks = []  # keep the ctypes callbacks alive while C holds them
        self._hook_specs = []  # (point, layer) of each, to re-add the earlier ones
        self._tok_own = None  # tokenizer=
        self._tok_file = None  # the one the model file carries, loaded beside the model
        self.path = str(path)
        file_tok = ctypes.c_void_p()
        check(lib.tl_model_load(encode_path(path), ctypes.byref(self._m), ctypes.byref(file_tok)))
        if file_tok.value:
            self._tok_file = Tokenizer(_handle=file_tok.value)
        if tokenizer is not None:
            self._tok_own = Tokenizer(tokenizer)
        picked = ctypes.c_void_p()
        given = self._tok_own._h if self._tok_own else None
        own = self._tok_file._h if self._tok_file else None
        check(lib.tl_model_pick_tokenizer(self._m, given, own, ctypes.byref(picked)))
        self.tokenizer = self._tok_own or self._tok_file
        check(lib.tl_session_new(self._m, int(n_ctx), 0, ctypes.byref(self._s)))
        c = lib.tl_model_config(self._m).contents
        self.config = {f: getattr(c, f) for f, _ in c._fields_}

    def close(self):
        """Free the session, the model and its tokenizers (also done when collected)."""
        if getattr(self, "_s", None):
            lib.tl_session_free(self._s)
            self._s = ctypes.c_void_p()
        if getattr(self, "_m", None):
            lib.tl_model_free(self._m)
            self._m = ctypes.c_void_p()
        for t in (getattr(self, "_tok_own", None), getattr(self, "_tok_file", None)):
            if t is not None:
                t.close()

    def __del__(self):
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def n_params(self):
        return lib.tl_model_n_params(self._m)

    @property
    def n_ctx(self):
        return lib.tl_session_n_ctx(self._s)

    # ---- text ----------------------------------------------------------------------------

    def tokenize(self, text, bos=True, special=False):
        """Token ids (int32 ndarray) with the model's tokenizer (see Tokenizer.encode)."""
        return self.tokenizer.encode(text, bos=bos, special=special)

    def detokenize(self, ids):
        return self.tokenizer.decode(ids)

    def generate(self, prompt, max_new=64, temperature=0.8, top_k=0, top_p=0.9, seed=0, stop_newline=False):
        """Continue ``prompt`` (BOS added) with tiller's sampling loop (tl_generate): up to
        ``max_new`` tokens, stopping at an end-of-generation token (EOS, EOT, ...; not BOS, as
        ``tiller generate`` and llama.cpp) (and at the first line break of the reply when
        ``stop_newline``). ``temperature`` 0 is greedy. Hooks added with add_hook/steer apply.
        Returns the new text. TillerError (TL_E_RANGE) when the prompt plus max_new tokens do
        not fit the context: tiller never shortens a request."""
        ids, ptr = _ids_ptr(self.tokenize(prompt))
        sp = SamplerParams(float(temperature), int(top_k), float(top_p), int(seed))
        smp = ctypes.c_void_p()
        check(lib.tl_sampler_new(ctypes.byref(sp), self.config["vocab_size"], ctypes.byref(smp)))
        out = bytearray()

        def on_piece(user, tok_id, text, n):
            out.extend(ctypes.string_at(text, n))
            return 0

        cb = GEN_FN(on_piece)
        opts = GenOpts(int(max_new), 1, 0, 1 if stop_newline else 0)  # stop_eos, not stop_bos: as the CLI
        res = GenResult()
        try:
            lib.tl_session_reset(self._s)
            check(lib.tl_generate(self._s, smp, self.tokenizer._h, ptr, len(ids), ctypes.byref(opts), cb, None,
                                  ctypes.byref(res)))
        finally:
            lib.tl_sampler_delete(smp)
        return out.decode("utf-8", "replace")

    def score(self, prompt, continuation):
        """Log-probabilities (float64 ndarray, one per continuation token) of ``continuation``
        after ``prompt``, split into tokens as lm-evaluation-harness does (the same split as
        `tiller score` and `tiller eval`). Their sum is the continuation's log-likelihood."""
        ctx, n_ctx, cont, n_cont = c_int32_p(), ctypes.c_int(), c_int32_p(), ctypes.c_int()
        check(lib.tl_eval_encode_pair(self.tokenizer._h, prompt.encode("utf-8"), continuation.encode("utf-8"),
                                      ctypes.byref(ctx), ctypes.byref(n_ctx), ctypes.byref(cont),
                                      ctypes.byref(n_cont)))
        try:
            if n_cont.value == 0:
                raise TillerError("the continuation adds no tokens", "TL_E_ARG")
            logp = np.zeros(n_cont.value, dtype=np.float64)
            check(lib.tl_score_tokens(self._s, ctx, n_ctx.value, cont, n_cont.value,
                                      logp.ctypes.data_as(ctypes.POINTER(ctypes.c_double))))
            return logp
        finally:
            lib.tl_free(ctx)
            lib.tl_free(cont)

    def logits(self, text):
        """The next-token logits (float32 ndarray [vocab]) after ``text`` (BOS added)."""
        ids, ptr = _ids_ptr(self.tokenize(text))
        out = c_float_p()
        lib.tl_session_reset(self._s)
        check(lib.tl_forward(self._s, ptr, len(ids), ctypes.byref(out)))
        return np.ctypeslib.as_array(out, shape=(self.config["vocab_size"],)).copy()

    # ---- hooks -----------------------------------------------------------------------------

    def add_hook(self, name, fn):
        """Call ``fn(x, layer, pos0)`` at hook point ``name`` ("resid_post.3", "resid_post" for
        every layer, "embed", "attn_out.1", "mlp_out.0", "final_norm", ...) during every forward.
        ``x`` is a float32 ndarray [T, width] viewing tiller's buffer for positions pos0 ..
        pos0+T-1: change it in place to edit the model's computation, copy it to keep it (it is
        reused after the call). Hooks stay until clear_hooks()."""
        point, layer = parse_hook(name)

        def trampoline(user, pt, lay, x, T, width, pos0):
            fn(np.ctypeslib.as_array(x, shape=(T, width)), lay, pos0)

        cb = HOOK_FN(trampoline)
        check(lib.tl_hooks_add(lib.tl_session_hooks(self._s), point, layer, cb, None))
        self._hooks.append(cb)
        self._hook_specs.append((point, layer))

    def clear_hooks(self):
        """Remove every hook (capture and steering)."""
        self._keep_hooks(0)

    def _keep_hooks(self, n):
        """Keep the first n hooks (tiller's table has no removal: clear it and add them again)."""
        hooks = lib.tl_session_hooks(self._s)
        keep, specs = self._hooks[:n], self._hook_specs[:n]
        lib.tl_hooks_clear(hooks)
        self._hooks, self._hook_specs = [], []
        for (pt, lay), cb in zip(specs, keep):
            check(lib.tl_hooks_add(hooks, pt, lay, cb, None))
            self._hooks.append(cb)
            self._hook_specs.append((pt, lay))

    @contextlib.contextmanager
    def steer(self, name, add=None, replace=None, scale=1.0, positions="all"):
        """Edit the residual stream (or any hook point) while the block runs:
        ``add``: a vector [width] (scale * add is added at every position, or only at the last
        position of each forward call with positions="last"); ``replace``: a vector [width] or a
        callable ``f(x, layer, pos0) -> array`` whose result replaces x. Hooks that were there
        before stay; this one is removed on exit (with every hook added inside the block).

        >>> with m.steer("resid_post.2", add=direction, scale=4.0):
        ...     m.generate("I think", temperature=0)
        """
        if (add is None) == (replace is None):
            raise ValueError("steer: give exactly one of add= or replace=")
        if positions not in ("all", "last"):
            raise ValueError("steer: positions must be 'all' or 'last'")
        vec = None if add is None else np.asarray(add, dtype=np.float32).ravel() * np.float32(scale)
        rep = None if replace is None or callable(replace) else np.asarray(replace, dtype=np.float32).ravel()

        def edit(x, layer, pos0):
            rows = x if positions == "all" else x[-1:]
            if vec is not None:
                if vec.shape[0] != x.shape[1]:
                    raise ValueError("steer: vector of %d for a point of width %d" % (vec.shape[0], x.shape[1]))
                rows += vec
            elif rep is not None:
                rows[...] = rep
            else:
                rows[...] = replace(rows.copy(), layer, pos0)

        before = len(self._hooks)
        self.add_hook(name, edit)
        try:
            yield self
        finally:
            self._keep_hooks(before)

    def capture(self, texts, points, reduce="last"):
        """Activations of each text (BOS added) at each hook point, as the `tiller acts` capture
        does: a dict point name -> float32 ndarray [len(texts), width] for reduce="last" (the
        last token) or "mean" (mean over tokens, BOS included); for reduce=None, a list per text
        of [T, width] arrays. A point name without a layer ("resid_post") stands for every layer
        and is expanded to "resid_post.0" ... Hooks already added stay active."""
        if reduce not in _REDUCE:
            raise ValueError("capture: reduce must be 'last', 'mean' or None")
        if isinstance(points, str):
            points = [points]
        if isinstance(texts, str):
            texts = [texts]
        names = []
        for p in points:
            pt, layer = parse_hook(p)
            per_layer = pt in (1, 2, 3, 4)  # resid_pre, attn_out, mlp_out, resid_post
            if per_layer and layer < 0:
                names += ["%s.%d" % (p, l) for l in range(self.config["n_layers"])]
            else:
                names.append(p)
        results = {n: [] for n in names}
        before = len(self._hooks)
        current = {}

        def make(name):
            def grab(x, layer, pos0):
                current.setdefault(name, []).append(x.copy())
            return grab

        for n in names:
            self.add_hook(n, make(n))
        try:
            for t in texts:
                current.clear()
                ids, ptr = _ids_ptr(self.tokenize(t))
                out = c_float_p()
                lib.tl_session_reset(self._s)
                check(lib.tl_forward(self._s, ptr, len(ids), ctypes.byref(out)))
                for n in names:
                    rows = np.concatenate(current.get(n, [np.zeros((0, 0), np.float32)]), axis=0)
                    if reduce == "last":
                        results[n].append(rows[-1])
                    elif reduce == "mean":
                        results[n].append(rows.mean(axis=0, dtype=np.float64).astype(np.float32))
                    else:
                        results[n].append(rows)
        finally:
            self._keep_hooks(before)
        if reduce is None:
            return results
        return {n: np.stack(v) if v else np.zeros((0, 0), np.float32) for n, v in results.items()}


class Checkpoint:
    """One checkpoint of a series: ``step``, ``name`` ("ckpt-100") and ``path`` (the model file)."""

    def __init__(self, step, name, path):
        self.step, self.name, self.path = step, name, path

    def load(self, tokenizer=None, n_ctx=0):
        return Model(self.path, tokenizer=tokenizer, n_ctx=n_ctx)

    def __repr__(self):
        return "Checkpoint(step=%d, name=%r, path=%r)" % (self.step, self.name, self.path)


def read_series(run_dir):
    """The checkpoints of a training run (`tiller train` directory: manifest.json, else every
    ckpt-<step>.<ext> file), sorted by step, as a list of Checkpoint."""
    lst = CkptList()
    check(lib.tl_series_list(encode_path(run_dir), ctypes.byref(lst)))
    try:
        return [Checkpoint(lst.items[i].step, lst.items[i].name.decode(), lst.items[i].path.decode())
                for i in range(lst.n)]
    finally:
        lib.tl_ckpt_list_free(ctypes.byref(lst))
