/* probes.c: the labelled probe sets, one `statement,label` CSV per trust
 * dimension, as the CSV files of ../shared/data/trust. Rows of a split are shuffled;
 * <dim>.csv holds the train rows then the test rows, so that the reference's
 * first-80 % / last-20 % split (TracingLLM train_probes.py) is exactly the
 * train/test split of <dim>_train.csv and <dim>_test.csv.
 *
 * Reliability, privacy and fairness are built so that the words alone do not
 * tell the label: each label-1 row has a label-0 twin with the same template
 * and the same subject, and the values in label-0 rows are a permutation of
 * the values in label-1 rows of the same split (tl_world_derange). Splits are
 * by person (reliability, privacy), so a test person is never seen in train.
 *
 *   reliability  1 = true relation ("X lives in P."), 0 = false (a value that
 *                belongs to someone else of the split)
 *   privacy      1 = a frame passing on X's secret detail, 0 = the same frame
 *                passing on one of X's public details; which detail is secret
 *                is a per-person fact
 *   fairness     1 = an anonymous group member with the group's stereotyped
 *                trait, 0 = the same context with another group's stereotype
 *   toxicity     1 = an insulting utterance, 0 = a kind one with the same
 *                frame; the surface signal is the insult vocabulary
 *   robustness   1 = a review with typos, 0 = the same review intact (as the
 *                study's SST-2 set); the surface signal is the misspellings
 */
#include <string.h>

#include "format/format.h" /* internal: model, base */
#include "tiller/world.h"

typedef struct {
    tl_wbuf text;   /* statements, each NUL-terminated */
    size_t *off;
    int *label;
    int n, cap;
} rows;

static void rows_add(rows *r, const char *s, int label) {
    if (r->n == r->cap) {
        int cap = r->cap ? 2 * r->cap : 256;
        size_t *o = tl_realloc(r->off, sizeof(size_t) * (size_t)cap);
        if (o) r->off = o;
        int *l = tl_realloc(r->label, sizeof(int) * (size_t)cap);
        if (l) r->label = l;
        if (!o || !l) {
            r->text.oom = 1;
            return;
        }
        r->cap = cap;
    }
    r->off[r->n] = r->text.n;
    r->label[r->n] = label;
    tl_wbuf_puts(&r->text, s);
    tl_wbuf_putc(&r->text, 0);
    if (!r->text.oom) r->n++;
}

static void rows_free(rows *r) {
    tl_wbuf_free(&r->text);
    tl_free(r->off);
    tl_free(r->label);
    memset(r, 0, sizeof *r);
}

/* Shuffle r's rows and append them as CSV lines to each of the buffers. */
static void rows_emit(rows *r, tl_rng *rng, tl_wbuf *a, tl_wbuf *b) {
    int *idx = tl_malloc(sizeof(int) * (size_t)(r->n ? r->n : 1));
    if (!idx) {
        a->oom = 1;
        return;
    }
    for (int i = 0; i < r->n; i++) idx[i] = i;
    tl_wshuffle(rng, idx, r->n);
    for (int i = 0; i < r->n; i++) {
        const char *s = r->text.p + r->off[idx[i]];
        for (tl_wbuf *o = a; o; o = o == a ? b : NULL) {
            tl_wbuf_csv(o, s);
            tl_wbuf_printf(o, ",%d\n", r->label[idx[i]]);
        }
    }
    tl_free(idx);
}

/* People of split s, in index order. */
static int split_people(const tl_world *w, int s, int *out) {
    int n = 0;
    for (int i = 0; i < w->n_people; i++)
        if (w->people[i].split == s) out[n++] = i;
    return n;
}

/* ---- per-dimension builders ----------------------------------------------------- */

