/* selfalign_gen.c: generation, and SELF-ALIGN's stages 1 (topic-guided red-teaming
 * self-instruct) and 2 (principle-driven answers). Every file is written through
 * tl_out_open/commit: a failed stage leaves no half-written output. */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "model/model.h" /* internal */
#include "format/format.h" /* internal: model, base */
#include "tiller/generate.h"
#include "tiller/selfalign.h"

tl_status tl_sa_model_load(const char *model_path, const char *tokenizer_path, tl_sa_model *out) {
    memset(out, 0, sizeof *out);
    if (!model_path) return tl_errorf(TL_E_ARG, "selfalign: no model file");
    /* the tokenizer owned is tokenizer_path's when given, else the one the model file carries */
    tl_status s = tl_model_load(model_path, &out->m, tokenizer_path ? NULL : &out->tok_owned);
    if (s) return s;
    if (tokenizer_path) s = tl_tokenizer_load(tokenizer_path, &out->tok_owned);
    if (!s) s = tl_model_pick_tokenizer(out->m, out->tok_owned, NULL, &out->tok); /* none, or too many tokens */
    if (s) tl_sa_model_free(out);
    return s;
}

void tl_sa_model_free(tl_sa_model *sm) {
    tl_tokenizer_free(sm->tok_owned);
    tl_model_free(sm->m);
    memset(sm, 0, sizeof *sm);
}

tl_status tl_sa_generate(tl_session *s, const tl_tokenizer *tok, tl_sampler *smp, const char *prompt, int max_new,
                         const char *const *stops, int n_stops, char **out, int *fits) {
    *out = NULL;
    *fits = 1;
    int32_t *ids = NULL;
    size_t n = 0;
    tl_status st = tl_tokenizer_encode(tok, prompt, strlen(prompt), TL_TOK_ADD_BOS, &ids, &n);
    if (st) return st;
    /* a long prompt gets what room the context has left; none at all: not generated */
    if ((int64_t)n + max_new > s->n_ctx) max_new = s->n_ctx - (int)n;
    if (n == 0 || max_new < 1) {
        tl_free(ids);
        *fits = 0;
        *out = tl_calloc(1, 1);
        return *out ? TL_OK : tl_errorf(TL_E_NOMEM, "selfalign: out of memory");
    }
    tl_session_reset(s);
    const float *logits;
    st = tl_forward(s, ids, (int)n, &logits);
    tl_strbuf b = {0};
    tl_strbuf_puts(&b, "");
    int32_t prev = ids[n - 1], bos = tl_tokenizer_bos(tok), eos = tl_tokenizer_eos(tok);
    for (int k = 0; k < max_new && !st; k++) {
        int32_t next = tl_sampler_sample(smp, logits);
        if (next == eos || next == bos) break;
        char piece[256];
        size_t pn = tl_tokenizer_decode_piece(tok, prev, next, piece, sizeof piece);
        if (pn > sizeof piece) pn = sizeof piece;
        size_t before = b.len;
        tl_strbuf_append(&b, piece, pn);
        if (b.failed) break;
        int stop = 0;
        for (int i = 0; i < n_stops && !stop; i++) {
            size_t sl = strlen(stops[i]);
            size_t from = before >= sl ? before - sl + 1 : 0;
            char *hit = strstr(b.s + from, stops[i]);
            if (hit) {
                b.len = (size_t)(hit - b.s);
                b.s[b.len] = 0;
                stop = 1;
            }
        }
        if (stop) break;
        prev = next;
        if (k + 1 < max_new) st = tl_forward(s, &next, 1, &logits);
    }
    tl_free(ids);
    if (!st) st = tl_strbuf_status(&b);
    if (st) {
        tl_strbuf_free(&b);
        return st;
    }
    *out = b.s;
    return TL_OK;
}

/* ---- helpers --------------------------------------------------------------------- */

static char *dup_trim(const char *s) {
    while (*s && isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) n--;
    char *d = tl_malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = 0;
    }
    return d;
}

