/* cmd_steer.c: `tiller steer build` (a steering vector from positive/negative
 * pairs, written as a llama.cpp control-vector GGUF), `tiller steer show` (read
 * one back), and the --steer options of generate / score / eval. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "steer_cli.h"
#include "tiller.h"

int cli_steer_setup(cli_steer *st, const tl_model *m, tl_hooks *hooks) {
    if (!st->file) return 0;
    if (tl_steer_load(st->file, &st->vec)) return cli_fail();
    st->hook.vec = st->vec;
    st->hook.scale = st->scale;
    st->hook.last_only = st->last_only;
    if (tl_steer_parse_layers(st->layers, tl_steer_vec_n_layers(st->vec), &st->hook.first, &st->hook.last))
        return cli_failf(2, "--steer-layers: %s", tl_last_error());
    if (tl_steer_check(&st->hook, tl_model_config(m), st->file) || tl_steer_attach(&st->hook, hooks)) return cli_fail();
    return 0;
}

void cli_steer_free(cli_steer *st) {
    tl_steer_vec_free(st->vec);
    st->vec = NULL;
}

/* |direction of layer l|, summed in double in index order. */
static double dir_norm(const tl_steer_vec *v, int l) {
    const float *d = tl_steer_vec_direction(v, l);
    double nn = 0;
    for (int j = 0; j < tl_steer_vec_dim(v); j++) nn += (double)d[j] * d[j];
    return sqrt(nn);
}

static int cmd_build(int argc, char **argv) {
    const char *model_path = NULL, *tok_path = NULL, *data = NULL, *out = NULL, *method = "mean_diff", *layers = "all",
               *norm = "std", *token = "last", *dimension = NULL;
    float fit_frac = 0;
    int limit = 0, threads = 0, workers = 0, verbose = 0;
    cli_opt opts[] = {
        {"--model", "-m", OPT_STR, &model_path, "model or checkpoint (.gguf, .bin, .safetensors, HF directory)"},
        {"--tokenizer", NULL, OPT_STR, &tok_path, "tokenizer file; default: the model's"},
        {"--data", NULL, OPT_STR, &data,
         "pairs: statement,label .csv, tiller world's steering/pairs.jsonl, or HH-RLHF chosen/rejected .jsonl"},
        {"--out", "-o", OPT_STR, &out, "output control-vector GGUF"},
        {"--method", NULL, OPT_STR, &method, "mean_diff (the reference) or pca (of the paired differences)"},
        {"--layers", NULL, OPT_STR, &layers, "layers to build: I-J, I or all (1 .. n_layers - 1)"},
        {"--fit-frac", NULL, OPT_FLOAT, &fit_frac,
         "fraction of rows (first, file order) that choose the direction; 0 = the reference: 0.5, or 1 for "
         "truthfulqa_train*.csv"},
        {"--norm", NULL, OPT_STR, &norm,
         "std: unit vector times the std of all rows' projections (the reference); unit: unit length "
         "(llama.cpp's cvector-generator)"},
        {"--token", NULL, OPT_STR, &token, "activation of a text: last token (the reference) or mean"},
        {"--dimension", NULL, OPT_STR, &dimension, "world pairs: keep only this dimension (e.g. toxicity)"},
        {"--limit", NULL, OPT_INT, &limit, "only the first N pairs (0 = all)"},
        {"--workers", NULL, OPT_INT, &workers, "texts run in parallel (0 = the thread count)"},
        {"--threads", "-t", OPT_INT, &threads, "threads (0 = all cores)"},
        {"--verbose", "-v", OPT_FLAG, &verbose, "log details"},
    };
    cli_spec spec = {
        "tiller steer build -m MODEL --data PAIRS -o OUT.gguf [--method mean_diff|pca] [--layers I-J] [options]",
        "Builds a steering vector from positive/negative texts at the residual stream after each chosen block "
        "(resid_post.L, the text's last token) and writes it as a llama.cpp control-vector GGUF "
        "(general.architecture = controlvector, controlvector.model_hint, controlvector.layer_count = "
        "n_layers - 1, one f32 tensor direction.L per layer L = 1 .. n_layers - 1; layers not built are zeros). "
        "llama.cpp adds direction.L to the output of block L, which is tiller's resid_post.L: the same L. "
        "Layer 0 cannot be stored in this format.\n\n"
        "Pairs: a .csv of statement,label (label 1 = positive; the k-th label-1 row pairs with the k-th "
        "label-0 row); tiller world's steering/pairs.jsonl ({prompt, safe, unsafe}: prompt + safe is "
        "positive); HH-RLHF .jsonl ({chosen, rejected}: chosen is positive; texts longer than the context keep "
        "BOS and their last tokens).\n\n"
        "mean_diff (the trust-dynamics reference, generate_steering_vector.py): v = mean of the positive rows "
        "minus mean of the negative rows over the first half of the rows (all rows for truthfulqa_train), "
        "normalised, times the std of all rows' projections onto it. pca: the first principal axis of the "
        "paired differences (uncentred, as cvector-generator), signed to agree with their mean, same norm.",
        opts,
        (int)(sizeof opts / sizeof *opts),
        NULL,
        0,
        NULL};
    int code;
    if (cli_parse(&spec, argc, argv, &code)) return code;
    if (!model_path || !data || !out)
        return cli_failf(2, "steer build: -m MODEL, --data PAIRS and -o OUT are required");
    if (limit < 0 || threads < 0 || workers < 0)
        return cli_failf(2, "steer build: --limit, -t, --workers must be >= 0");
    if (!(fit_frac >= 0 && fit_frac <= 1))
        return cli_failf(2, "steer build: --fit-frac must be in [0, 1] (got %g)", fit_frac);
    tl_steer_build_opts o;
    tl_steer_build_opts_default(&o);
    if (tl_steer_method_parse(method, &o.method)) return cli_failf(2, "--method: %s", tl_last_error());
    if (!strcmp(norm, "std")) o.norm = TL_STEER_NORM_STD;
    else if (!strcmp(norm, "unit")) o.norm = TL_STEER_NORM_UNIT;
    else return cli_failf(2, "--norm: expected std or unit (got '%s')", norm);
    if (strcmp(token, "last") && strcmp(token, "mean")) return cli_failf(2, "--token: expected last or mean");
    o.last_token = !strcmp(token, "last");
    o.layers = layers;
    o.fit_frac = fit_frac;
    o.n_workers = workers;
    cli_log_init(verbose);
    cli_set_threads(threads);

    tl_steer_data *d = NULL;
    tl_model *m = NULL;
    tl_tokenizer *tok_owned = NULL, *tok_file = NULL; /* --tokenizer's, the model file's */
    tl_steer_vec *v = NULL;
    int rc = 0;
    if (tl_steer_data_load(data, dimension, limit, &d) || tl_model_load(model_path, &m, &tok_file) ||
        (tok_path && tl_tokenizer_load(tok_path, &tok_owned))) {
        rc = cli_fail();
        goto done;
    }
    const tl_tokenizer *tok = NULL;
    tl_status pick = tl_model_pick_tokenizer(m, tok_owned, tok_file, &tok);
    if (pick) {
        rc = pick == TL_E_ARG ? cli_failf(2, "%s", tl_last_error()) : cli_fail();
        goto done;
    }
    double t0 = tl_time_sec();
    if (tl_steer_build(m, tok, d, &o, &v) || tl_steer_save(v, out)) {
        rc = cli_fail();
        goto done;
    }
    printf("%s: %s from %d texts (%d pairs) of %s, layers %s, %.2f s\n", out, tl_steer_method_name(o.method), d->n,
           d->n_pairs, data, layers, tl_time_sec() - t0);
    for (int l = 1; l < tl_steer_vec_n_layers(v); l++)
        if (tl_steer_vec_has(v, l)) printf("  direction.%d (resid_post.%d): |v| = %.4f\n", l, l, dir_norm(v, l));
done:
    tl_steer_vec_free(v);
    tl_tokenizer_free(tok_owned);
    tl_tokenizer_free(tok_file);
    tl_model_free(m);
    tl_steer_data_free(d);
    return rc;
}

