#!/usr/bin/python3
"""Reference .npy files written by numpy.save, for tests/unit/test_npy.c.

The C test rebuilds the same arrays from the formulas below, checks that
tl_npy_save writes byte-identical files (so numpy.load reads them), and that
tl_npy_load reads these back with the right type, shape and values.

    f4: x[i] = 0.5 * i - 1.25       (i = flat C-order index)
    i4: x[i] = 7 * i - 11
    i8: x[i] = i * 2**40 - 3

Run from the repo root: /usr/bin/python3 tests/oracle/npy_ref.py
With --check FILE...: numpy.load each FILE (e.g. files tiller wrote) and print it.
"""
import os
import sys

import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden", "npy")

CASES = [  # file name, dtype, shape
    ("f4_2x3", "<f4", (2, 3)),
    ("f4_1x2x3", "<f4", (1, 2, 3)),
    ("f4_scalar", "<f4", ()),
    ("i4_5", "<i4", (5,)),
    ("i8_0x4", "<i8", (0, 4)),
    ("i8_3x2", "<i8", (3, 2)),
    ("f4_7x1x1x2", "<f4", (7, 1, 1, 2)),
    ("f4_1234x1", "<f4", (1234, 1)),
]


def values(dtype, shape):
    i = np.arange(int(np.prod(shape)), dtype=np.int64)
    if dtype == "<f4":
        x = (0.5 * i - 1.25).astype("<f4")
    elif dtype == "<i4":
        x = (7 * i - 11).astype("<i4")
    else:
        x = (i * 2**40 - 3).astype("<i8")
    return x.reshape(shape)


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--check":
        for f in sys.argv[2:]:
            a = np.load(f)
            print(f"{f}: dtype {a.dtype.str} shape {a.shape} first {a.ravel()[:4].tolist()}")
        return 0
    os.makedirs(OUT, exist_ok=True)
    for name, dtype, shape in CASES:
        np.save(os.path.join(OUT, name + ".npy"), values(dtype, shape))
    print(f"wrote {len(CASES)} files to {OUT} with numpy {np.__version__}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
