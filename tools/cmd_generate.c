/* cmd_generate.c: `tiller generate` (streamed text) and `tiller score`
 * (log-probability of a continuation). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "commands.h"
#include "tiller.h"
#include "steer_cli.h"
#include "tiller/recontrol.h"

/* The model plus the tokenizer to use: --tokenizer FILE, else the one the model file carries. */
typedef struct {
    tl_model *model;
    tl_tokenizer *tok_owned, *tok_file;
    const tl_tokenizer *tok;
} loaded;

static int load_model_and_tokenizer(const char *model_path, const char *tok_path, loaded *out) {
    memset(out, 0, sizeof *out);
    if (!model_path) return cli_failf(2, "-m MODEL is required (see --help)");
    if (tl_model_load_mapped(model_path, &out->model, &out->tok_file) != TL_OK) return cli_fail();
    if (tok_path && tl_tokenizer_load(tok_path, &out->tok_owned) != TL_OK) return cli_fail();
    tl_status st = tl_model_pick_tokenizer(out->model, out->tok_owned, out->tok_file, &out->tok);
    if (st) return st == TL_E_ARG ? cli_failf(2, "%s", tl_last_error()) : cli_fail();
    int nv = tl_tokenizer_n_vocab(out->tok), V = tl_model_config(out->model)->vocab_size;
    if (nv > V) return cli_failf(1, "tokenizer has %d tokens but the model's vocabulary is %d", nv, V);
    /* A llama2.c tokenizer.bin stores exactly the model's tokens (no padding rows, as a
     * Hugging Face embedding may have): fewer means a truncated or foreign file, and
     * every sampled id past its end would decode to nothing. */
    size_t tl_len = tok_path ? strlen(tok_path) : 0;
    if (nv < V && tl_len >= 4 && !strcmp(tok_path + tl_len - 4, ".bin"))
        return cli_failf(1, "%s: the tokenizer has %d tokens but the model's vocabulary is %d (truncated?)", tok_path,
                         nv, V);
    if (nv < V)
        tl_logf(TL_LOG_WARN, "the tokenizer has %d tokens, the model's vocabulary %d: ids past %d print nothing", nv,
                V, nv - 1);
    return 0;
}

static void loaded_free(loaded *l) {
    tl_tokenizer_free(l->tok_owned);
    tl_tokenizer_free(l->tok_file);
    tl_model_free(l->model);
}

static void emit(const tl_tokenizer *tok, int32_t prev, int32_t id) {
    char buf[256];
    size_t n = tl_tokenizer_decode_piece(tok, prev, id, buf, sizeof buf);
    if (n > sizeof buf) n = sizeof buf; /* pieces are short; a longer one is cut */
    /* like llama2.c's safe_printf: a lone unprintable byte (a partial UTF-8 sequence is fine) */
    if (n == 1 && (unsigned char)buf[0] < 32 && buf[0] != '\n' && buf[0] != '\t' && buf[0] != '\r') return;
    fwrite(buf, 1, n, stdout);
}

/* tl_generate's callback: stream each piece; note when the first one came (the prompt's time). */
typedef struct {
    double t0, t_first;
    const tl_tokenizer *echo; /* print the prompt first (NULL: --no-echo or done) */
    const int32_t *ids;
    size_t n_ids;
} gen_out;

/* The prompt is printed once tl_generate has accepted it (it fits the context). */
static void echo_prompt(gen_out *g) {
    if (g->echo)
        for (size_t i = 1; i < g->n_ids; i++) emit(g->echo, g->ids[i - 1], g->ids[i]);
    g->echo = NULL;
}

static int print_piece(void *user, int32_t id, const char *text, size_t len) {
    gen_out *g = user;
    if (!g->t_first) g->t_first = tl_time_sec();
    echo_prompt(g);
    /* like llama2.c's safe_printf: a lone unprintable byte (a partial UTF-8 sequence is fine) */
    if (!(len == 1 && (unsigned char)text[0] < 32 && text[0] != '\n' && text[0] != '\t' && text[0] != '\r'))
        fwrite(text, 1, len, stdout);
    fflush(stdout);
    return 0;
}

