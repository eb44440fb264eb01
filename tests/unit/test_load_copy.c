/* Models loaded for inference (tl_model_load_mapped) whose matrices are all float (llama2.c .bin,
 * f32/f16 GGUF) are read whole into anonymous memory (tl_file_map_open_copy: 2 MiB-aligned
 * huge pages from 8 MiB on) instead of being used in the file's mapping; quantized GGUFs stay
 * mapped. Checked on the real stories260K model (../shared) and files written from it:
 *   - the logits of a 16-token forward are bit-identical between the copy, the mapping
 *     (TL_LOAD_MAPPED) and the f32 buffer (tl_model_load);
 *   - the copy is what the matrices point into (and a Q8_0 file is still the mapping);
 *   - tl_file_map_open_copy gives the file's bytes, 2 MiB-aligned for a 9 MiB file;
 *   - truncated and missing files fail with the file's name in the message. */
#include <stdint.h>
#include <string.h>

#include "base/base.h"
#include "format/format.h"
#include "gguf/gguf.h"
#include "model/model.h"
#include "model/qweights.h"
#include "testlib.h"

/* The view the model's matrices live in: the llama2.c loader's tl_file_map, the GGUF's map. */
static const tl_file_map *owner_map(const tl_model *m, int gguf) {
    if (!m->qw || !m->qw->owner) return NULL;
    return gguf ? &((const tl_gguf *)m->qw->owner)->map : (const tl_file_map *)m->qw->owner;
}

/* Is every matrix of m inside the owner's bytes? */
static int views_inside(const tl_model *m, const tl_file_map *fm) {
    int n = m->cfg.n_layers * TL_QW__COUNT, inside = 0;
    for (int i = 0; i < n; i++) {
        const uint8_t *p = m->qw->layers[i].data;
        inside += p >= fm->data && p < fm->data + fm->size;
    }
    return inside == n;
}

/* Loads path in the three ways and compares their logits with ref (the f32 buffer's, if NULL
 * the TL_LOAD_CONVERT load of this file); want_copy: the in-place load is a copy. */
static void compare_loads(const char *path, int gguf, int want_copy, const float *ref, int exact) {
    tl_model *conv = NULL, *mapped = NULL, *inplace = NULL;
    tl_status s1 = gguf ? tl_gguf_model_load_ex(path, TL_LOAD_CONVERT, &conv, NULL)
                        : tl_llama2c_load_ex(path, TL_LOAD_CONVERT, &conv);
    tl_status s2 = gguf ? tl_gguf_model_load_ex(path, TL_LOAD_MAPPED, &mapped, NULL)
                        : tl_llama2c_load_ex(path, TL_LOAD_MAPPED, &mapped);
    CHECK(s1 == TL_OK && s2 == TL_OK, "%s: %s", path, tl_last_error());
    CHECK_OK(tl_model_load_mapped(path, &inplace, NULL));
    if (!conv || !mapped || !inplace) goto done;
    const tl_file_map *fm = owner_map(mapped, gguf), *fc = owner_map(inplace, gguf);
    CHECK(fm && !fm->copy && views_inside(mapped, fm), "%s: TL_LOAD_MAPPED does not use the mapping", path);
    CHECK(fc && fc->copy == want_copy && views_inside(inplace, fc), "%s: in-place load copy = %d, expected %d", path,
          fc ? fc->copy : -1, want_copy);
    int V = conv->cfg.vocab_size;
    float *a = tl_malloc(sizeof(float) * V), *b = tl_malloc(sizeof(float) * V), *c = tl_malloc(sizeof(float) * V);
    CHECK(tl_test_last_logits(conv, a) == 0 && tl_test_last_logits(mapped, b) == 0 && tl_test_last_logits(inplace, c) == 0, "forward: %s", tl_last_error());
    CHECK(memcmp(b, c, sizeof(float) * V) == 0, "%s: logits of the copy differ from the mapping's", path);
    if (exact) CHECK(memcmp(a, c, sizeof(float) * V) == 0, "%s: logits of the copy differ from the f32 buffer's", path);
    if (ref) CHECK(memcmp(ref, c, sizeof(float) * V) == 0, "%s: logits differ from the original .bin's", path);
    tl_free(a);
    tl_free(b);
    tl_free(c);
done:
    tl_model_free(conv);
    tl_model_free(mapped);
    tl_model_free(inplace);
}

/* Copies the first `keep` bytes of src to dst. */
static int truncate_copy(const char *src, const char *dst, size_t keep) {
    char *data;
    size_t n;
    if (tl_file_read_all(src, &data, &n)) return 1;
    FILE *f = fopen(dst, "wb");
    int bad = !f || fwrite(data, 1, keep < n ? keep : n, f) != (keep < n ? keep : n);
    if (f) fclose(f);
    tl_free(data);
    return bad;
}

