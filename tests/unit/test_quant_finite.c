/* Non-finite weights in quantized files are refused at load, naming the tensor, without
 * scanning the reserved f32 buffer (which would fault in the whole f32 model's worth of
 * pages: a 1B-class Q4_K_M file peaked at 4.9 GB RSS that way):
 *   - tl_q_first_bad_scale finds an infinite or NaN f16 scale (d, and dmin / m where the type
 *     has one) in every quantized type, at the right block, and nothing in clean blocks;
 *   - a llama.cpp-quantized file with one block's scale set to +inf fails to load with
 *     TL_E_NUMERIC naming the tensor; the untouched file loads. */
#include <string.h>

#include "testlib.h"
#include "format/format.h"
#include "gguf/gguf.h"
#include "kernels/quant.h"

static void scales(void) {
    const uint32_t types[] = {TL_Q8_0, TL_Q4_0, TL_Q5_0, TL_Q5_1, TL_Q4_K, TL_Q5_K, TL_Q6_K};
    for (size_t k = 0; k < sizeof types / sizeof *types; k++) {
        uint32_t t = types[k];
        size_t bb = tl_q_block_bytes(t);
        int n = tl_q_block_size(t) * 5;
        float x[256 * 5];
        for (int i = 0; i < n; i++) x[i] = (float)((i * 37) % 101 - 50) / 50.0f;
        uint8_t q[210 * 5];
        tl_quantize_row(t == TL_Q5_0 || t == TL_Q5_1 ? TL_Q8_0 : t, x, q, n); /* (no Q5_0/1 writer) */
        if (t == TL_Q5_0 || t == TL_Q5_1) memset(q, 0, sizeof q); /* zero scales are finite */
        CHECK(tl_q_first_bad_scale(t, q, 5) == -1, "type %u: clean blocks flagged", t);
        size_t doff = t == TL_Q6_K ? 208 : 0;
        uint16_t inf = 0x7C00, nan = 0x7E01;
        memcpy(q + 3 * bb + doff, &inf, 2);
        CHECK(tl_q_first_bad_scale(t, q, 5) == 3, "type %u: inf d in block 3 -> %lld", t,
              (long long)tl_q_first_bad_scale(t, q, 5));
        CHECK(tl_q_first_bad_scale(t, q, 3) == -1, "type %u: reads past nb", t);
        if (t == TL_Q5_1 || t == TL_Q4_K || t == TL_Q5_K) { /* the second half: m / dmin */
            memcpy(q + 1 * bb + 2, &nan, 2);
            CHECK(tl_q_first_bad_scale(t, q, 5) == 1, "type %u: NaN dmin in block 1", t);
        }
    }
}

static void file(const char *src) {
    char dst[512];
    snprintf(dst, sizeof dst, "%s/bad.gguf", tl_test_tmpdir());
    char *buf = NULL;
    size_t n = 0;
    CHECK_OK(tl_file_read_all(src, &buf, &n));
    tl_gguf *g = NULL;
    CHECK_OK(tl_gguf_open(src, &g));
    if (!buf || !g) return;
    const tl_gguf_tensor *t = tl_gguf_find_tensor(g, "blk.0.ffn_up.weight");
    CHECK(t != NULL && tl_q_supported(t->type), "%s: blk.0.ffn_up.weight quantized", src);
    if (t && tl_q_supported(t->type)) {
        size_t at = g->data_offset + t->offset + 2 * tl_q_block_bytes(t->type) + (t->type == TL_Q6_K ? 208 : 0);
        uint16_t inf = 0x7C00;
        memcpy(buf + at, &inf, 2);
        CHECK_OK(tl_file_write_atomic(dst, buf, n));
        tl_model *m = NULL;
        tl_status s = tl_model_load(dst, &m, NULL);
        CHECK(s == TL_E_NUMERIC && strstr(tl_last_error(), "blk.0.ffn_up.weight") &&
                  strstr(tl_last_error(), "block 2"),
              "%s with an inf scale: %d %s", src, (int)s, tl_last_error());
        tl_model_free(m);
        CHECK_OK(tl_model_load(src, &m, NULL));
        tl_model_free(m);
    }
    tl_gguf_close(g);
    tl_free(buf);
    remove(dst);
}

int main(void) {
    scales();
    file("tests/golden/quant/llamacpp/tiny-q8_0.gguf");
    file("tests/golden/quant/llamacpp/tiny-q4_k_m.gguf");
    return tl_test_done();
}
