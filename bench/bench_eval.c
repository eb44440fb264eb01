/* bench_eval: multiple-choice evaluation speed on a few-million-parameter model:
 * a random-weight model of the shape dim 256, hidden 688, 6 layers, 8 heads (4 kv),
 * vocab 512 (the stories260K tokenizer tok512.bin), seq 512 — 4.9M parameters —
 * scores the first N items of ARC-Easy (../shared/data) with the prefix cache, then
 * (--no-cache) from scratch. Prints one line per mode:
 *   bench_eval task=arc_easy items=300 params=4.9M workers=2 cache=1 seconds=... items_per_s=... tokens_per_s=...
 *   bench_eval [items [workers]]   (workers 0 = auto) */
#include <stdio.h>
#include <stdlib.h>

#include "format/format.h" /* internal: model, base */
#include "tiller/eval.h"

int main(int argc, char **argv) {
    int items = argc > 1 ? atoi(argv[1]) : 300, workers = argc > 2 ? atoi(argv[2]) : 0;
    const char *shared = getenv("TILLER_SHARED") ? getenv("TILLER_SHARED") : "../shared";
    char tok_path[1024], data[1024];
    snprintf(tok_path, sizeof tok_path, "%s/models/stories260K/tok512.bin", shared);
    snprintf(data, sizeof data, "%s/data", shared);
    tl_config c = {.dim = 256,
                   .hidden_dim = 688,
                   .n_layers = 6,
                   .n_heads = 8,
                   .n_kv_heads = 4,
                   .vocab_size = 512,
                   .seq_len = 512,
                   .tied_embeddings = 1};
    tl_config_defaults(&c);
    tl_model *m = NULL;
    tl_tokenizer *tok = NULL;
    tl_eval_task *t = NULL;
    tl_eval_load_opts lo = {data, NULL, NULL, 0};
    if (tl_model_new(&c, &m) != TL_OK || tl_tokenizer_load(tok_path, &tok) != TL_OK ||
        tl_eval_task_load("arc_easy", &lo, &t) != TL_OK) {
        fprintf(stderr, "bench_eval: %s\n", tl_last_error());
        return 1;
    }
    tl_model_init_random(m, 1);
    for (int cache = 1; cache >= 0; cache--) {
        tl_eval_opts o;
        tl_eval_opts_default(&o);
        o.limit = items;
        o.n_workers = workers;
        o.no_prefix_cache = !cache;
        tl_eval_result r;
        if (tl_eval_run(m, tok, t, &o, &r) != TL_OK) {
            fprintf(stderr, "bench_eval: %s\n", tl_last_error());
            return 1;
        }
        printf("bench_eval task=arc_easy items=%d params=%.1fM workers=%d cache=%d seconds=%.2f items_per_s=%.1f "
               "tokens_per_s=%.0f\n",
               r.n_items, m->n_params / 1e6, tl_eval_workers(m, &o, r.n_items), cache, r.seconds, r.n_items / r.seconds,
               (double)r.tokens_run / r.seconds);
        fflush(stdout);
        tl_eval_result_free(&r);
    }
    tl_eval_task_free(t);
    tl_tokenizer_free(tok);
    tl_model_free(m);
    return 0;
}
