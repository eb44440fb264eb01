/*
 * objective.c: training objectives as pluggable pieces. Each turns a batch of token
 * rows (tokens [B, T+1], loss mask, lengths) into inputs [B, T], targets [B, T]
 * (-1 = not counted) and an attention spec. The trainer knows only tl_objective;
 * a new objective is one constructor plus one line in the table at the bottom.
 *
 *   ntp  next-token prediction: every next token of the row is a target;
 *   sft  supervised fine-tuning: only tokens with loss_mask 1 (the completion)
 *        are targets; the prompt is context only.
 *   bico mask denoising with bidirectional attention and mirrored RoPE (Lv et al.
 *        2023; METHODS.md section 3): with probability p a batch masks a fraction
 *        `mask` of each row's tokens (never the first), hides them as keys, and the
 *        output at i is trained to predict the original token at i+1 when that token
 *        was masked (the LM head's alignment is kept; the masked input holds an
 *        existing token id `ph`, no new vocabulary entry). Otherwise the batch is
 *        NTP with sft's loss mask (the completion only, when the data has prompts).
 *   abi  autoregressive blank infilling (GLM, Du et al. 2022): with probability p a
 *        batch cuts one span out of each row and regenerates it left to right after
 *        the context (Part A, attended bidirectionally); otherwise NTP as in bico.
 *        Positions (option pos):
 *        2d   (default) GLM's two position ids with 2-D RoPE (tl_rope2d_forward):
 *             Part A is the row with the span replaced by ONE placeholder token (the
 *             [MASK], an existing id `ph`; so the span's length is not revealed), at
 *             ids (i, i); Part B is the token before the span (GLM's [S]) and the
 *             first k-1 span tokens, each predicting the next, at ids (s, s + j),
 *             s = the mask's index, j = 0..k-1 the place inside the span. The even
 *             rotary pairs turn by the first id, the odd ones by the second. GLM
 *             numbers Part A's second id 0 and [S]'s 1 (learnt embeddings); with
 *             RoPE we rotate the odd pairs by first + second - (1 in Part B), so
 *             that Part A is rotated exactly as 1-D text (the pre-trained model's
 *             RoPE, which also serves at evaluation) and [S] sits at the mask on
 *             both halves. Mirroring is decided per position id (tl_attn_vis).
 *        gap  1-D positions (before 2-D existed): every token keeps its original
 *             position, the context has a gap of the span's width, and the span is
 *             re-fed at its original positions (keys after the query mirrored).
 * Both take their windows one document per row (the sft cut), so prompt/completion
 * data works; masking covers the prompt too (a reversed fact must predict the name).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format/format.h" /* internal: model, base */
#include "tiller/train.h"

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
    *attn = (tl_attn_spec){.mode = TL_ATTN_CAUSAL};
    return TL_OK;
}

static tl_status sft_make(tl_objective *o, const tl_batch *b, tl_rng *rng, int32_t *inputs,
                          int32_t *targets, tl_attn_spec *attn) {
    (void)o;
    (void)rng;
    shift_rows(b, 1, inputs, targets);
    *attn = (tl_attn_spec){.mode = TL_ATTN_CAUSAL};
    return TL_OK;
}

/* ---- bico and abi ------------------------------------------------------- */

typedef struct {
    double ratio;   /* bico: fraction of a row's tokens masked; abi: mean span fraction */
    double p;       /* probability that a batch uses the objective (else NTP) */
    int mirror;     /* mirrored RoPE for keys after the query (0 = plain RoPE, ablation) */
    int32_t ph;     /* the token id fed at masked positions (bico) / as the [MASK] (abi 2d) */
    int pos2d;      /* abi: 1 = GLM's 2-D positions (pos=2d), 0 = 1-D with a gap (pos=gap) */
    int B, T;
    uint8_t *key_mask; /* [B, T] */
    int *prefix;       /* [B] */
    int *pos;          /* [B, T] */
    int *pos2;         /* [B, T] abi 2d: the second position id */
    int *cand;         /* [T + 1] candidate positions (scratch) */
} mask_state;

