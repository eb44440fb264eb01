/* Broken tokenizer files (tests/corpus/tokenizer, made by tests/corpus/make_corpus.py):
 * each case gives the status its manifest names and a message naming the file and
 * containing the fragment (NaN/inf scores, vocabularies over the cap); the valid
 * cases load, so each failure is the mutation's doing. */
#include <string.h>

#include "testlib.h"
#include "tiller/tokenizer.h"

int main(void) {
    FILE *f = fopen("tests/corpus/tokenizer/cases.tsv", "r");
    CHECK(f != NULL, "cannot open tests/corpus/tokenizer/cases.tsv");
    if (!f) return tl_test_done();
    char line[1024];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '\n') continue;
        line[strcspn(line, "\n")] = 0;
        char *name = strtok(line, "\t"), *status = strtok(NULL, "\t"), *frag = strtok(NULL, "\t");
        if (!name || !status) continue;
        char path[512];
        snprintf(path, sizeof path, "tests/corpus/tokenizer/%s", name);
        tl_tokenizer *t = (tl_tokenizer *)1;
        tl_status s = tl_tokenizer_load(path, &t);
        const char *msg = s == TL_OK ? "" : tl_last_error();
        printf("%-28s %-10s %s\n", name, tl_status_string(s), msg);
        if (!strcmp(status, "OK")) {
            CHECK(s == TL_OK && t != NULL, "%s: expected to load: %s", path, msg);
        } else {
            CHECK(s == TL_E_FORMAT && t == NULL, "%s: expected FORMAT, got %s", path, tl_status_string(s));
            CHECK(strstr(msg, path) != NULL, "%s: message does not name the file: %s", path, msg);
            CHECK(frag && strstr(msg, frag) != NULL, "%s: message lacks '%s': %s", path, frag ? frag : "", msg);
        }
        if (s == TL_OK) tl_tokenizer_free(t);
        n++;
    }
    fclose(f);
    CHECK(n >= 8, "only %d tokenizer cases", n);
    return tl_test_done();
}
