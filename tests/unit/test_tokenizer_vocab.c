/* llama.cpp's tokenizer test vectors: every case of
 * ../shared/models/tokenizers/ggml-vocab-{llama-spm,phi-3,gpt-2}.gguf.inp (no
 * argument) or of tests/golden/vocab/ggml-vocab-NAME.gguf.inp (argument NAME:
 * one ctest per vocabulary, see tests/golden/vocab/README.md; a vocabulary may be
 * stored gzipped) must
 * encode (no BOS, special tokens not parsed — as llama.cpp's
 * tests/test-tokenizer-0.cpp does) to the ids on the matching .out line.
 * Cases are split on "\n__ggml_vocab_test__\n" exactly as that test splits
 * them, so a case's own trailing newlines are kept. Also the extra cases in
 * tests/golden/tokenizer, with and without special-token parsing. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testlib.h"
#include "format/format.h" /* internal: model, base */
#include "tiller/tokenizer.h"

static char *read_file(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)sz + 1);
    if (fread(buf, 1, (size_t)sz, f) != (size_t)sz) sz = 0;
    buf[sz] = 0;
    fclose(f);
    *n = (size_t)sz;
    return buf;
}

/* Parse one .out line of space-separated ids. */
static int parse_ids(const char *line, size_t len, int32_t *ids, int cap) {
    int n = 0;
    const char *p = line, *end = line + len;
    while (p < end && n < cap) {
        while (p < end && *p == ' ') p++;
        if (p >= end) break;
        ids[n++] = (int32_t)strtol(p, (char **)&p, 10);
    }
    return n;
}

/* Encode every case of inp with the vocabulary `name` and compare with outp. */
/* The vocabulary's GGUF: dir/ggml-vocab-NAME.gguf, or a copy of dir/ggml-vocab-NAME.gguf.gz
 * unpacked (gzip, an essential Debian package) into a temporary file that *tmp names. */
static void vocab_path(const char *dir, const char *name, char *path, size_t cap, char *tmp, size_t tcap) {
    tmp[0] = 0;
    snprintf(path, cap, "%sggml-vocab-%s.gguf", dir, name);
    FILE *f = fopen(path, "rb");
    if (f) {
        fclose(f);
        return;
    }
    const char *td = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(tmp, tcap, "%s/tiller-vocab-XXXXXX.gguf", td);
    int fd = mkstemps(tmp, 5);
    if (fd < 0) {
        tmp[0] = 0;
        return;
    }
    close(fd);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "gzip -dc '%s.gz' > '%s'", path, tmp);
    CHECK(system(cmd) == 0, "cannot unpack %s.gz", path);
    snprintf(path, cap, "%s", tmp);
}

static void run_cases(const char *dir, const char *name, const char *label, const char *inp, const char *outp,
                      int flags) {
    char path[512], tmp[512];
    vocab_path(dir, name, path, sizeof path, tmp, sizeof tmp);
    tl_tokenizer *t = NULL;
    CHECK_OK(tl_tokenizer_load(path, &t));
    if (tmp[0]) remove(tmp);
    size_t ni, no;
    char *in = read_file(inp, &ni), *out = read_file(outp, &no);
    CHECK(in && out, "%s: cannot read the .inp/.out files", name);
    if (!t || !in || !out) {
        free(in);
        free(out);
        tl_tokenizer_free(t);
        return;
    }
    static const char sep[] = "\n__ggml_vocab_test__\n";
    size_t sl = strlen(sep), pos = 0, opos = 0;
    int cases = 0, match = 0;
    while (pos < ni) {
        const char *next = strstr(in + pos, sep);
        size_t clen = next ? (size_t)(next - (in + pos)) : ni - pos;
        const char *eol = memchr(out + opos, '\n', no - opos);
        size_t llen = eol ? (size_t)(eol - (out + opos)) : no - opos;
        int32_t want[1024];
        int nw = parse_ids(out + opos, llen, want, 1024);
        int32_t *ids = NULL;
        size_t n = 0;
        CHECK_OK(tl_tokenizer_encode(t, in + pos, clen, flags, &ids, &n));
        int ok = (int)n == nw && (n == 0 || !memcmp(ids, want, n * sizeof *ids));
        match += ok;
        cases++;
        if (!ok) {
            fprintf(stderr, "%s case %d '%.*s':\n  want:", label, cases, (int)clen, in + pos);
            for (int i = 0; i < nw; i++) fprintf(stderr, " %d", want[i]);
            fprintf(stderr, "\n  got: ");
            for (size_t i = 0; i < n; i++) fprintf(stderr, " %d", ids[i]);
            fprintf(stderr, "\n");
        }
        tl_free(ids);
        opos += llen + (eol ? 1 : 0);
        pos = next ? (size_t)(next - in) + sl : ni;
    }
    printf("%s: %d/%d match\n", label, match, cases);
    CHECK(cases > 0 && match == cases, "%s: %d of %d cases match", label, match, cases);
    free(in);
    free(out);
    tl_tokenizer_free(t);
}

