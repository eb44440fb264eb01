/* The malformed-input corpus (tests/corpus/{safetensors,llama2c,npy}, made by
 * tests/corpus/make_corpus.py): every case gives the status its manifest names,
 * and a message that names the file (its path) and contains the manifest's
 * fragment (the field or value at fault). Valid cases in the same corpus must
 * load, so each failure is the mutation's doing. Run under ASan for "no crash". */
#include <string.h>

#include "format/format.h"
#include "testlib.h"

static tl_status status_from_name(const char *s) {
    static const struct {
        const char *name;
        tl_status st;
    } map[] = {{"OK", TL_OK},         {"IO", TL_E_IO},       {"FORMAT", TL_E_FORMAT},
               {"NOMEM", TL_E_NOMEM}, {"ARG", TL_E_ARG},     {"RANGE", TL_E_RANGE},
               {"UNSUPPORTED", TL_E_UNSUPPORTED}};
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
            got = tl_model_load(path, &m);
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

int main(void) {
    int a = run_manifest("safetensors", "", 0);
    int b = run_manifest("llama2c", ".bin", 0);
    int c = run_manifest("npy", ".npy", 1);
    printf("corpus: %d safetensors, %d llama2c, %d npy cases\n", a, b, c);
    CHECK(a >= 40 && b >= 15 && c >= 15, "corpus too small: %d %d %d", a, b, c);
    return tl_test_done();
}