static void expect_fail(const char *path) {
    tl_model *m = NULL;
    tl_status s = tl_model_load_mapped(path, &m, NULL);
    CHECK(s != TL_OK && m == NULL, "%s: loaded though truncated or missing", path);
    CHECK(strstr(tl_last_error(), path) != NULL, "the message does not name %s: %s", path, tl_last_error());
    tl_model_free(m);
}

int main(void) {
    const char *dir = tl_test_tmpdir();
    const char *bin = tl_test_shared("models/stories260K/stories260K.bin");
    char g32[512], g16[512], q8[512], cut[512], big[512];
    snprintf(g32, sizeof g32, "%s/s260k-f32.gguf", dir);
    snprintf(g16, sizeof g16, "%s/s260k-f16.gguf", dir);
    snprintf(q8, sizeof q8, "%s/s260k-q8_0.gguf", dir);
    snprintf(cut, sizeof cut, "%s/cut", dir);
    snprintf(big, sizeof big, "%s/big.raw", dir);

    /* the real model: .bin in the three ways, then the same weights as f32/f16/Q8_0 GGUFs */
    tl_model *orig = NULL;
    CHECK_OK(tl_model_load(bin, &orig, NULL));
    if (!orig) return tl_test_done();
    float *ref = tl_malloc(sizeof(float) * orig->cfg.vocab_size);
    CHECK(tl_test_last_logits(orig, ref) == 0, "forward: %s", tl_last_error());
    compare_loads(bin, 0, 1, ref, 1);
    CHECK_OK(tl_model_save(orig, NULL, g32));
    compare_loads(g32, 1, 1, ref, 1);
    tl_save_opts o16 = {TL_DTYPE_F16, 0}, oq8 = {TL_DTYPE_Q8_0, 0};
    CHECK_OK(tl_model_save_opts(orig, NULL, g16, &o16));
    compare_loads(g16, 1, 1, NULL, 0); /* f16 widened on the fly vs converted: rounding may differ */
    CHECK_OK(tl_model_save_opts(orig, NULL, q8, &oq8));
    compare_loads(q8, 1, 0, NULL, 0); /* quantized: stays in the mapping */

    /* tl_file_map_open_copy: the file's bytes; from 8 MiB on, on a 2 MiB boundary */
    size_t nbig = (size_t)9 << 20;
    uint8_t *pattern = tl_malloc(nbig);
    for (size_t i = 0; pattern && i < nbig; i++) pattern[i] = (uint8_t)(i * 2654435761u >> 13);
    FILE *f = fopen(big, "wb");
    CHECK(f && pattern && fwrite(pattern, 1, nbig, f) == nbig, "cannot write %s", big);
    if (f) fclose(f);
    tl_file_map fm;
    CHECK_OK(tl_file_map_open_copy(big, &fm));
    CHECK(fm.copy == 1 && fm.size == nbig && fm.data && memcmp(fm.data, pattern, nbig) == 0,
          "the copy differs from the file");
    CHECK(((uintptr_t)fm.data & (((uintptr_t)2 << 20) - 1)) == 0, "a 9 MiB copy is not 2 MiB-aligned");
    tl_file_map_close(&fm);
    CHECK(fm.data == NULL && fm.copy == 0, "close did not reset the view");
    tl_free(pattern);

    /* truncated files: in the header, in the tensor data, one byte short; a missing file */
    char *data;
    size_t n32 = 0, nbin = 0;
    if (!tl_file_read_all(g32, &data, &n32)) tl_free(data);
    if (!tl_file_read_all(bin, &data, &nbin)) tl_free(data);
    const size_t keep_g[] = {20, n32 / 2, n32 - 1}, keep_b[] = {12, nbin / 2, nbin - 1};
    for (int i = 0; i < 3; i++) {
        snprintf(cut, sizeof cut, "%s/cut%d.gguf", dir, i);
        CHECK(truncate_copy(g32, cut, keep_g[i]) == 0, "cannot write %s", cut);
        expect_fail(cut);
        snprintf(cut, sizeof cut, "%s/cut%d.bin", dir, i);
        CHECK(truncate_copy(bin, cut, keep_b[i]) == 0, "cannot write %s", cut);
        expect_fail(cut);
    }
    snprintf(cut, sizeof cut, "%s/missing.gguf", dir);
    expect_fail(cut);
    CHECK(tl_file_map_open_copy(cut, &fm) != TL_OK && strstr(tl_last_error(), cut), "missing file: %s",
          tl_last_error());

    tl_free(ref);
    tl_model_free(orig);
    tl_test_rmtree(dir);
    return tl_test_done();
}