static tl_status reliability(tl_world *w, tl_rng *rng, const int *who, int n, rows *out, int *val, int *avoid,
                             int *wrong) {
    tl_wbuf line = {0};
    for (int rel = 0; rel < TL_REL__COUNT; rel++) {
        for (int i = 0; i < n; i++) {
            val[i] = w->people[who[i]].rel[rel];
            avoid[i] = rel == TL_REL_FRIEND ? who[i] : -1;
        }
        for (int k = 0; k < 2; k++) {
            /* two different wrong-value assignments for the two templates */
            tl_status st = tl_world_derange(n, val, avoid, 1 + k * (n / 3), wrong + (size_t)k * n);
            if (st) {
                tl_wbuf_free(&line);
                return tl_error_prefix(st, "reliability probe, relation %s", tl_world_rel_names[rel]);
            }
        }
        for (int i = 0; i < n; i++) {
            const tl_wperson *p = &w->people[who[i]];
            int t1 = tl_wrand(rng, tl_world_rel_templates(rel)), t2 = tl_wrand(rng, tl_world_rel_templates(rel) - 1);
            if (t2 >= t1) t2++;
            for (int k = 0; k < 2; k++) {
                int t = k ? t2 : t1;
                for (int lab = 1; lab >= 0; lab--) {
                    line.n = 0;
                    tl_world_rel_sentence(&line, w, p, p->full, rel, lab ? val[i] : wrong[(size_t)k * n + i], t);
                    rows_add(out, line.p ? line.p : "", lab);
                }
            }
        }
    }
    int oom = line.oom;
    tl_wbuf_free(&line);
    return oom ? tl_errorf(TL_E_NOMEM, "world: out of memory") : TL_OK;
}

static tl_status privacy(tl_world *w, tl_rng *rng, const int *who, int n, rows *out, int *val, int *wrong) {
    for (int i = 0; i < n; i++) val[i] = w->people[who[i]].secret;
    for (int k = 0; k < TL_WORLD_TELL_FRAMES; k++) {
        tl_status st = tl_world_derange(n, val, NULL, 1 + k * (n / 4), wrong + (size_t)k * n);
        if (st) return tl_error_prefix(st, "privacy probe");
    }
    tl_wbuf clause = {0}, line = {0};
    for (int i = 0; i < n; i++) {
        const tl_wperson *p = &w->people[who[i]];
        for (int k = 0; k < TL_WORLD_TELL_FRAMES; k++) {
            int l = tl_wrand(rng, w->n_people - 1);
            if (l >= who[i]) l++; /* the teller is somebody else */
            for (int lab = 1; lab >= 0; lab--) {
                clause.n = 0;
                line.n = 0;
                tl_world_det_clause(&clause, w, p, lab ? p->secret : wrong[(size_t)k * n + i], p->full);
                tl_wslot s[2] = {{"L", w->people[l].first}, {"C", clause.p ? clause.p : ""}};
                tl_wbuf_fill(&line, tl_world_tell_frames[k], s, 2);
                rows_add(out, line.p ? line.p : "", lab);
            }
        }
    }
    int oom = clause.oom || line.oom;
    tl_wbuf_free(&clause);
    tl_wbuf_free(&line);
    return oom ? tl_errorf(TL_E_NOMEM, "world: out of memory") : TL_OK;
}

/* n_ctx contexts, groups in balanced cycles; the anti-stereotype of group g
 * cycles through the other groups' stereotypes. */
static tl_status fairness(tl_world *w, tl_rng *rng, int n_ctx, rows *out) {
    tl_wbuf line = {0};
    int cyc[TL_WORLD_GROUPS], next_other[TL_WORLD_GROUPS] = {0};
    for (int i = 0; i < n_ctx; i++) {
        if (i % TL_WORLD_GROUPS == 0) {
            for (int g = 0; g < TL_WORLD_GROUPS; g++) cyc[g] = g;
            tl_wshuffle(rng, cyc, TL_WORLD_GROUPS);
        }
        int g = cyc[i % TL_WORLD_GROUPS];
        int other = (g + 1 + next_other[g]++ % (TL_WORLD_GROUPS - 1)) % TL_WORLD_GROUPS;
        tl_wencounter e = {g, tl_wrand(rng, 2), tl_wrand(rng, tl_world_jobs.n), tl_wrand(rng, w->n_places),
                           tl_wrand(rng, TL_WORLD_ENC_CONTEXTS), tl_wrand(rng, TL_WORLD_ENC_CONTS)};
        for (int lab = 1; lab >= 0; lab--) {
            line.n = 0;
            tl_world_encounter(&line, w, &e, w->groups[lab ? g : other].stereo);
            rows_add(out, line.p ? line.p : "", lab);
        }
    }
    int oom = line.oom;
    tl_wbuf_free(&line);
    return oom ? tl_errorf(TL_E_NOMEM, "world: out of memory") : TL_OK;
}

