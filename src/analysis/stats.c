/* stats.c: intervals, the paired test, permutation trend tests and the
 * shuffle-corrected mutual information of stats.h. */
#include "stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h" /* internal */
#include "tiller/analysis.h"

void tl_wilson(int64_t k, int64_t n, double z, double *lo, double *hi) {
    if (n <= 0) {
        *lo = 0;
        *hi = 1;
        return;
    }
    double p = (double)k / n, z2 = z * z, den = 1 + z2 / n;
    double centre = (p + z2 / (2.0 * n)) / den;
    double half = z * sqrt(p * (1 - p) / n + z2 / (4.0 * n * n)) / den;
    *lo = fmax(0.0, centre - half);
    *hi = fmin(1.0, centre + half);
    if (k == 0)
        *lo = 0; /* exact ends: rounding must not leave 1e-17 */
    if (k == n)
        *hi = 1;
}

double tl_binom_test_half(int64_t k, int64_t n) {
    if (n <= 0)
        return 1.0;
    int64_t t = k < n - k ? k : n - k;
    if (2 * t == n)
        return 1.0;
    /* P(X <= t) = sum_{i <= t} C(n, i) 2^-n, summed in log space from the largest
     * term */
    double log_half_n = -(double)n * log(2.0), lg_n1 = lgamma((double)n + 1);
    double top = lg_n1 - lgamma((double)t + 1) - lgamma((double)(n - t) + 1) + log_half_n, sum = 0;
    for (int64_t i = t; i >= 0; i--) {
        double term = exp(lg_n1 - lgamma((double)i + 1) - lgamma((double)(n - i) + 1) + log_half_n - top);
        sum += term;
        if (term < 1e-18 * sum)
            break;
    }
    double p = 2.0 * exp(top) * sum;
    return p > 1 ? 1 : p;
}

void tl_mcnemar(const uint8_t *a, const uint8_t *b, int n, tl_paired_result *r) {
    memset(r, 0, sizeof *r);
    r->n = n;
    int64_t ra = 0, rb = 0;
    for (int i = 0; i < n; i++) {
        ra += a[i] != 0;
        rb += b[i] != 0;
        r->only_a += a[i] && !b[i];
        r->only_b += !a[i] && b[i];
    }
    if (n == 0) {
        r->p = 1;
        r->acc_a = r->acc_b = r->diff = r->lo = r->hi = NAN;
        return;
    }
    r->acc_a = (double)ra / n;
    r->acc_b = (double)rb / n;
    r->diff = (double)(r->only_b - r->only_a) / n;
    /* per-item difference d_i in {-1, 0, 1}: variance (b + c)/n - diff^2
     * (population) */
    double var = (double)(r->only_a + r->only_b) / n - r->diff * r->diff;
    double half = TL_Z95 * sqrt(var > 0 ? var : 0) / sqrt((double)n);
    r->lo = r->diff - half;
    r->hi = r->diff + half;
    r->p = tl_binom_test_half(r->only_b, r->only_a + r->only_b);
}

typedef struct {
    double p;
    int i;
} p_index;

static int cmp_p_index(const void *a, const void *b) {
    const p_index *x = a, *y = b;
    return x->p < y->p ? -1 : x->p > y->p ? 1 : x->i - y->i;
}

tl_status tl_holm(const double *p, int n, double *adj) {
    if (n < 0) return tl_errorf(TL_E_ARG, "holm: %d p-values", n);
    p_index *o = tl_malloc((size_t)(n > 0 ? n : 1) * sizeof *o);
    if (!o) return tl_errorf(TL_E_NOMEM, "holm: out of memory for %d p-values", n);
    int m = 0;
    for (int i = 0; i < n; i++)
        if (!isnan(p[i])) o[m++] = (p_index){p[i], i};
    qsort(o, (size_t)m, sizeof *o, cmp_p_index);
    for (int i = 0; i < n; i++)
        if (isnan(p[i])) adj[i] = NAN;
    double run = 0; /* the running maximum keeps the adjusted values monotone */
    for (int j = 0; j < m; j++) {
        double a = (double)(m - j) * o[j].p;
        if (a > 1) a = 1;
        if (a > run) run = a;
        adj[o[j].i] = run;
    }
    tl_free(o);
    return TL_OK;
}

void tl_paired_values(const double *a, const double *b, int n, tl_paired_result *r) {
    memset(r, 0, sizeof *r);
    double sa = 0, sb = 0, sd = 0, sdd = 0;
    for (int i = 0; i < n; i++) {
        if (!isfinite(a[i]) || !isfinite(b[i]))
            continue;
        double d = b[i] - a[i];
        r->n++;
        sa += a[i];
        sb += b[i];
        sd += d;
        sdd += d * d;
        r->only_a += d < 0;
        r->only_b += d > 0;
    }
    if (r->n == 0) {
        r->p = 1;
        r->acc_a = r->acc_b = r->diff = r->lo = r->hi = NAN;
        return;
    }
    r->acc_a = sa / r->n;
    r->acc_b = sb / r->n;
    r->diff = sd / r->n;
    double var = sdd / r->n - r->diff * r->diff; /* population variance of the differences */
    double half = TL_Z95 * sqrt(var > 0 ? var : 0) / sqrt((double)r->n);
    r->lo = r->diff - half;
    r->hi = r->diff + half;
    r->p = tl_binom_test_half(r->only_b, r->only_a + r->only_b);
}

