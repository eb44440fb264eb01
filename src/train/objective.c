/*
 * objective.c: training objectives as pluggable pieces. Each turns a batch of token
 * rows (tokens [B, T+1], loss mask, lengths) into inputs [B, T], targets [B, T]
 * (-1 = not counted) and an attention spec. The trainer knows only tl_objective;
 * a new objective is one constructor plus one line in the table at the bottom.
 *
 *   ntp  next-token prediction: every next token of the row is a target;
 *   sft  supervised fine-tuning: only tokens with loss_mask 1 (the completion)
 *        are targets; the prompt is context only.
 */
#include <stdio.h>
#include <string.h>

#include "train.h"

/* inputs[b, t] = row[b, t] (0 past the row); targets[b, t] = row[b, t+1] when that token
 * exists and (use_mask == 0 or its mask is 1), else -1. */
static void shift_rows(const tl_batch *b, int use_mask, int32_t *inputs, int32_t *targets) {
    int T = b->T, T1 = T + 1;
    for (int r = 0; r < b->B; r++) {
        const int32_t *row = b->tokens + (size_t)r * T1;
        const uint8_t *mask = b->loss_mask + (size_t)r * T1;
        int32_t *in = inputs + (size_t)r * T, *tg = targets + (size_t)r * T;
        int len = b->len[r];
        for (int t = 0; t < T; t++) {
            in[t] = t < len ? row[t] : 0;
            tg[t] = (t + 1 < len && (!use_mask || mask[t + 1])) ? row[t + 1] : -1;
        }
    }
}

static tl_status ntp_make(tl_objective *o, const tl_batch *b, tl_rng *rng, int32_t *inputs,
                          int32_t *targets, tl_attn_spec *attn) {
    (void)o;
    (void)rng;
    shift_rows(b, 0, inputs, targets);
    attn->mode = TL_ATTN_CAUSAL;
    attn->key_mask = NULL;
    return TL_OK;
}

static tl_status sft_make(tl_objective *o, const tl_batch *b, tl_rng *rng, int32_t *inputs,
                          int32_t *targets, tl_attn_spec *attn) {
    (void)o;
    (void)rng;
    shift_rows(b, 1, inputs, targets);
    attn->mode = TL_ATTN_CAUSAL;
    attn->key_mask = NULL;
    return TL_OK;
}

/* Objectives without options reject any. */
static tl_status no_options(const char *name, const char *opts) {
    if (opts) return tl_errorf(TL_E_ARG, "objective %s takes no options (got '%s')", name, opts);
    return TL_OK;
}

static tl_status ntp_new(const tl_objective_ctx *ctx, const char *opts, tl_objective *o) {
    (void)ctx;
    if (no_options("ntp", opts)) return TL_E_ARG;
    o->windows = TL_WINDOWS_PACKED;
    o->make = ntp_make;
    return TL_OK;
}

static tl_status sft_new(const tl_objective_ctx *ctx, const char *opts, tl_objective *o) {
    (void)ctx;
    if (no_options("sft", opts)) return TL_E_ARG;
    o->windows = TL_WINDOWS_DOCS;
    o->make = sft_make;
    return TL_OK;
}

/* The registry. A constructor fills make, windows and (optionally) state + free_state;
 * opts is the text after "name:" in the spec, or NULL. */
static const struct {
    const char *name;
    tl_status (*init)(const tl_objective_ctx *ctx, const char *opts, tl_objective *o);
} objectives[] = {
    {"ntp", ntp_new},
    {"sft", sft_new},
};
#define N_OBJECTIVES (int)(sizeof objectives / sizeof *objectives)

int tl_objective_count(void) { return N_OBJECTIVES; }
const char *tl_objective_name(int i) { return i >= 0 && i < N_OBJECTIVES ? objectives[i].name : NULL; }

tl_status tl_objective_new(const char *spec, const tl_objective_ctx *ctx, tl_objective **out) {
    *out = NULL;
    const char *colon = strchr(spec, ':');
    size_t nlen = colon ? (size_t)(colon - spec) : strlen(spec);
    for (int i = 0; i < N_OBJECTIVES; i++) {
        if (strlen(objectives[i].name) != nlen || strncmp(spec, objectives[i].name, nlen) != 0) continue;
        tl_objective *o = tl_calloc(1, sizeof *o);
        if (!o) return tl_errorf(TL_E_NOMEM, "objective %s: out of memory", spec);
        o->name = objectives[i].name;
        tl_status s = objectives[i].init(ctx, colon ? colon + 1 : NULL, o);
        if (s) {
            tl_objective_free(o);
            return s;
        }
        *out = o;
        return TL_OK;
    }
    char list[256] = "";
    for (int i = 0; i < N_OBJECTIVES; i++) {
        size_t n = strlen(list);
        snprintf(list + n, sizeof list - n, "%s%s", i ? ", " : "", objectives[i].name);
    }
    return tl_errorf(TL_E_ARG, "unknown objective '%.*s' (expected one of: %s)", (int)nlen, spec, list);
}

void tl_objective_free(tl_objective *o) {
    if (!o) return;
    if (o->free_state) o->free_state(o);
    tl_free(o);
}