static void run_vocab(const char *name) {
    char dir[300], inp[400], outp[400], label[64];
    snprintf(dir, sizeof dir, "%smodels/tokenizers/", tl_test_shared(""));
    /* llama.cpp's own vectors */
    snprintf(inp, sizeof inp, "%sggml-vocab-%s.gguf.inp", dir, name);
    snprintf(outp, sizeof outp, "%sggml-vocab-%s.gguf.out", dir, name);
    run_cases(dir, name, name, inp, outp, 0);
    /* tests/golden/tokenizer: mixed scripts, odd whitespace, special-token texts
     * and invalid UTF-8, without and with special-token parsing (see README there) */
    snprintf(outp, sizeof outp, "tests/golden/tokenizer/extra-%s.out", name);
    snprintf(label, sizeof label, "%s extra", name);
    run_cases(dir, name, label, "tests/golden/tokenizer/extra.inp", outp, 0);
    snprintf(outp, sizeof outp, "tests/golden/tokenizer/extra-%s.special.out", name);
    snprintf(label, sizeof label, "%s extra (parse special)", name);
    run_cases(dir, name, label, "tests/golden/tokenizer/extra.inp", outp, TL_TOK_PARSE_SPECIAL);
}

/* A vocabulary of tests/golden/vocab: llama.cpp's vectors (or, for gpt-neox, which
 * llama.cpp has none for, the ids llama.cpp produced for the same .inp), and the extra
 * cases of tests/golden/tokenizer when llama.cpp's outputs for them are there. */
static void run_golden_vocab(const char *name) {
    const char *dir = "tests/golden/vocab/";
    char inp[300], outp[300], label[64];
    snprintf(inp, sizeof inp, "%sggml-vocab-%s.gguf.inp", dir, name);
    snprintf(outp, sizeof outp, "%sggml-vocab-%s.gguf.out", dir, name);
    run_cases(dir, name, name, inp, outp, 0);
    snprintf(outp, sizeof outp, "%sextra-%s.out", dir, name);
    FILE *f = fopen(outp, "rb");
    if (!f) return;
    fclose(f);
    snprintf(label, sizeof label, "%s extra", name);
    run_cases(dir, name, label, "tests/golden/tokenizer/extra.inp", outp, 0);
    snprintf(outp, sizeof outp, "%sextra-%s.special.out", dir, name);
    snprintf(label, sizeof label, "%s extra (parse special)", name);
    run_cases(dir, name, label, "tests/golden/tokenizer/extra.inp", outp, TL_TOK_PARSE_SPECIAL);
}

int main(int argc, char **argv) {
    if (argc > 1) {
        run_golden_vocab(argv[1]);
        return tl_test_done();
    }
    run_vocab("llama-spm");
    run_vocab("phi-3");
    run_vocab("gpt-2");
    return tl_test_done();
}