int tl_cmd_generate(int argc, char **argv) {
    const char *model_path = NULL, *tok_path = NULL, *prompt = "";
    int n_new = 256, threads = 0, top_k = 0, n_ctx = 0, verbose = 0, no_echo = 0;
    float temp = 0.8f, top_p = 0.9f;
    uint64_t seed = 0;
    cli_steer st = CLI_STEER_INIT;
    const char *rc_path = NULL; /* RE-Control */
    float rc_step = 1.0f;
    int rc_iters = 30;
    cli_opt opts[] = {
        {"--model", "-m", OPT_STR, &model_path, "model file (.gguf, .bin, .safetensors or HF directory)"},
        {"--tokenizer", NULL, OPT_STR, &tok_path, "tokenizer file (.bin, .gguf, tokenizer.json); default: the model's"},
        {"--prompt", "-p", OPT_STR, &prompt, "prompt text (BOS is added)"},
        {"--n-predict", "-n", OPT_INT, &n_new, "number of tokens to generate"},
        {"--temp", NULL, OPT_FLOAT, &temp, "temperature; 0 = greedy"},
        {"--top-k", NULL, OPT_INT, &top_k, "keep the k most likely tokens (0 = off)"},
        {"--top-p", NULL, OPT_FLOAT, &top_p, "nucleus sampling mass (1 = off)"},
        {"--seed", NULL, OPT_U64, &seed, "random seed for sampling"},
        {"--ctx", NULL, OPT_INT, &n_ctx, "context length (0 = the model's)"},
        {"--threads", "-t", OPT_INT, &threads, "threads (0 = all cores)"},
        {"--no-echo", NULL, OPT_FLAG, &no_echo, "do not print the prompt"},
        {"--verbose", "-v", OPT_FLAG, &verbose, "print timing and progress details"},
        CLI_STEER_OPTS(st),
        {"--recontrol", NULL, OPT_STR, &rc_path,
         "RE-Control value network GGUF (tiller recontrol train): gradient ascent on the final normed state"},
        {"--step-size", NULL, OPT_FLOAT, &rc_step, "RE-Control step size"},
        {"--iters", NULL, OPT_INT, &rc_iters, "RE-Control gradient steps per token"},
    };
    cli_spec spec = {"tiller generate -m MODEL [-p PROMPT] [options]",
                     "Generates text after the prompt, streaming it to stdout; stops at an end-of-generation token "
                     "(EOS, EOT, EOM, <|eot_id|>, <|im_end|> ... as llama.cpp; BOS does not stop it). "
                     "Prints tokens/s to stderr with -v.",
                     opts, (int)(sizeof opts / sizeof *opts), NULL, 0, NULL};
    int code;
    if (cli_parse(&spec, argc, argv, &code)) return code;
    if (n_new < 0) return cli_failf(2, "-n must be >= 0 (got %d)", n_new);
    if (threads < 0) return cli_failf(2, "-t must be >= 0 (got %d)", threads);
    cli_log_init(verbose);
    cli_set_threads(threads);

    loaded L;
    double t_start = tl_time_sec(), cpu_start = (double)clock() / CLOCKS_PER_SEC;
    int rc = load_model_and_tokenizer(model_path, tok_path, &L);
    if (rc) {
        loaded_free(&L);
        return rc;
    }
    int32_t *ids = NULL;
    size_t n_ids = 0;
    tl_session *s = NULL;
    tl_sampler *smp = NULL;
    tl_sampler_params sp = {temp, top_k, top_p, seed};
    tl_value_net *rc_net = NULL;
    tl_recontrol_hook rc_hook = {0};
    if (tl_tokenizer_encode(L.tok, prompt, strlen(prompt), TL_TOK_ADD_BOS, &ids, &n_ids) != TL_OK ||
        tl_sampler_new(&sp, tl_model_config(L.model)->vocab_size, &smp) != TL_OK ||
        tl_session_new(L.model, n_ctx, 0, &s) != TL_OK) {
        rc = cli_fail();
        goto done;
    }
    if ((rc = cli_steer_setup(&st, L.model, tl_session_hooks(s)))) goto done;
    if (rc_path && (tl_value_load(rc_path, &rc_net) ||
                    tl_recontrol_hook_init(&rc_hook, rc_net, L.model, rc_step, rc_iters, rc_path) ||
                    tl_recontrol_attach(&rc_hook, tl_session_hooks(s)))) {
        rc = cli_fail();
        goto done;
    }
    gen_out out = {tl_time_sec(), 0, no_echo ? NULL : L.tok, ids, n_ids};
    /* start-up: model, tokenizer and session ready, before the first forward pass (issue 12's target) */
    tl_logf(TL_LOG_INFO, "start-up (model, tokenizer, session): %.3f s wall, %.3f s CPU", out.t0 - t_start,
            (double)clock() / CLOCKS_PER_SEC - cpu_start);
    tl_gen_opts go;
    tl_gen_opts_default(&go);
    go.max_new = n_new;
    go.stop_bos = 0; /* as llama.cpp (and the default): end-of-generation tokens only (EOS, EOT, EOM), not BOS */
    tl_gen_result gr;
    if (tl_generate(s, smp, L.tok, ids, (int)n_ids, &go, print_piece, &out, &gr) != TL_OK) {
        rc = cli_fail();
        goto done;
    }
    echo_prompt(&out); /* when no token was generated */
    printf("\n");
    double t1 = tl_time_sec(), t_first = out.t_first ? out.t_first : t1;
    tl_logf(TL_LOG_INFO, "prompt %zu tokens in %.3f s (%.1f tok/s); generated %d tokens in %.3f s (%.1f tok/s)",
            n_ids, t_first - out.t0, (double)n_ids / (t_first - out.t0 + 1e-12), gr.n_new, t1 - t_first,
            gr.n_new / (t1 - t_first + 1e-12));
    if (rc_net)
        tl_logf(TL_LOG_INFO, "RE-Control: %ld edits, mean value gain %.4f", rc_hook.n_edits,
                rc_hook.n_edits ? rc_hook.sum_gain / rc_hook.n_edits : 0.0);
done:
    tl_free(ids);
    tl_sampler_delete(smp);
    tl_session_free(s);
    tl_recontrol_hook_free(&rc_hook);
    tl_value_free(rc_net);
    cli_steer_free(&st);
    loaded_free(&L);
    return rc;
}