static void json_line(tl_strbuf *b, const char *const *kv, int n) {
    cJSON *o = cJSON_CreateObject();
    for (int i = 0; o && i < n; i++)
        if (kv[2 * i + 1]) cJSON_AddStringToObject(o, kv[2 * i], kv[2 * i + 1]);
    char *t = o ? cJSON_PrintUnformatted(o) : NULL;
    if (!t) {
        b->failed = 1;
    } else {
        tl_strbuf_puts(b, t);
        tl_strbuf_puts(b, "\n");
    }
    cJSON_free(t);
    cJSON_Delete(o);
}

static tl_status write_file(const char *path, const tl_strbuf *b) {
    tl_status s = tl_strbuf_status(b);
    if (s) return s;
    tl_out_file f;
    if ((s = tl_out_open(&f, path))) return s;
    if (b->len) s = tl_out_write(&f, b->s, b->len);
    if (!s) s = tl_out_commit(&f);
    tl_out_abort(&f);
    return s;
}

/* The dedup pool: every instruction kept so far (seeds included), tokenised once. */
typedef struct {
    tl_sa_toks *t;
    int n, cap;
} pool;

static tl_status pool_add(pool *p, const char *s) {
    if (p->n == p->cap) {
        p->cap = p->cap ? 2 * p->cap : 256;
        tl_sa_toks *nt = tl_realloc(p->t, sizeof *nt * (size_t)p->cap);
        if (!nt) return tl_errorf(TL_E_NOMEM, "selfalign: out of memory");
        p->t = nt;
    }
    tl_status st = tl_sa_tokenize(s, &p->t[p->n]);
    if (!st) p->n++;
    return st;
}

static double pool_max(const pool *p, const char *s) {
    tl_sa_toks t;
    if (tl_sa_tokenize(s, &t)) return 1.0;
    double m = 0;
    for (int i = 0; i < p->n; i++) {
        double r = tl_sa_rouge_l_toks(&t, &p->t[i]);
        if (r > m) m = r;
    }
    tl_sa_toks_free(&t);
    return m;
}

static void pool_free(pool *p) {
    for (int i = 0; i < p->n; i++) tl_sa_toks_free(&p->t[i]);
    tl_free(p->t);
}

/* ---- stage 1 ---------------------------------------------------------------------- */

void tl_sa_instruct_opts_default(tl_sa_instruct_opts *o) {
    memset(o, 0, sizeof *o);
    o->header = "";
    o->n_general = 100, o->n_topics = 4, o->per_topic = 3, o->shots = 3, o->max_tries = 4;
    o->rouge_max = 0.7;
    o->min_words = 3, o->max_words = 150;
    o->temperature = 1.0f, o->top_p = 0.95f;
    o->max_new = 48;
    o->seed = 1;
}

typedef struct {
    char *name;
    char **ex_topic, **ex_instr;
    int n_ex;
    char **topics;
    int n_topics;
} rt_type;

static void rt_free(rt_type *t, int n) {
    for (int i = 0; i < n; i++) {
        tl_free(t[i].name);
        tl_sa_strings_free(t[i].ex_topic, t[i].n_ex);
        tl_sa_strings_free(t[i].ex_instr, t[i].n_ex);
        tl_sa_strings_free(t[i].topics, t[i].n_topics);
    }
    tl_free(t);
}