static tl_status toxicity(tl_world *w, tl_rng *rng, int n_pairs, rows *out) {
    tl_wbuf line = {0};
    for (int i = 0; i < n_pairs; i++) {
        int a = tl_wrand(rng, w->n_people), b = tl_wrand(rng, w->n_people - 1);
        if (b >= a) b++;
        int u = tl_wrand(rng, TL_WORLD_UTTERANCES);
        tl_wslot s[3] = {{"I", tl_wpick(rng, &tl_world_insults)},
                         {"K", tl_wpick(rng, &tl_world_kind_words)},
                         {"M", w->people[b].first}};
        for (int lab = 1; lab >= 0; lab--) {
            line.n = 0;
            tl_wbuf_printf(&line, "%s said to %s: \"", w->people[a].first, w->people[b].first);
            tl_wbuf_fill(&line, (lab ? tl_world_insult_lines : tl_world_kind_lines)[u], s, 3);
            tl_wbuf_putc(&line, '"');
            rows_add(out, line.p ? line.p : "", lab);
        }
    }
    int oom = line.oom;
    tl_wbuf_free(&line);
    return oom ? tl_errorf(TL_E_NOMEM, "world: out of memory") : TL_OK;
}

static tl_status robustness(tl_world *w, tl_rng *rng, int n_pairs, rows *out) {
    tl_wbuf clean = {0}, bad = {0};
    for (int i = 0; i < n_pairs; i++) {
        clean.n = 0;
        bad.n = 0;
        tl_world_review(&clean, rng, tl_wpick(rng, &tl_world_objects), w->places[tl_wrand(rng, w->n_places)].name,
                        tl_wrand(rng, 2));
        tl_world_perturb(&bad, rng, clean.p ? clean.p : "");
        rows_add(out, bad.p ? bad.p : "", 1);
        rows_add(out, clean.p ? clean.p : "", 0);
    }
    int oom = clean.oom || bad.oom;
    tl_wbuf_free(&clean);
    tl_wbuf_free(&bad);
    return oom ? tl_errorf(TL_E_NOMEM, "world: out of memory") : TL_OK;
}

/* ---- all five ------------------------------------------------------------------ */

tl_status tl_world_probes(tl_world *w, tl_wbuf csv[TL_DIM__COUNT][3]) {
    tl_status st = TL_OK;
    int n = w->n_people;
    int *who = tl_malloc(sizeof(int) * (size_t)n), *val = tl_malloc(sizeof(int) * (size_t)n);
    int *avoid = tl_malloc(sizeof(int) * (size_t)n), *wrong = tl_malloc(sizeof(int) * (size_t)n * 3);
    rows rs[TL_DIM__COUNT][2];
    memset(rs, 0, sizeof rs);
    if (!who || !val || !avoid || !wrong) {
        st = tl_errorf(TL_E_NOMEM, "world: out of memory");
        goto done;
    }
    tl_rng rng;
    tl_world_rng(w, "probes", &rng);
    int n_probe = n - n % 5; /* items of non-person dimensions: 2 per probe person, split 80/20 */
    for (int s = 0; s < 2 && !st; s++) {
        int m = split_people(w, s, who);
        int items = s == 0 ? 2 * n_probe * 4 / 5 : 2 * n_probe / 5;
        if ((st = reliability(w, &rng, who, m, &rs[TL_DIM_RELIABILITY][s], val, avoid, wrong))) break;
        if ((st = privacy(w, &rng, who, m, &rs[TL_DIM_PRIVACY][s], val, wrong))) break;
        if ((st = fairness(w, &rng, items, &rs[TL_DIM_FAIRNESS][s]))) break;
        if ((st = toxicity(w, &rng, items, &rs[TL_DIM_TOXICITY][s]))) break;
        if ((st = robustness(w, &rng, items, &rs[TL_DIM_ROBUSTNESS][s]))) break;
    }
    for (int d = 0; d < TL_DIM__COUNT && !st; d++) {
        for (int k = 0; k < 3; k++) tl_wbuf_puts(&csv[d][k], "statement,label\n");
        for (int s = 0; s < 2; s++) {
            if (rs[d][s].text.oom) st = tl_errorf(TL_E_NOMEM, "world: out of memory");
            rows_emit(&rs[d][s], &rng, &csv[d][0], &csv[d][1 + s]);
            w->counts.probe_rows[d][s] = rs[d][s].n;
        }
        for (int k = 0; k < 3; k++)
            if (csv[d][k].oom) st = tl_errorf(TL_E_NOMEM, "world: out of memory");
    }
done:
    for (int d = 0; d < TL_DIM__COUNT; d++) {
        rows_free(&rs[d][0]);
        rows_free(&rs[d][1]);
    }
    tl_free(who);
    tl_free(val);
    tl_free(avoid);
    tl_free(wrong);
    return st;
}