static int sgn(double x) { return (x > 0) - (x < 0); }

double tl_paired_all(const double *const *a, int R, const double *b, int n, tl_paired_result *each) {
    double p = R >= 1 ? 0 : 1;
    int sign = 0;
    for (int r = 0; r < R; r++) {
        tl_paired_result e;
        tl_paired_values(a[r], b, n, &e);
        if (each) each[r] = e;
        int sr = e.n > 0 && isfinite(e.diff) ? sgn(e.diff) : 0;
        if (r == 0) sign = sr;
        if (sr == 0 || sr != sign) p = 1; /* one reference no different, or differences both ways */
        else if (e.p > p) p = e.p;
    }
    return p;
}

/* Umbrella statistic: over peak positions k with at least 3 points on each side
 * (2 when n < 5), the smaller of Kendall's tau of v[0..k] with the order and of
 * v[k..n-1] against it; the largest over k. pre/suf [n] are scratch. */
static double umbrella(const double *v, int n, double *pre, double *suf) {
    pre[0] = 0;
    for (int k = 1; k < n; k++) {
        pre[k] = pre[k - 1];
        for (int i = 0; i < k; i++)
            pre[k] += sgn(v[k] - v[i]);
    }
    suf[n - 1] = 0;
    for (int k = n - 2; k >= 0; k--) {
        suf[k] = suf[k + 1];
        for (int j = k + 1; j < n; j++)
            suf[k] += sgn(v[k] - v[j]);
    }
    int lo = n >= 5 ? 2 : 1, hi = n >= 5 ? n - 3 : n - 2;
    double best = -INFINITY;
    for (int k = lo; k <= hi; k++) {
        double a = pre[k] / (k * (k + 1) / 2.0), b = suf[k] / ((n - k) * (n - k - 1) / 2.0);
        best = fmax(best, fmin(a, b));
    }
    return best;
}

double tl_rise_fall_stat(const double *v, int n) {
    if (n < 3)
        return NAN;
    double buf[128], *pre = n <= 64 ? buf : tl_malloc((size_t)2 * n * sizeof *pre);
    if (!pre)
        return NAN;
    double r = umbrella(v, n, pre, pre + n);
    if (pre != buf)
        tl_free(pre);
    return r;
}

/* mean ranks (1-based), ties averaged */
static void ranks(const double *v, int n, double *rk) {
    for (int i = 0; i < n; i++) {
        int less = 0, equal = 0;
        for (int j = 0; j < n; j++) {
            less += v[j] < v[i];
            equal += v[j] == v[i];
        }
        rk[i] = less + (equal + 1) / 2.0;
    }
}

double tl_spearman_order(const double *v, int n) {
    if (n < 2)
        return NAN;
    double rk[64], *r = n <= 64 ? rk : tl_malloc((size_t)n * sizeof *r);
    if (!r)
        return NAN;
    ranks(v, n, r);
    double mo = (n - 1) / 2.0, mr = 0, sxy = 0, sxx = 0, syy = 0;
    for (int i = 0; i < n; i++)
        mr += r[i];
    mr /= n;
    for (int i = 0; i < n; i++) {
        sxy += (i - mo) * (r[i] - mr);
        sxx += (i - mo) * (i - mo);
        syy += (r[i] - mr) * (r[i] - mr);
    }
    if (r != rk)
        tl_free(r);
    return syy > 0 ? sxy / sqrt(sxx * syy) : 0;
}

static double trend_stat(const double *v, int n, tl_trend t) {
    return t == TL_TREND_RISE_FALL ? tl_rise_fall_stat(v, n) : tl_spearman_order(v, n);
}

/* Heap's algorithm over all orderings of w [n], counting statistics >= thr. */
static void enumerate(double *w, int n, tl_trend t, double thr, int64_t *hits, int64_t *total) {
    int c[16] = {0};
    *hits = trend_stat(w, n, t) >= thr;
    *total = 1;
    for (int i = 1; i < n;) {
        if (c[i] < i) {
            int j = i % 2 == 0 ? 0 : c[i];
            double tmp = w[j];
            w[j] = w[i];
            w[i] = tmp;
            *hits += trend_stat(w, n, t) >= thr;
            ++*total;
            c[i]++;
            i = 1;
        } else {
            c[i++] = 0;
        }
    }
}