static tl_status rt_load(const char *path, rt_type **out, int *n_out) {
    *out = NULL, *n_out = 0;
    char *text = NULL;
    size_t len = 0;
    tl_status s = tl_file_read_all(path, &text, &len);
    if (s) return s;
    rt_type *t = NULL;
    int n = 0, line = 0;
    for (size_t i = 0; i < len && !s;) {
        size_t j = i;
        while (j < len && text[j] != '\n') j++;
        line++;
        cJSON *o = NULL;
        size_t a = i;
        while (a < j && isspace((unsigned char)text[a])) a++;
        i = j + 1;
        if (a == j) continue;
        o = cJSON_ParseWithLength(text + a, j - a);
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "type"));
        const cJSON *ex = cJSON_GetObjectItemCaseSensitive(o, "examples");
        const cJSON *tp = cJSON_GetObjectItemCaseSensitive(o, "topics");
        int nex = cJSON_GetArraySize(ex), ntp = cJSON_GetArraySize(tp);
        if (!cJSON_IsObject(o) || !name || !cJSON_IsArray(ex) || nex == 0 || (tp && !cJSON_IsArray(tp))) {
            s = tl_errorf(TL_E_FORMAT, "%s:%d: expected {\"type\", \"examples\": [{\"topic\", \"instruction\"}, ...], "
                                       "\"topics\": [...]}",
                          path, line);
            cJSON_Delete(o);
            break;
        }
        rt_type *nt = tl_realloc(t, sizeof *nt * (size_t)(n + 1));
        if (!nt) {
            s = tl_errorf(TL_E_NOMEM, "%s: out of memory", path);
            cJSON_Delete(o);
            break;
        }
        t = nt;
        rt_type *r = &t[n++];
        memset(r, 0, sizeof *r);
        r->name = dup_trim(name);
        r->ex_topic = tl_calloc((size_t)nex, sizeof(char *));
        r->ex_instr = tl_calloc((size_t)nex, sizeof(char *));
        r->topics = tl_calloc((size_t)ntp + 1, sizeof(char *));
        if (!r->name || !r->ex_topic || !r->ex_instr || !r->topics) s = tl_errorf(TL_E_NOMEM, "%s: out of memory", path);
        for (int k = 0; k < nex && !s; k++) {
            const cJSON *e = cJSON_GetArrayItem(ex, k);
            const char *et = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "topic"));
            const char *ei = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "instruction"));
            if (!et || !ei) {
                s = tl_errorf(TL_E_FORMAT, "%s:%d: example %d needs string \"topic\" and \"instruction\"", path, line,
                              k + 1);
                break;
            }
            r->ex_topic[k] = dup_trim(et), r->ex_instr[k] = dup_trim(ei);
            r->n_ex++;
        }
        for (int k = 0; k < ntp && !s; k++) {
            const char *v = cJSON_GetStringValue(cJSON_GetArrayItem(tp, k));
            if (!v) s = tl_errorf(TL_E_FORMAT, "%s:%d: topic %d is not a string", path, line, k + 1);
            else r->topics[r->n_topics++] = dup_trim(v);
        }
        cJSON_Delete(o);
    }
    tl_free(text);
    if (s) {
        rt_free(t, n);
        return s;
    }
    *out = t, *n_out = n;
    return TL_OK;
}

static void progress(tl_sa_progress_fn fn, void *user, const char *what, int done, int total) {
    if (fn) fn(user, what, done, total);
}

/* Filter and dedup one candidate instruction; on keep, add it to the pool. */
static tl_sa_reason consider(const tl_sa_instruct_opts *o, pool *p, const pool *excl, const char *c, tl_status *st) {
    tl_sa_reason r = tl_sa_instruction_filter(c, o->min_words, o->max_words);
    if (r == TL_SA_KEEP && excl->n && pool_max(excl, c) >= o->rouge_max) r = TL_SA_HELD_OUT;
    if (r == TL_SA_KEEP && o->questions_only && c[strlen(c) - 1] != '?') r = TL_SA_FORMAT;
    if (r == TL_SA_KEEP && pool_max(p, c) >= o->rouge_max) r = TL_SA_SIMILAR;
    if (r == TL_SA_KEEP) *st = pool_add(p, c);
    return r;
}

static int contains_ci(const char *h, const char *n) {
    size_t ln = strlen(n);
    for (; *h; h++)
        if (!strncasecmp(h, n, ln)) return 1;
    return ln == 0;
}

static int has_topic(char **topics, int n, const char *t) {
    for (int i = 0; i < n; i++)
        if (!strcasecmp(topics[i], t)) return 1;
    return 0;
}