static void mask_state_free(tl_objective *o) {
    mask_state *m = o->state;
    if (!m) return;
    tl_free(m->key_mask);
    tl_free(m->prefix);
    tl_free(m->pos);
    tl_free(m->pos2);
    tl_free(m->cand);
    tl_free(m);
    o->state = NULL;
}

/* "key=value,key=value" with keys mask|ratio, p, mirror, ph (and pos=2d|gap for abi);
 * values checked. */
static tl_status parse_mask_opts(const char *name, const char *opts, const tl_objective_ctx *ctx,
                                 mask_state *m) {
    if (!opts) return TL_OK;
    char buf[256];
    if (strlen(opts) >= sizeof buf) return tl_errorf(TL_E_ARG, "objective %s: options too long", name);
    strcpy(buf, opts);
    for (char *save = NULL, *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        if (!eq) return tl_errorf(TL_E_ARG, "objective %s: option '%s' is not key=value", name, kv);
        *eq = 0;
        const char *key = kv, *val = eq + 1;
        if (!strcmp(key, "pos") && !strcmp(name, "abi")) {
            if (strcmp(val, "2d") && strcmp(val, "gap"))
                return tl_errorf(TL_E_ARG, "objective abi: pos=%s must be 2d or gap", val);
            m->pos2d = !strcmp(val, "2d");
            continue;
        }
        char *endp = NULL;
        double x = strtod(val, &endp);
        if (!*val || *endp)
            return tl_errorf(TL_E_ARG, "objective %s: option %s: '%s' is not a number", name, key, val);
        int is_ratio = !strcmp(key, !strcmp(name, "bico") ? "mask" : "ratio");
        if (is_ratio) {
            if (!(x > 0 && x < 1))
                return tl_errorf(TL_E_ARG, "objective %s: %s=%s must be in (0, 1)", name, key, val);
            m->ratio = x;
        } else if (!strcmp(key, "p")) {
            if (!(x >= 0 && x <= 1))
                return tl_errorf(TL_E_ARG, "objective %s: p=%s must be in [0, 1]", name, val);
            m->p = x;
        } else if (!strcmp(key, "mirror")) {
            if (x != 0 && x != 1)
                return tl_errorf(TL_E_ARG, "objective %s: mirror=%s must be 0 or 1", name, val);
            m->mirror = (int)x;
        } else if (!strcmp(key, "ph")) {
            if (!(x >= 0 && x < ctx->vocab_size && x == (int32_t)x))
                return tl_errorf(TL_E_ARG, "objective %s: ph=%s is not a token id below %d", name, val,
                                 ctx->vocab_size);
            m->ph = (int32_t)x;
        } else {
            return tl_errorf(TL_E_ARG, "objective %s: unknown option '%s' (expected %s)", name, key,
                             !strcmp(name, "bico") ? "mask, p, mirror, ph" : "ratio, p, mirror, ph, pos");
        }
    }
    return TL_OK;
}

static tl_status mask_new(const char *name, const tl_objective_ctx *ctx, const char *opts,
                          tl_objective *o) {
    mask_state *m = tl_calloc(1, sizeof *m);
    if (!m) return tl_errorf(TL_E_NOMEM, "objective %s: out of memory", name);
    o->state = m;
    o->free_state = mask_state_free;
    o->windows = TL_WINDOWS_DOCS;
    m->ratio = 0.15;
    m->p = 0.5;
    m->mirror = 1;
    m->ph = 0;
    m->pos2d = 1;
    m->B = ctx->B;
    m->T = ctx->T;
    tl_status s = parse_mask_opts(name, opts, ctx, m);
    if (s) return s;
    size_t BT = (size_t)ctx->B * ctx->T;
    m->key_mask = tl_calloc(BT, 1);
    m->prefix = tl_calloc((size_t)ctx->B, sizeof *m->prefix);
    m->pos = tl_calloc(BT, sizeof *m->pos);
    m->pos2 = tl_calloc(BT, sizeof *m->pos2);
    m->cand = tl_calloc((size_t)ctx->T + 1, sizeof *m->cand);
    if (!m->key_mask || !m->prefix || !m->pos || !m->pos2 || !m->cand)
        return tl_errorf(TL_E_NOMEM, "objective %s: out of memory", name);
    return TL_OK;
}