tl_status tl_perm_trend(const double *v, int n, tl_trend t, int n_mc, uint64_t seed, tl_perm_result *r) {
    memset(r, 0, sizeof *r);
    if (n < 3)
        return tl_errorf(TL_E_ARG, "permutation test: %d points (at least 3)", n);
    for (int i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return tl_errorf(TL_E_NUMERIC, "permutation test: point %d is not finite", i);
    double *w = tl_malloc((size_t)n * sizeof *w);
    if (!w)
        return tl_errorf(TL_E_NOMEM, "permutation test: out of memory");
    memcpy(w, v, (size_t)n * sizeof *w);
    r->stat = trend_stat(v, n, t);
    double thr = r->stat - 1e-12 * fmax(1.0, fabs(r->stat));
    int64_t hits, total;
    if (n <= 8) {
        enumerate(w, n, t, thr, &hits, &total);
        r->exact = 1;
        r->p = (double)hits / total;
    } else {
        if (n_mc < 1)
            n_mc = 9999;
        tl_rng rng;
        tl_rng_seed(&rng, seed);
        hits = 0;
        for (int k = 0; k < n_mc; k++) {
            for (int i = n - 1; i > 0; i--) { /* Fisher-Yates */
                int j = (int)tl_rng_below(&rng, (uint64_t)i + 1);
                double tmp = w[i];
                w[i] = w[j];
                w[j] = tmp;
            }
            hits += trend_stat(w, n, t) >= thr;
        }
        total = n_mc + 1;
        r->p = (1.0 + hits) / total;
    }
    r->n_perm = total;
    tl_free(w);
    return TL_OK;
}

/* I(a;b) = H(a) + H(b) - H(a,b), the marginal entropies given */
static double mi_bits(const int32_t *a, const int32_t *b, int n, double ha, double hb, tl_status *s) {
    double hab = 0;
    *s = tl_joint_entropy_bits(a, b, n, &hab);
    return ha + hb - hab;
}

tl_status tl_mi_labels(const int32_t *a, const int32_t *b, int n, int shuffles, uint64_t seed, double *mi,
                       double *mi_null) {
    if (n < 1)
        return tl_errorf(TL_E_ARG, "mutual information: %d rows", n);
    int32_t *ia = tl_malloc((size_t)n * sizeof *ia), *ib = tl_malloc((size_t)n * sizeof *ib);
    tl_status s = TL_OK;
    if (!ia || !ib) {
        s = tl_errorf(TL_E_NOMEM, "mutual information: out of memory for %d rows", n);
        goto done;
    }
    int na, nb;
    if ((s = tl_symbols(a, n, 1, ia, &na)) || (s = tl_symbols(b, n, 1, ib, &nb)))
        goto done;
    double ha = tl_entropy_bits(ia, n), hb = tl_entropy_bits(ib, n);
    *mi = mi_bits(ia, ib, n, ha, hb, &s);
    if (s || shuffles <= 0) {
        if (mi_null)
            *mi_null = shuffles <= 0 ? 0 : NAN;
        goto done;
    }
    tl_rng rng;
    tl_rng_seed(&rng, seed);
    double acc = 0;
    for (int k = 0; k < shuffles && s == TL_OK; k++) {
        for (int i = n - 1; i > 0; i--) { /* Fisher-Yates on b's symbols: H(b) is unchanged */
            int j = (int)tl_rng_below(&rng, (uint64_t)i + 1);
            int32_t tmp = ib[i];
            ib[i] = ib[j];
            ib[j] = tmp;
        }
        acc += mi_bits(ia, ib, n, ha, hb, &s);
    }
    if (mi_null)
        *mi_null = acc / shuffles;
done:
    tl_free(ia);
    tl_free(ib);
    return s;
}

double tl_hsic_pair_null(const double *Ra, const double *Rb, int m, int shuffles, uint64_t seed) {
    if (shuffles <= 0 || m < 1)
        return 0;
    int *perm = tl_malloc((size_t)m * sizeof *perm);
    if (!perm)
        return NAN;
    for (int i = 0; i < m; i++)
        perm[i] = i;
    tl_rng rng;
    tl_rng_seed(&rng, seed);
    double acc = 0;
    for (int k = 0; k < shuffles; k++) {
        for (int i = m - 1; i > 0; i--) {
            int j = (int)tl_rng_below(&rng, (uint64_t)i + 1), tmp = perm[i];
            perm[i] = perm[j];
            perm[j] = tmp;
        }
        /* b's rows reordered: Rb'_ij = Rb[perm i][perm j]; trace(Ra Rb') = sum_ij
         * Ra_ij Rb'_ji */
        double tr = 0;
        for (int i = 0; i < m; i++) {
            const double *ra = Ra + (size_t)i * m;
            size_t pi = (size_t)perm[i];
            for (int j = 0; j < m; j++)
                tr += ra[j] * Rb[(size_t)perm[j] * m + pi];
        }
        acc += tr;
    }
    tl_free(perm);
    return acc / shuffles;
}