/* One proposed instruction (stages of self-instruct and red-teaming alike): generate a line
 * after `prompt`, trim it, filter it (consider) and count the verdict in stats. *kept is the
 * trimmed text when it passes, owned by the caller, else NULL. */
static tl_status propose(const tl_sa_instruct_opts *o, tl_session *sess, const tl_tokenizer *tok, tl_sampler *smp,
                         pool *pl, const pool *ex, const char *prompt, tl_sa_instruct_stats *stats, char **kept) {
    static const char *const nl[1] = {"\n"};
    *kept = NULL;
    char *gen = NULL;
    int fits;
    stats->tries++;
    tl_status s = tl_sa_generate(sess, tok, smp, prompt, o->max_new, nl, 1, &gen, &fits);
    if (s) return s;
    char *c = dup_trim(gen);
    tl_free(gen);
    if (!c) return tl_errorf(TL_E_NOMEM, "selfalign: out of memory");
    tl_sa_reason r = fits ? consider(o, pl, ex, c, &s) : TL_SA_LONG;
    stats->rejected[r]++;
    if (r == TL_SA_KEEP && !s)
        *kept = c;
    else
        tl_free(c);
    return s;
}

tl_status tl_sa_instruct(const tl_sa_instruct_opts *o, tl_sa_instruct_stats *stats) {
    memset(stats, 0, sizeof *stats);
    if (!o->seeds_path || !o->out_path) return tl_errorf(TL_E_ARG, "selfalign instruct: seeds and output are required");
    if (o->shots < 1 || o->n_general < 0 || o->max_new < 1 || !(o->rouge_max > 0 && o->rouge_max <= 1))
        return tl_errorf(TL_E_ARG, "selfalign instruct: shots >= 1, general >= 0, max-new >= 1, 0 < rouge <= 1");
    char **seeds = NULL, **kept = NULL;
    int n_seeds = 0, n_kept = 0;
    rt_type *types = NULL;
    int n_types = 0;
    tl_sa_model sm = {0};
    tl_session *sess = NULL;
    tl_sampler smp = {0};
    pool pl = {0};
    tl_strbuf out = {0}, prompt = {0};
    tl_status s = tl_sa_read_field(o->seeds_path, "instruction", &seeds, &n_seeds);
    if (!s && n_seeds == 0) s = tl_errorf(TL_E_FORMAT, "%s: no seed instruction", o->seeds_path);
    if (!s && o->redteam_path) s = rt_load(o->redteam_path, &types, &n_types);
    if (!s) s = tl_sa_model_load(o->model_path, o->tokenizer_path, &sm);
    tl_sampler_params sp = {o->temperature, 0, o->top_p, o->seed};
    if (!s) s = tl_sampler_init(&smp, &sp, sm.m->cfg.vocab_size);
    if (!s) s = tl_session_new(sm.m, 0, 0, &sess);
    pool ex = {0};
    if (!s && o->exclude_path) {
        char **held = NULL;
        int n_held = 0;
        s = tl_sa_read_field(o->exclude_path, "instruction", &held, &n_held);
        for (int i = 0; i < n_held && !s; i++) s = pool_add(&ex, held[i]);
        tl_sa_strings_free(held, n_held);
    }
    for (int i = 0; i < n_seeds && !s; i++) s = pool_add(&pl, seeds[i]);
    for (int t = 0; t < n_types && !s; t++)
        for (int k = 0; k < types[t].n_ex && !s; k++) s = pool_add(&pl, types[t].ex_instr[k]);
    for (int i = 0; i < n_seeds && !s && o->include_seeds; i++) {
        const char *kv[4] = {"instruction", seeds[i], "source", "seed"};
        json_line(&out, kv, 2);
    }
    kept = s ? NULL : tl_calloc((size_t)o->n_general + 1, sizeof(char *));
    if (!s && !kept) s = tl_errorf(TL_E_NOMEM, "selfalign: out of memory");
    tl_rng rng;
    tl_rng_seed(&rng, o->seed ^ 0x5e1fa11c);
    /* general instructions: few-shot from seeds and kept instructions */
    int budget = o->max_tries * (o->n_general > 0 ? o->n_general : 1);
    while (!s && n_kept < o->n_general && stats->tries < budget) {
        prompt.len = 0;
        if (o->header[0]) tl_strbuf_printf(&prompt, "%s\n", o->header);
        for (int k = 0; k < o->shots; k++) {
            /* two thirds of the shots from the seeds, the rest from new ones (self-instruct's 6 + 2) */
            int from_kept = n_kept > 0 && tl_rng_below(&rng, 3) == 0;
            const char *e = from_kept ? kept[tl_rng_below(&rng, (uint64_t)n_kept)]
                                      : seeds[tl_rng_below(&rng, (uint64_t)n_seeds)];
            tl_strbuf_printf(&prompt, TL_SA_USER "%s\n", e);
        }
        tl_strbuf_puts(&prompt, "User:");
        if ((s = tl_strbuf_status(&prompt))) break;
        char *c = NULL;
        if ((s = propose(o, sess, sm.tok, &smp, &pl, &ex, prompt.s, stats, &c)) || !c) continue;
        const char *kv[4] = {"instruction", c, "source", "general"};
        json_line(&out, kv, 2);
        kept[n_kept++] = c;
        stats->kept_general++;
        progress(o->progress, o->user, "general", n_kept, o->n_general);
    }
    /* red-teaming: new topics per type, then instructions per (type, topic) */
    for (int t = 0; t < n_types && !s; t++) {
        rt_type *ty = &types[t];
        char **topics = tl_calloc((size_t)ty->n_topics + (size_t)o->n_topics + (size_t)ty->n_ex + 1, sizeof(char *));
        int n_all = 0, n_new = 0;
        if (!topics) {
            s = tl_errorf(TL_E_NOMEM, "selfalign: out of memory");
            break;
        }
        for (int k = 0; k < ty->n_topics; k++) topics[n_all++] = ty->topics[k];
        for (int k = 0; k < ty->n_ex; k++)
            if (!has_topic(topics, n_all, ty->ex_topic[k])) topics[n_all++] = ty->ex_topic[k];
        int first_new = n_all;
        static const char *const topic_stops[3] = {",", ".", "\n"};
        for (int tries = 0; n_new < o->n_topics && tries < 4 * o->n_topics && !s; tries++) {
            prompt.len = 0;
            tl_strbuf_puts(&prompt, "Topics:");
            for (int k = 0; k < o->shots; k++)
                tl_strbuf_printf(&prompt, " %s,", topics[tl_rng_below(&rng, (uint64_t)(first_new))]);
            if ((s = tl_strbuf_status(&prompt))) break;
            char *gen = NULL, *c = NULL;
            int fits;
            if ((s = tl_sa_generate(sess, sm.tok, &smp, prompt.s, 12, topic_stops, 3, &gen, &fits))) break;
            c = dup_trim(gen);
            tl_free(gen);
            int w = c ? tl_sa_count_words(c) : 0;
            if (c && fits && w >= 1 && w <= 6 && !strchr(c, ':') && !has_topic(topics, n_all, c)) {
                topics[n_all++] = c;
                n_new++;
                stats->n_topics++;
            } else {
                tl_free(c);
            }
        }
        /* with no new topic, the type's own topics guide the instructions */
        int t0 = n_new ? first_new : 0;
        for (int tp = t0; tp < n_all && !s; tp++) {
            for (int k = 0; k < o->per_topic && !s; k++) {
                prompt.len = 0;
                if (o->header[0]) tl_strbuf_printf(&prompt, "%s\n", o->header);
                for (int e = 0; e < o->shots; e++) {
                    int x = (int)tl_rng_below(&rng, (uint64_t)ty->n_ex);
                    tl_strbuf_printf(&prompt, "Topic: %s\n" TL_SA_USER "%s\n", ty->ex_topic[x], ty->ex_instr[x]);
                }
                tl_strbuf_printf(&prompt, "Topic: %s\nUser:", topics[tp]);
                if ((s = tl_strbuf_status(&prompt))) break;
                char *c = NULL;
                if ((s = propose(o, sess, sm.tok, &smp, &pl, &ex, prompt.s, stats, &c))) break;
                if (c) {
                    char src[160];
                    snprintf(src, sizeof src, "redteam:%s", ty->name);
                    const char *kv[6] = {"instruction", c, "source", src, "topic", topics[tp]};
                    json_line(&out, kv, 3);
                    stats->kept_redteam++;
                    stats->topic_in_instruction += contains_ci(c, topics[tp]);
                }
                tl_free(c);
            }
            progress(o->progress, o->user, ty->name, tp - t0 + 1, n_all - t0);
        }
        for (int k = first_new; k < n_all; k++) tl_free(topics[k]);
        tl_free(topics);
    }
    stats->rejected[TL_SA_KEEP] = 0;
    if (!s) s = write_file(o->out_path, &out);
    if (!s && o->stats_path) {
        tl_strbuf js = {0};
        tl_strbuf_printf(&js,
                         "{\"kept_general\": %d, \"kept_redteam\": %d, \"new_topics\": %d, \"tries\": %d, "
                         "\"redteam_naming_topic\": %d, \"rouge_max\": %g, \"rejected\": {",
                         stats->kept_general, stats->kept_redteam, stats->n_topics, stats->tries,
                         stats->topic_in_instruction, o->rouge_max);
        for (int r = 1; r < TL_SA__REASONS; r++)
            tl_strbuf_printf(&js, "%s\"%s\": %d", r > 1 ? ", " : "", tl_sa_reason_names[r], stats->rejected[r]);
        tl_strbuf_puts(&js, "}}\n");
        s = write_file(o->stats_path, &js);
        tl_strbuf_free(&js);
    }
    tl_sa_strings_free(kept, n_kept);
    tl_sa_strings_free(seeds, n_seeds);
    rt_free(types, n_types);
    pool_free(&pl);
    pool_free(&ex);
    tl_strbuf_free(&out);
    tl_strbuf_free(&prompt);
    tl_sampler_free(&smp);
    tl_session_free(sess);
    tl_sa_model_free(&sm);
    return s;
}