static int cmd_show(int argc, char **argv) {
    const char *pos[1];
    int n_pos = 0, threads = 0;
    const cli_opt opts[] = {CLI_OPT_THREADS(threads)};
    cli_spec spec = {"tiller steer show FILE.gguf",
                     "Reads a control-vector GGUF (checking architecture, layer_count and every direction tensor) "
                     "and prints its metadata and the norm of each layer's direction.",
                     opts,
                     1,
                     pos,
                     1,
                     &n_pos};
    int code;
    if (cli_parse(&spec, argc, argv, &code)) return code;
    if (n_pos != 1) return cli_failf(2, "steer show: give one FILE.gguf");
    if (threads < 0) return cli_failf(2, "steer show: --threads %d (>= 0)", threads);
    cli_set_threads(threads);
    tl_steer_vec *v = NULL;
    if (tl_steer_load(pos[0], &v)) return cli_fail();
    /* layer_count as stored (= directions 1..layer_count); the model has one more layer (layer 0 is not steered) */
    int L = tl_steer_vec_n_layers(v);
    printf("%s: control vector, model_hint %s, width %d, layer_count %d (directions 1..%d, a %d-layer model)\n", pos[0],
           tl_steer_vec_model_hint(v), tl_steer_vec_dim(v), L - 1, L - 1, L);
    if (tl_steer_vec_info(v)) printf("info: %s\n", tl_steer_vec_info(v));
    for (int l = 1; l < L; l++) printf("direction.%d %.6f\n", l, dir_norm(v, l));
    tl_steer_vec_free(v);
    return 0;
}

int tl_cmd_steer(int argc, char **argv) {
    if (argc >= 2 && !strcmp(argv[1], "build")) return cmd_build(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "show")) return cmd_show(argc - 1, argv + 1);
    FILE *f = argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) ? stdout : stderr;
    fprintf(f, "usage: tiller steer <subcommand> [options]   (tiller steer <subcommand> --help)\n\n"
               "subcommands:\n"
               "  build    a steering vector from positive/negative pairs -> llama.cpp control-vector GGUF\n"
               "  show     read a control-vector GGUF back and print its layers\n\n"
               "Apply one with tiller generate|score|eval --steer FILE --steer-scale A --steer-layers I-J.\n");
    if (f == stdout) return 0;
    if (argc >= 2) fprintf(stderr, "tiller: unknown steer subcommand '%s'\n", argv[1]);
    return 2;
}