int tl_cmd_score(int argc, char **argv) {
    const char *model_path = NULL, *tok_path = NULL, *prompt = "", *cont = NULL;
    int threads = 0, json = 0;
    cli_steer st = CLI_STEER_INIT;
    cli_opt opts[] = {
        {"--model", "-m", OPT_STR, &model_path, "model file"},
        {"--tokenizer", NULL, OPT_STR, &tok_path, "tokenizer file; default: the model's"},
        {"--prompt", "-p", OPT_STR, &prompt, "context text (BOS is added)"},
        {"--continuation", "-c", OPT_STR, &cont, "the continuation to score"},
        {"--threads", "-t", OPT_INT, &threads, "threads (0 = all cores)"},
        {"--json", NULL, OPT_FLAG, &json, "print one JSON object instead of a table"},
        CLI_STEER_OPTS(st),
    };
    cli_spec spec = {"tiller score -m MODEL -p PROMPT -c CONTINUATION [options]",
                     "Prints log p(continuation | prompt): the total and per token. The continuation's "
                     "tokens are split from the prompt's exactly as lm-evaluation-harness (and tiller "
                     "eval) do: trailing whitespace of the prompt moves to the continuation.",
                     opts, (int)(sizeof opts / sizeof *opts), NULL, 0, NULL};
    int code;
    if (cli_parse(&spec, argc, argv, &code)) return code;
    if (!cont) return cli_failf(2, "-c CONTINUATION is required (see --help)");
    cli_set_threads(threads);
    loaded L;
    int rc = load_model_and_tokenizer(model_path, tok_path, &L);
    if (rc) {
        loaded_free(&L);
        return rc;
    }
    int32_t *ctx_ids = NULL, *cont_ids = NULL;
    int n_ctx = 0, n_cont = 0;
    tl_session *s = NULL;
    double *logp = NULL;
    /* lm-evaluation-harness's split, so `score` and `eval` agree token for token */
    if (tl_eval_encode_pair(L.tok, prompt, cont, &ctx_ids, &n_ctx, &cont_ids, &n_cont) != TL_OK) {
        rc = cli_fail();
        goto done;
    }
    if (n_cont == 0) {
        rc = cli_failf(1, "the continuation adds no tokens");
        goto done;
    }
    logp = malloc(sizeof(double) * (size_t)n_cont);
    if (!logp || tl_session_new(L.model, 0, 0, &s) != TL_OK) {
        rc = logp ? cli_fail() : cli_failf(1, "out of memory");
        goto done;
    }
    if ((rc = cli_steer_setup(&st, L.model, tl_session_hooks(s)))) goto done;
    if (tl_score_tokens(s, ctx_ids, n_ctx, cont_ids, n_cont, logp) != TL_OK) {
        rc = cli_fail();
        goto done;
    }
    double total = 0;
    for (int i = 0; i < n_cont; i++) total += logp[i];
    if (json) {
        printf("{\"logprob\": %.6f, \"n_tokens\": %d, \"tokens\": [", total, n_cont);
        for (int i = 0; i < n_cont; i++) printf("%s{\"id\": %d, \"logprob\": %.6f}", i ? ", " : "", cont_ids[i], logp[i]);
        printf("]}\n");
    } else {
        printf("%-8s %-20s %s\n", "id", "piece", "logprob");
        for (int i = 0; i < n_cont; i++) {
            char piece[64];
            size_t n = tl_tokenizer_decode_piece(L.tok, i ? cont_ids[i - 1] : ctx_ids[n_ctx - 1], cont_ids[i], piece, sizeof piece - 1);
            piece[n] = 0;
            for (size_t j = 0; j < n; j++)
                if (piece[j] == '\n') piece[j] = ' ';
            printf("%-8d %-20s %.6f\n", cont_ids[i], piece, logp[i]);
        }
        printf("total logprob %.6f over %d tokens (mean %.6f)\n", total, n_cont, total / n_cont);
    }
done:
    free(logp);
    tl_free(ctx_ids);
    tl_free(cont_ids);
    tl_session_free(s);
    cli_steer_free(&st);
    loaded_free(&L);
    return rc;
}
