/* cmd_generate.c: `tiller generate` (streamed text) and `tiller score`
 * (log-probability of a continuation). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "eval/eval.h"
#include "model/model.h"
#include "steer_cli.h"
#include "tokenizer/tokenizer.h"

/* The model plus the tokenizer to use: --tokenizer FILE, else the model's own. */
typedef struct {
    tl_model *model;
    tl_tokenizer *tok_owned;
    const tl_tokenizer *tok;
} loaded;

static int load_model_and_tokenizer(const char *model_path, const char *tok_path, loaded *out) {
    memset(out, 0, sizeof *out);
    if (!model_path) return cli_failf(2, "-m MODEL is required (see --help)");
    if (tl_model_load(model_path, &out->model) != TL_OK) return cli_fail();
    if (tok_path) {
        if (tl_tokenizer_load(tok_path, &out->tok_owned) != TL_OK) return cli_fail();
        out->tok = out->tok_owned;
    } else {
        out->tok = out->model->tok;
    }
    if (!out->tok)
        return cli_failf(2, "%s carries no tokenizer: pass --tokenizer FILE (.bin, .gguf, tokenizer.json)",
                         model_path);
    int nv = tl_tokenizer_n_vocab(out->tok);
    if (nv > out->model->cfg.vocab_size)
        return cli_failf(1, "tokenizer has %d tokens but the model's vocabulary is %d", nv,
                         out->model->cfg.vocab_size);
    return 0;
}

static void loaded_free(loaded *l) {
    tl_tokenizer_free(l->tok_owned);
    tl_model_free(l->model);
}

static void emit(const tl_tokenizer *tok, int32_t prev, int32_t id) {
    char buf[256];
    size_t n = tl_tokenizer_decode_piece(tok, prev, id, buf, sizeof buf);
    /* like llama2.c's safe_printf: a lone unprintable byte (a partial UTF-8 sequence is fine) */
    if (n == 1 && (unsigned char)buf[0] < 32 && buf[0] != '\n' && buf[0] != '\t' && buf[0] != '\r') return;
    fwrite(buf, 1, n, stdout);
}

int tl_cmd_generate(int argc, char **argv) {
    const char *model_path = NULL, *tok_path = NULL, *prompt = "";
    int n_new = 256, threads = 0, top_k = 0, n_ctx = 0, verbose = 0, no_echo = 0;
    float temp = 0.8f, top_p = 0.9f;
    uint64_t seed = 0;
    cli_steer st = CLI_STEER_INIT;
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
    int rc = load_model_and_tokenizer(model_path, tok_path, &L);
    if (rc) {
        loaded_free(&L);
        return rc;
    }
    int32_t *ids = NULL;
    size_t n_ids = 0;
    tl_session *s = NULL;
    tl_sampler smp = {0};
    tl_sampler_params sp = {temp, top_k, top_p, seed};
    if (tl_tokenizer_encode(L.tok, prompt, strlen(prompt), TL_TOK_ADD_BOS, &ids, &n_ids) != TL_OK ||
        tl_sampler_init(&smp, &sp, L.model->cfg.vocab_size) != TL_OK ||
        tl_session_new(L.model, n_ctx, 0, &s) != TL_OK) {
        rc = cli_fail();
        goto done;
    }
    if ((rc = cli_steer_setup(&st, L.model, &s->hooks))) goto done;
    if ((int)n_ids + n_new > s->n_ctx) {
        rc = cli_failf(1, "prompt (%zu tokens) + %d new tokens exceed the context of %d", n_ids, n_new,
                       s->n_ctx);
        goto done;
    }
    if (!no_echo)
        for (size_t i = 1; i < n_ids; i++) emit(L.tok, ids[i - 1], ids[i]);
    fflush(stdout);
    double t0 = tl_time_sec(), t_first = 0;
    const float *logits;
    if (tl_forward(s, ids, (int)n_ids, &logits) != TL_OK) {
        rc = cli_fail();
        goto done;
    }
    t_first = tl_time_sec();
    int32_t prev = ids[n_ids - 1];
    int produced = 0;
    for (; produced < n_new; produced++) {
        int32_t next = tl_sampler_sample(&smp, logits);
        if (tl_tokenizer_is_eog(L.tok, next)) break; /* as llama.cpp: EOS/EOT/EOM, not BOS */
        emit(L.tok, prev, next);
        fflush(stdout);
        prev = next;
        if (produced + 1 < n_new && tl_forward(s, &next, 1, &logits) != TL_OK) {
            rc = cli_fail();
            goto done;
        }
    }
    printf("\n");
    double t1 = tl_time_sec();
    tl_logf(TL_LOG_INFO, "prompt %zu tokens in %.3f s (%.1f tok/s); generated %d tokens in %.3f s (%.1f tok/s)",
            n_ids, t_first - t0, (double)n_ids / (t_first - t0 + 1e-12), produced, t1 - t_first,
            produced / (t1 - t_first + 1e-12));
done:
    tl_free(ids);
    tl_sampler_free(&smp);
    tl_session_free(s);
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
    if ((rc = cli_steer_setup(&st, L.model, &s->hooks))) goto done;
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