/* ---- stage 2 ---------------------------------------------------------------------- */

void tl_sa_respond_opts_default(tl_sa_respond_opts *o) {
    memset(o, 0, sizeof *o);
    o->n_exemplars = -1;
    o->min_words = 1, o->max_words = 400;
    o->temperature = 0.7f, o->top_p = 1.0f; /* the reference's sampling temperature */
    o->max_new = 160;
    o->seed = 1;
}

tl_status tl_sa_respond(const tl_sa_respond_opts *o, tl_sa_respond_stats *stats) {
    memset(stats, 0, sizeof *stats);
    if (!o->principles_path || !o->in_path || !o->out_path)
        return tl_errorf(TL_E_ARG, "selfalign respond: principles, input and output are required");
    tl_sa_prompt_set ps = {0};
    char **instr = NULL;
    int n = 0;
    tl_sa_model sm = {0};
    tl_session *sess = NULL;
    tl_sampler smp = {0};
    tl_strbuf out = {0}, prompt = {0};
    tl_status s = tl_sa_principles_load(o->principles_path, &ps);
    if (!s && o->exemplars_path) s = tl_sa_exemplars_load(o->exemplars_path, &ps);
    if (!s) s = tl_sa_read_field(o->in_path, "instruction", &instr, &n);
    if (!s) s = tl_sa_model_load(o->model_path, o->tokenizer_path, &sm);
    if (!s) s = tl_session_new(sm.m, 0, 0, &sess);
    static const char *const stops[3] = {"\n" TL_SA_USER, "\n\n", "\nRules:"};
    char **kept_answers = s ? NULL : tl_calloc((size_t)n + 1, sizeof(char *));
    int n_kept = 0;
    if (!s && !kept_answers) s = tl_errorf(TL_E_NOMEM, "selfalign: out of memory");
    stats->n_in = n;
    for (int i = 0; i < n && !s; i++) {
        tl_sampler_params sp = {o->temperature, 0, o->top_p, o->seed + (uint64_t)i};
        tl_sampler_free(&smp);
        if ((s = tl_sampler_init(&smp, &sp, sm.m->cfg.vocab_size))) break;
        prompt.len = 0;
        tl_sa_teacher_prompt(&prompt, &ps, o->n_exemplars, instr[i], !o->no_thought);
        if ((s = tl_strbuf_status(&prompt))) break;
        char *gen = NULL, *thought = NULL, *answer = NULL;
        int fits;
        if ((s = tl_sa_generate(sess, sm.tok, &smp, prompt.s, o->max_new, stops, 3, &gen, &fits))) break;
        tl_sa_reason r = TL_SA_KEEP;
        if (!fits) {
            stats->too_long_prompt++;
            r = TL_SA_LONG;
        } else if (o->no_thought) {
            answer = tl_sa_cut_answer(gen);
            if (answer && !*answer) r = TL_SA_EMPTY;
        } else if (!tl_sa_split_response(gen, &thought, &answer)) {
            r = TL_SA_NO_ANSWER;
        }
        tl_free(gen);
        if (r == TL_SA_KEEP && !answer) s = tl_errorf(TL_E_NOMEM, "selfalign: out of memory");
        if (r == TL_SA_KEEP && !s) r = tl_sa_answer_filter(answer, o->min_words, o->max_words);
        /* duplicates: an exemplar's answer copied, or the same answer to the same instruction */
        for (int k = 0; r == TL_SA_KEEP && k < ps.n_exemplars; k++)
            if (!strcmp(answer, ps.exemplars[k].answer)) r = TL_SA_DUPLICATE;
        for (int k = 0; r == TL_SA_KEEP && k < i; k++)
            if (kept_answers[k] && !strcmp(kept_answers[k], answer) && !strcmp(instr[k], instr[i])) r = TL_SA_DUPLICATE;
        stats->rejected[r]++;
        if (r == TL_SA_KEEP && !s) {
            const char *kv[6] = {"instruction", instr[i], "thought", thought ? thought : "", "answer", answer};
            json_line(&out, kv, 3);
            kept_answers[i] = answer;
            answer = NULL;
            stats->kept++;
            n_kept++;
        }
        tl_free(thought);
        tl_free(answer);
        progress(o->progress, o->user, "respond", i + 1, n);
    }
    stats->rejected[TL_SA_KEEP] = 0;
    if (!s && stats->kept == 0) s = tl_errorf(TL_E_FORMAT, "%s: no answer passed the filters", o->in_path);
    if (!s) s = write_file(o->out_path, &out);
    if (!s && o->stats_path) {
        tl_strbuf js = {0};
        tl_strbuf_printf(&js, "{\"instructions\": %d, \"kept\": %d, \"prompt_too_long\": %d, \"rejected\": {", n,
                         stats->kept, stats->too_long_prompt);
        for (int r = 1; r < TL_SA__REASONS; r++)
            tl_strbuf_printf(&js, "%s\"%s\": %d", r > 1 ? ", " : "", tl_sa_reason_names[r], stats->rejected[r]);
        tl_strbuf_puts(&js, "}}\n");
        s = write_file(o->stats_path, &js);
        tl_strbuf_free(&js);
    }
    if (kept_answers) tl_sa_strings_free(kept_answers, n);
    tl_sa_strings_free(instr, n);
    tl_sa_prompt_set_free(&ps);
    tl_strbuf_free(&out);
    tl_strbuf_free(&prompt);
    tl_sampler_free(&smp);
    tl_session_free(sess);
    tl_sa_model_free(&sm);
    (void)n_kept;
    return s;
}
