/* The malformed-input corpus (tests/corpus/{safetensors,llama2c,npy}, made by
 * tests/corpus/make_corpus.py; tests/corpus/gguf, made by tests/unit/test_gguf_corpus.c): every case gives the status its manifest names,
 * and a message that names the file (its path) and contains the manifest's
 * fragment (the field or value at fault). Valid cases in the same corpus must
 * load, so each failure is the mutation's doing. Then valid files are damaged at
 * random (a few hundred rounds each, fixed seed): every result must be a known
 * status naming the file. Run under ASan + UBSan for "no crash". */
#include <string.h>
#include <sys/stat.h>

#include "format/format.h"
#include "testlib.h"

static tl_status status_from_name(const char *s) {
    static const struct {
        const char *name;
        tl_status st;
    } map[] = {{"OK", TL_OK},         {"IO", TL_E_IO},       {"FORMAT", TL_E_FORMAT},
               {"NOMEM", TL_E_NOMEM}, {"ARG", TL_E_ARG},     {"RANGE", TL_E_RANGE},
               {"UNSUPPORTED", TL_E_UNSUPPORTED}, {"NUMERIC", TL_E_NUMERIC}};
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (!strcmp(s, map[i].name)) return map[i].st;
    return TL_E__COUNT;
}

static int run_manifest(const char *folder, const char *ext, int is_npy) {
    char manifest[256];
    snprintf(manifest, sizeof manifest, "tests/corpus/%s/cases.tsv", folder);
    FILE *f = fopen(manifest, "r");
    CHECK(f != NULL, "cannot open %s", manifest);
    if (!f) return 0;
    char line[1024];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '\n') continue;
        line[strcspn(line, "\n")] = 0;
        char *name = strtok(line, "\t"), *status = strtok(NULL, "\t"), *frag = strtok(NULL, "\t");
        if (!name || !status) continue;
        char path[512];
        snprintf(path, sizeof path, "tests/corpus/%s/%s%s", folder, name, ext);
        tl_status want = status_from_name(status), got;
        if (is_npy) {
            tl_npy *a = NULL;
            got = tl_npy_load(path, &a);
            tl_npy_free(a);
        } else {
            tl_model *m = NULL;
            got = tl_model_load(path, &m, NULL);
            tl_model_free(m);
        }
        const char *msg = got == TL_OK ? "" : tl_last_error();
        printf("%-12s %-30s %-12s %s\n", folder, name, tl_status_string(got), msg);
        CHECK(got == want, "%s: expected %s, got %s: %s", path, status, tl_status_string(got), msg);
        if (want != TL_OK) {
            CHECK(strstr(msg, path) != NULL, "%s: message does not name the file: %s", path, msg);
            CHECK(!frag || strstr(msg, frag) != NULL, "%s: message lacks '%s': %s", path, frag, msg);
        }
        n++;
    }
    fclose(f);
    return n;
}

/* Random damage to a valid file: truncation, a flipped byte, or a byte replaced by
 * a JSON / Python-literal character (most bytes of interest are in headers, so
 * positions favour the first 512 bytes). */
static size_t mutate(char *buf, size_t n, tl_rng *r) {
    static const char chars[] = "{}[]\",:0123456789-.eE ntf'()L";
    if (n == 0) return 0;
    int op = (int)tl_rng_below(r, 3);
    size_t span = n < 512 || tl_rng_below(r, 4) == 0 ? n : 512;
    size_t at = (size_t)tl_rng_below(r, span);
    if (op == 0) return at; /* truncate */
    if (op == 1) buf[at] = (char)(buf[at] ^ (1 << tl_rng_below(r, 8)));
    else buf[at] = chars[tl_rng_below(r, sizeof chars - 1)];
    return n;
}

/* Load `rounds` damaged copies of a valid file (`file` inside `src_dir` for
 * safetensors, whose sibling files are copied alongside); every result must be
 * a known status with a message naming the damaged file. ASan watches memory. */