/* One draw per batch: 1 = use the objective, 0 = NTP (with sft's loss mask). The draw
 * is taken even when p is 0 or 1, so the stream does not depend on p. */
static int use_objective(const mask_state *m, tl_rng *rng) { return tl_rng_double(rng) < m->p; }

static tl_status bico_make(tl_objective *o, const tl_batch *b, tl_rng *rng, int32_t *inputs,
                           int32_t *targets, tl_attn_spec *attn) {
    mask_state *m = o->state;
    int T = b->T, T1 = T + 1;
    if (b->B != m->B || T != m->T) return tl_errorf(TL_E_ARG, "objective bico: batch shape changed");
    if (!use_objective(m, rng)) return sft_make(o, b, rng, inputs, targets, attn);
    shift_rows(b, 0, inputs, targets);
    for (int r = 0; r < b->B; r++) {
        const int32_t *row = b->tokens + (size_t)r * T1;
        int32_t *in = inputs + (size_t)r * T, *tg = targets + (size_t)r * T;
        uint8_t *km = m->key_mask + (size_t)r * T;
        int len = b->len[r], n_in = len < T ? len : T;
        /* padding is never a key (attention now also looks forward) */
        for (int t = 0; t < T; t++) km[t] = t >= n_in, tg[t] = -1;
        /* candidates: positions 1 .. len-1 (position T, past the inputs, is a target only) */
        int nc = 0;
        for (int j = 1; j < len; j++) m->cand[nc++] = j;
        if (!nc) continue;
        int k = (int)(m->ratio * nc + 0.5);
        if (k < 1) k = 1;
        for (int i = 0; i < k; i++) { /* partial Fisher-Yates: k distinct positions */
            int x = i + (int)tl_rng_below(rng, (uint64_t)(nc - i));
            int j = m->cand[x];
            m->cand[x] = m->cand[i];
            m->cand[i] = j;
            tg[j - 1] = row[j];
            if (j < T) {
                in[j] = m->ph;
                km[j] = 1;
            }
        }
    }
    *attn = (tl_attn_spec){.mode = TL_ATTN_BIDIR, .key_mask = m->key_mask, .plain_rope = !m->mirror};
    return TL_OK;
}

/* The span of one row of n tokens: [s, s+k), k uniform in 1..kmax (mean about
 * ratio * (n-1)), s in 1..n-k (the first token, BOS, always stays). */
static void draw_span(const mask_state *m, tl_rng *rng, int n, int *s, int *k) {
    int kmax = (int)(2 * m->ratio * (n - 1) + 0.5);
    if (kmax < 1) kmax = 1;
    if (kmax > n - 2) kmax = n - 2;
    *k = 1 + (int)tl_rng_below(rng, (uint64_t)kmax);
    *s = 1 + (int)tl_rng_below(rng, (uint64_t)(n - *k));
}

/* pos=gap: the row without the span at the original positions (a gap where the span
 * was), then the span: tokens s-1 .. s+k-2 at their positions, each predicting the next.
 * Returns the context length (the bidirectional prefix). */
static int abi_row_gap(const int32_t *row, int n, int s, int k, int32_t *in, int32_t *tg, int *pos) {
    int t = 0;
    for (int i = 0; i < n; i++) {
        if (i >= s && i < s + k) continue;
        in[t] = row[i], pos[t] = i, tg[t] = -1;
        t++;
    }
    int prefix = t;
    for (int i = s - 1; i < s + k - 1; i++) {
        in[t] = row[i], pos[t] = i, tg[t] = row[i + 1];
        t++;
    }
    return prefix;
}

