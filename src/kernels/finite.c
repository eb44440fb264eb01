/* finite.c: the weight scans of finite.h. A value is non-finite when its exponent bits are all
 * ones (f32 0x7f800000, bf16 0x7f80, f16 0x7c00); the per-block test ORs those flags together,
 * which compilers vectorise, and only a block whose flag is set is searched value by value. */
#include <omp.h>
#include <string.h>

#include "finite.h"
#include "quant.h"
#include "simd.h"

enum { BLOCK = 1 << 14 }; /* values per block: 64 KiB of f32 */

/* SWAR over 64-bit words: a lane's exponent field plus one unit carries into the lane's sign bit
 * exactly when the field is all ones, and never into the next lane. */
static int block_bad(const uint8_t *p, int64_t n, uint64_t field, uint64_t unit, uint64_t sign) {
    uint64_t bad = 0;
#pragma omp simd reduction(| : bad)
    for (int64_t i = 0; i < n; i++) {
        uint64_t w;
        memcpy(&w, p + 8 * i, 8); /* the data may be only 2- or 4-byte aligned */
        bad |= ((w & field) + unit) & sign;
    }
    return bad != 0;
}

static int block_hit(uint32_t type, const void *x, int64_t i, int64_t n) {
    size_t esz = type == TL_Q_F32 ? 4 : 2;
    const uint8_t *p = (const uint8_t *)x + (size_t)i * esz;
    int64_t words = (int64_t)((size_t)n * esz / 8);
    uint64_t w8[1] = {0};
    size_t tail = (size_t)n * esz - (size_t)words * 8;
    memcpy(w8, p + (size_t)words * 8, tail); /* zeros are finite */
    uint64_t field, unit, sign;
    if (type == TL_Q_F32) field = 0x7f8000007f800000u, unit = 0x0080000000800000u, sign = 0x8000000080000000u;
    else if (type == TL_Q_F16) field = 0x7c007c007c007c00u, unit = 0x0400040004000400u, sign = 0x8000800080008000u;
    else field = 0x7f807f807f807f80u, unit = 0x0080008000800080u, sign = 0x8000800080008000u;
    return block_bad(p, words, field, unit, sign) || block_bad((const uint8_t *)w8, 1, field, unit, sign);
}

/* first bad index in [b, e), or -1: the block test first, the exact search only on a hit */
static int64_t scan(uint32_t type, const void *x, int64_t b, int64_t e) {
    for (int64_t i = b; i < e; i += BLOCK) {
        int64_t n = e - i < BLOCK ? e - i : BLOCK;
        if (!block_hit(type, x, i, n)) continue;
        for (int64_t j = i; j < i + n; j++) {
            int bad;
            if (type == TL_Q_F32) bad = (((const uint32_t *)x)[j] & 0x7f800000u) == 0x7f800000u;
            else {
                uint16_t m = type == TL_Q_F16 ? 0x7c00 : 0x7f80;
                bad = (uint16_t)(((const uint16_t *)x)[j] & m) == m;
            }
            if (bad) return j;
        }
    }
    return -1;
}

int64_t tl_first_nonfinite(uint32_t type, const void *x, int64_t n) {
    int nt = tl_kernel_threads(n / 8); /* a compare per value: cheaper than a multiply-add */
    if (nt <= 1 || n < 4 * BLOCK) return scan(type, x, 0, n);
    int64_t first = -1;
    int64_t found[256];
    if (nt > 256) nt = 256;
#pragma omp parallel num_threads(nt)
    {
        int parts = omp_get_num_threads(), me = omp_get_thread_num();
        int64_t blocks = (n + BLOCK - 1) / BLOCK;
        int64_t b = blocks * me / parts * BLOCK, e = blocks * (me + 1) / parts * BLOCK;
        if (e > n) e = n;
        found[me] = b < e ? scan(type, x, b, e) : -1;
#pragma omp barrier
#pragma omp single
        for (int i = 0; i < parts && first < 0; i++) first = found[i];
    }
    return first;
}