static void fuzz_file(const char *src_dir, const char *file, const char *ext, int kind, int rounds) {
    char src[512], dir[512], dst[600];
    snprintf(src, sizeof src, "%s/%s%s", src_dir, file, ext);
    snprintf(dir, sizeof dir, "%s/fuzz_%s_%s", tl_test_tmpdir(), kind == 2 ? "npy" : kind ? "bin" : "st",
             file);
    mkdir(dir, 0777);
    if (kind == 0) { /* the safetensors pair: copy both, damage one */
        const char *pair[2] = {"model.safetensors", "config.json"};
        for (int i = 0; i < 2; i++) {
            char a[600], b[600], *data = NULL;
            size_t n = 0;
            snprintf(a, sizeof a, "%s/%s", src_dir, pair[i]);
            snprintf(b, sizeof b, "%s/%s", dir, pair[i]);
            CHECK_OK(tl_file_read_all(a, &data, &n));
            if (data) CHECK_OK(tl_file_write_atomic(b, data, n));
            tl_free(data);
        }
    }
    snprintf(dst, sizeof dst, "%s/%s%s", dir, file, ext);
    char *orig = NULL;
    size_t n = 0;
    CHECK_OK(tl_file_read_all(src, &orig, &n));
    if (!orig) return;
    char *buf = malloc(n + 1);
    tl_rng r;
    tl_rng_seed(&r, 42);
    int counts[TL_E__COUNT + 1] = {0}, unnamed = 0;
    for (int k = 0; k < rounds; k++) {
        memcpy(buf, orig, n);
        size_t m = mutate(buf, n, &r);
        if (tl_rng_below(&r, 2)) m = mutate(buf, m, &r);
        CHECK_OK(tl_file_write_atomic(dst, buf, m));
        const char *load = kind == 0 ? dir : dst;
        tl_status st;
        if (kind == 2) {
            tl_npy *a = NULL;
            st = tl_npy_load(load, &a);
            tl_npy_free(a);
        } else {
            tl_model *mdl = NULL;
            st = tl_model_load(load, &mdl, NULL);
            tl_model_free(mdl);
        }
        counts[st >= 0 && st < TL_E__COUNT ? st : TL_E__COUNT]++;
        if (st != TL_OK && !strstr(tl_last_error(), dir)) unnamed++;
    }
    memcpy(buf, orig, n);
    tl_file_write_atomic(dst, buf, n); /* restore, for the next file of the pair */
    printf("fuzz %-40s %d rounds: %d ok, %d format, %d unsupported, %d other\n", src, rounds,
           counts[TL_OK], counts[TL_E_FORMAT], counts[TL_E_UNSUPPORTED],
           rounds - counts[TL_OK] - counts[TL_E_FORMAT] - counts[TL_E_UNSUPPORTED]);
    CHECK(counts[TL_E__COUNT] == 0, "%s: unknown status codes", src);
    CHECK(unnamed == 0, "%s: %d messages do not name the file", src, unnamed);
    free(buf);
    tl_free(orig);
}

int main(void) {
    fuzz_file("tests/corpus/safetensors/ok", "model", ".safetensors", 0, 400);
    fuzz_file("tests/corpus/safetensors/ok", "config", ".json", 0, 400);
    fuzz_file("tests/corpus/llama2c", "ok", ".bin", 1, 300);
    fuzz_file("tests/corpus/llama2c", "ok_v1", ".bin", 1, 300);
    fuzz_file("tests/corpus/npy", "ok", ".npy", 2, 300);
    fuzz_file("tests/corpus/gguf", "ok", ".gguf", 1, 300);
    int a = run_manifest("safetensors", "", 0);
    int b = run_manifest("llama2c", ".bin", 0);
    int c = run_manifest("npy", ".npy", 1);
    int d = run_manifest("gguf", ".gguf", 0); /* generated by tests/unit/test_gguf_corpus.c */
    printf("corpus: %d safetensors, %d llama2c, %d npy, %d gguf cases\n", a, b, c, d);
    CHECK(a >= 40 && b >= 15 && c >= 15 && d >= 25, "corpus too small: %d %d %d %d", a, b, c, d);
    tl_test_rmtree(tl_test_tmpdir());
    return tl_test_done();
}