/* pos=2d: Part A = the row with the span replaced by one [MASK] (ph) at ids (i, i);
 * Part B = row[s-1] ([S]) and the span's first k-1 tokens at ids (s, s + j), each
 * predicting the next span token. n + 1 slots. Returns Part A's length. */
static int abi_row_2d(const int32_t *row, int n, int s, int k, int32_t ph, int32_t *in, int32_t *tg, int *pos,
                      int *pos2) {
    int t = 0;
    for (int i = 0; i < n; i++) {
        if (i > s && i < s + k) continue;
        in[t] = i == s ? ph : row[i], pos[t] = pos2[t] = t, tg[t] = -1;
        t++;
    }
    int prefix = t;
    for (int j = 0; j < k; j++) {
        in[t] = row[s - 1 + j], pos[t] = s, pos2[t] = s + j, tg[t] = row[s + j];
        t++;
    }
    return prefix;
}

static tl_status abi_make(tl_objective *o, const tl_batch *b, tl_rng *rng, int32_t *inputs,
                          int32_t *targets, tl_attn_spec *attn) {
    mask_state *m = o->state;
    int T = b->T, T1 = T + 1;
    if (b->B != m->B || T != m->T) return tl_errorf(TL_E_ARG, "objective abi: batch shape changed");
    if (!use_objective(m, rng)) return sft_make(o, b, rng, inputs, targets, attn);
    shift_rows(b, 0, inputs, targets);
    for (int r = 0; r < b->B; r++) {
        const int32_t *row = b->tokens + (size_t)r * T1;
        int32_t *in = inputs + (size_t)r * T, *tg = targets + (size_t)r * T;
        int *pos = m->pos + (size_t)r * T, *pos2 = m->pos2 + (size_t)r * T;
        /* tokens of the row used: 2d needs one slot more (the [MASK] and [S] both stand) */
        int cap = m->pos2d ? T - 1 : T;
        int n = b->len[r] < cap ? b->len[r] : cap;
        for (int t = 0; t < T; t++) pos[t] = pos2[t] = t;
        m->prefix[r] = 0;
        if (n < 3) continue; /* no span to cut: plain next-token prediction */
        int s, k;
        draw_span(m, rng, n, &s, &k);
        int t = m->pos2d ? abi_row_2d(row, n, s, k, m->ph, in, tg, pos, pos2) : abi_row_gap(row, n, s, k, in, tg, pos);
        m->prefix[r] = t;
        t = m->pos2d ? n + 1 : n;
        for (; t < T; t++) in[t] = 0, pos[t] = pos2[t] = t, tg[t] = -1;
    }
    *attn = (tl_attn_spec){.mode = TL_ATTN_BIDIR, .prefix = m->prefix, .pos = m->pos,
                           .pos2 = m->pos2d ? m->pos2 : NULL, .plain_rope = !m->mirror};
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

static tl_status bico_new(const tl_objective_ctx *ctx, const char *opts, tl_objective *o) {
    o->make = bico_make;
    return mask_new("bico", ctx, opts, o);
}

static tl_status abi_new(const tl_objective_ctx *ctx, const char *opts, tl_objective *o) {
    o->make = abi_make;
    return mask_new("abi", ctx, opts, o);
}

/* The registry. A constructor fills make, windows and (optionally) state + free_state;
 * opts is the text after "name:" in the spec, or NULL. */
static const struct {
    const char *name;
    tl_status (*init)(const tl_objective_ctx *ctx, const char *opts, tl_objective *o);
} objectives[] = {
    {"ntp", ntp_new},
    {"sft", sft_new},
    {"bico", bico_new},
    {"abi", abi_new},
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
