"""Tests of the Python package against the tiller CLI (an independent path through the same
files: tokenizer, sampling loop, scoring, the `tiller acts` capture) and against numpy
(RMSNorm of a steered residual). Run: TILLER_BIN=build/tiller TILLER_LIB=build/libtiller.so
/usr/bin/python3 -m unittest discover -s python/tests   (ctest: python_tests)."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import tiller  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SHARED = os.environ.get("TILLER_SHARED", os.path.join(ROOT, "..", "shared"))
MODEL = os.path.join(SHARED, "models", "stories260K", "stories260K.bin")
TOK = os.path.join(SHARED, "models", "stories260K", "tok512.bin")
BIN = os.environ.get("TILLER_BIN", os.path.join(ROOT, "build", "tiller"))
PROMPT = "Once upon a time"


def cli(*args):
    r = subprocess.run([BIN] + [str(a) for a in args], capture_output=True, env=dict(os.environ, OMP_NUM_THREADS="1"))
    if r.returncode:
        raise AssertionError("tiller %s: exit %d: %s" % (" ".join(map(str, args)), r.returncode, r.stderr.decode()))
    return r.stdout.decode("utf-8", "replace")


class TillerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.m = tiller.Model(MODEL, tokenizer=TOK)
        cls.tmp = tempfile.mkdtemp(prefix="tiller-py-")

    @classmethod
    def tearDownClass(cls):
        cls.m.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_config(self):
        c = self.m.config
        self.assertEqual((c["dim"], c["n_layers"], c["vocab_size"]), (64, 5, 512))
        self.assertGreater(self.m.n_params, 200000)

    def test_tokenize_matches_cli(self):
        for text in [PROMPT, "Tom and Lily went to the park.", "a\tb\nc 123"]:
            want = [int(x) for x in cli("tokenize", "--tokenizer", TOK, "-p", text, "--ids-only", "--bos").split()]
            got = self.m.tokenize(text)
            self.assertEqual(got.dtype, np.int32)
            self.assertEqual(got.tolist(), want, text)
            self.assertEqual(self.m.tokenize(text, bos=False).tolist(), want[1:])

    def test_decode_roundtrip(self):
        text = "Tom and Lily went to the park."
        self.assertEqual(self.m.detokenize(self.m.tokenize(text)), text)

    def test_generate_matches_cli(self):
        want = cli("generate", "-m", MODEL, "--tokenizer", TOK, "-p", PROMPT, "-n", 60, "--temp", 0, "--no-echo")
        got = self.m.generate(PROMPT, max_new=60, temperature=0)
        self.assertEqual(got + "\n", want)
        self.assertGreater(len(got), 50)
        # sampled: the same seed, the same text as the CLI
        want = cli("generate", "-m", MODEL, "--tokenizer", TOK, "-p", PROMPT, "-n", 30, "--temp", 0.9, "--top-k", 20,
                   "--top-p", 0.95, "--seed", 7, "--no-echo")
        got = self.m.generate(PROMPT, max_new=30, temperature=0.9, top_k=20, top_p=0.95, seed=7)
        self.assertEqual(got + "\n", want)

    def test_generate_too_long_is_an_error(self):
        with self.assertRaises(tiller.TillerError) as cm:
            self.m.generate(PROMPT, max_new=self.m.n_ctx, temperature=0)
        self.assertEqual(cm.exception.status, "TL_E_RANGE")
        self.assertIn("exceed the context", str(cm.exception))

    def test_score_matches_cli(self):
        cont = " there was a little girl"
        want = json.loads(cli("score", "-m", MODEL, "--tokenizer", TOK, "-p", PROMPT, "-c", cont, "--json"))
        got = self.m.score(PROMPT, cont)
        self.assertEqual(len(got), want["n_tokens"])
        np.testing.assert_allclose(got, [t["logprob"] for t in want["tokens"]], atol=2e-6)
        self.assertTrue(np.all(got < 0))

    def test_capture_matches_tiller_acts(self):
        texts = ["Once upon a time", "The cat sat on the mat.", "Lily had a red ball, and she loved it."]
        csv = os.path.join(self.tmp, "d.csv")
        with open(csv, "w") as f:
            f.write("statement,label\n" + "".join('"%s",%d\n' % (t, i % 2) for i, t in enumerate(texts)))
        for reduce in ("last", "mean"):
            out = os.path.join(self.tmp, "acts-" + reduce)
            cli("acts", "-m", MODEL, "--tokenizer", TOK, "--data", csv, "--points", "resid_post.1,embed,attn_out.2",
                "--token", reduce, "-o", out)
            got = self.m.capture(texts, ["resid_post.1", "embed", "attn_out.2"], reduce=reduce)
            for name in ("resid_post.1", "embed", "attn_out.2"):
                want = np.load(os.path.join(out, name + ".npy"))
                self.assertEqual(got[name].shape, want.shape, name)
                np.testing.assert_allclose(got[name], want, rtol=1e-5, atol=1e-5, err_msg=name)

    def test_capture_all_layers_and_tokens(self):
        got = self.m.capture(["Once upon a time"], "resid_post", reduce=None)
        self.assertEqual(sorted(got), ["resid_post.%d" % i for i in range(5)])
        n = len(self.m.tokenize("Once upon a time"))
        self.assertEqual(got["resid_post.4"][0].shape, (n, 64))
        last = self.m.capture(["Once upon a time"], "resid_post.4")["resid_post.4"][0]
        np.testing.assert_array_equal(got["resid_post.4"][0][-1], last)

    def test_steer_against_numpy_rmsnorm(self):
        # Adding v to the last block's output x changes the final norm's output to
        # (x + v) * rstd(x + v) * g, where g (the norm weight) follows from the unsteered pair.
        # tl_forward normalises only the last position (the one whose logits it computes).
        L = self.m.config["n_layers"] - 1
        eps = self.m.config["norm_eps"]
        base = self.m.capture([PROMPT], ["resid_post.%d" % L, "final_norm"], reduce=None)
        x = base["resid_post.%d" % L][0][-1:].astype(np.float64)
        y = base["final_norm"][0].astype(np.float64)
        self.assertEqual(y.shape, (1, 64))

        def rms(a):
            return a / np.sqrt((a * a).mean(axis=1, keepdims=True) + eps)

        ok = np.abs(rms(x)[0]) > 1e-2  # where g = y / rms(x) is well conditioned
        self.assertGreater(ok.sum(), 50)
        g = y[0, ok] / rms(x)[0, ok]
        v = np.random.default_rng(0).normal(size=64).astype(np.float32)
        with self.m.steer("resid_post.%d" % L, add=v, scale=0.5):
            st = self.m.capture([PROMPT], ["final_norm"], reduce=None)["final_norm"][0]
        want = rms(x + 0.5 * v.astype(np.float64))[0, ok] * g
        np.testing.assert_allclose(st[0, ok], want, rtol=1e-3, atol=1e-4)
        self.assertGreater(np.abs(st[0, ok] - y[0, ok]).max(), 1e-2)  # the edit did something
        # the hook is gone after the block
        after = self.m.capture([PROMPT], ["final_norm"], reduce=None)["final_norm"][0]
        np.testing.assert_array_equal(after, base["final_norm"][0])

    def test_steer_add_and_replace(self):
        base = self.m.generate(PROMPT, max_new=30, temperature=0)
        with self.m.steer("resid_post.2", add=np.zeros(64, np.float32)):
            self.assertEqual(self.m.generate(PROMPT, max_new=30, temperature=0), base)
        with self.m.steer("resid_post.2", add=np.ones(64, np.float32), scale=5.0):
            self.assertNotEqual(self.m.generate(PROMPT, max_new=30, temperature=0), base)
        # resid_post.1 is resid_pre.2: adding at either gives the same logits
        v = np.random.default_rng(1).normal(size=64).astype(np.float32)
        with self.m.steer("resid_post.1", add=v):
            a = self.m.logits(PROMPT)
        with self.m.steer("resid_pre.2", add=v):
            b = self.m.logits(PROMPT)
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
        self.assertGreater(np.abs(a - self.m.logits(PROMPT)).max(), 1e-2)
        # replacing a point by its own values changes nothing; by the last-position values of
        # another text at the last position only, the logits become that text's
        own = self.m.capture([PROMPT], ["attn_out.3"], reduce=None)["attn_out.3"][0]
        with self.m.steer("attn_out.3", replace=lambda x, layer, pos0: own[pos0:pos0 + len(x)]):
            np.testing.assert_allclose(self.m.logits(PROMPT), self.m.logits(PROMPT), atol=0)
        ref = self.m.logits(PROMPT)
        with self.m.steer("attn_out.3", replace=lambda x, layer, pos0: own[pos0:pos0 + len(x)]):
            np.testing.assert_allclose(self.m.logits(PROMPT), ref, rtol=1e-6, atol=1e-6)
        with self.assertRaises(ValueError):
            with self.m.steer("resid_post.2", add=v, replace=v):
                pass

    def test_hook_errors(self):
        with self.assertRaises(tiller.TillerError) as cm:
            self.m.capture([PROMPT], ["resid_post.99x"])
        self.assertIn("resid_post.99x", str(cm.exception))
        self.assertEqual(self.m.generate(PROMPT, max_new=5, temperature=0),
                         self.m.generate(PROMPT, max_new=5, temperature=0))

    def test_load_errors(self):
        with self.assertRaises(tiller.TillerError) as cm:
            tiller.Model(os.path.join(self.tmp, "missing.gguf"))
        self.assertIn("missing.gguf", str(cm.exception))
        self.assertEqual(cm.exception.status, "TL_E_IO")
        bad = os.path.join(self.tmp, "bad.gguf")
        with open(bad, "wb") as f:
            f.write(b"GGUF\x03\x00\x00\x00" + b"\xff" * 20)
        with self.assertRaises(tiller.TillerError) as cm:
            tiller.Model(bad)
        self.assertIn("bad.gguf", str(cm.exception))
        with self.assertRaises(tiller.TillerError) as cm:
            tiller.Model(MODEL)  # a llama2.c .bin carries no tokenizer
        self.assertIn("carries no tokenizer", str(cm.exception))

    def test_series(self):
        d = os.path.join(self.tmp, "series")
        os.makedirs(d)
        text = os.path.join(d, "t.txt")
        with open(text, "w") as f:
            f.write("\n\n".join("Once upon a time there was a cat number %d. It liked to play." % i for i in range(60)))
        cli("data", "--tokenizer", TOK, text, "-o", os.path.join(d, "t.tok"), "--val-frac", 0.1)
        run = os.path.join(d, "run")
        cli("train", "-d", os.path.join(d, "t.tok"), "-o", run, "--dim", 16, "--hidden", 32, "--layers", 2,
            "--heads", 2, "--seq", 32, "--steps", 6, "--batch", 2, "--warmup", 1, "--save-every", 2,
            "--tokenizer", TOK, "-t", 1, "-q")
        ckpts = tiller.read_series(run)
        self.assertEqual([c.step for c in ckpts], [0, 2, 4, 6] if ckpts and ckpts[0].step == 0 else [2, 4, 6])
        for c in ckpts:
            self.assertTrue(os.path.exists(c.path), c.path)
        with ckpts[-1].load() as m:
            self.assertEqual(m.config["dim"], 16)
            self.assertEqual(m.generate(PROMPT, max_new=8, temperature=0),
                             cli("generate", "-m", ckpts[-1].path, "-p", PROMPT, "-n", 8, "--temp", 0,
                                 "--no-echo")[:-1])
        with self.assertRaises(tiller.TillerError):
            tiller.read_series(os.path.join(d, "nope"))


class InstallTest(unittest.TestCase):
    def test_pip_install_offline(self):
        """pip install ./python works with no network (setuptools from Debian, no build deps)."""
        with tempfile.TemporaryDirectory() as d:
            src = os.path.join(d, "src")
            shutil.copytree(os.path.join(ROOT, "python"), src, ignore=shutil.ignore_patterns("tests", "build", "*.egg-info"))
            venv = os.path.join(d, "venv")
            subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", venv], check=True)
            py = os.path.join(venv, "bin", "python")
            lib = os.path.abspath(os.environ.get("TILLER_LIB", os.path.join(ROOT, "build", "libtiller.so")))
            env = dict(os.environ, TILLER_LIB=lib)
            r = subprocess.run([py, "-m", "pip", "install", "--no-build-isolation", "--no-index", src],
                               capture_output=True)
            self.assertEqual(r.returncode, 0, r.stderr.decode())
            r = subprocess.run([py, "-c", "import tiller; m = tiller.Model(%r, tokenizer=%r); print(m.tokenize('Once').tolist())"
                                % (MODEL, TOK)], capture_output=True, cwd=d, env=env)
            self.assertEqual(r.returncode, 0, r.stderr.decode())
            self.assertEqual(r.stdout.decode().strip(), "[1, 403]")


if __name__ == "__main__":
    unittest.main()
