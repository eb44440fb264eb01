/* recontrol_select.c: RE-Control's step size and iterations chosen on validation prompts (never the
 * test prompts), and the smallest effect a paired comparison of n prompts can detect. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h" /* internal: tl_errorf */
#include "tiller/recontrol.h"

/* One method's responses to the validation prompts: the per-prompt rewards to r[n], the mean
 * diversity to *diversity. */
static tl_status run_method(const tl_model *m, const tl_tokenizer *tok, const tl_rc_prompts *p, tl_reward *reward,
                            const tl_rc_gen_opts *go, double *r, double *diversity) {
    tl_rc_gen *g = NULL;
    tl_status s = tl_rc_gen_new(m, tok, 0, go, &g);
    *diversity = 0;
    for (int i = 0; !s && i < p->n; i++) {
        const char *text;
        int nt;
        double sec;
        s = tl_rc_generate(g, p->prompt[i], &text, &nt, NULL, &sec);
        if (!s) s = tl_reward_score(reward, p->prompt[i], text, &r[i]);
        if (!s) *diversity += tl_rc_diversity(text) / p->n;
    }
    tl_rc_gen_free(g);
    return s;
}

static void mean_sd(const double *x, int n, double *mean, double *sd) {
    double m = 0, v = 0;
    for (int i = 0; i < n; i++) m += x[i];
    m /= n;
    for (int i = 0; i < n; i++) v += (x[i] - m) * (x[i] - m);
    *mean = m, *sd = n > 1 ? sqrt(v / (n - 1)) : 0;
}

tl_status tl_rc_select(const tl_model *m, const tl_tokenizer *tok, const tl_rc_prompts *val, tl_reward *reward,
                       const tl_value_net *v, const tl_rc_select_opts *o, tl_rc_setting *grid, int n_grid,
                       tl_rc_select_result *res) {
    memset(res, 0, sizeof *res);
    res->best = -1;
    if (val->n < 2 || n_grid < 1)
        return tl_errorf(TL_E_ARG, "recontrol select: need at least 2 validation prompts and 1 setting (got %d, %d)",
                         val->n, n_grid);
    if (!(o->min_diversity_share >= 0 && o->min_diversity_share <= 1))
        return tl_errorf(TL_E_ARG, "recontrol select: the diversity share %g is not in [0, 1]", o->min_diversity_share);
    for (int k = 0; k < n_grid; k++)
        if (!(grid[k].step > 0) || !isfinite(grid[k].step) || grid[k].iters < 1)
            return tl_errorf(TL_E_ARG, "recontrol select: setting %d has step %g and %d iterations (need > 0, >= 1)",
                             k + 1, (double)grid[k].step, grid[k].iters);
    /* run 0 is plain decoding, run 1 + k RE-Control at grid[k]: each its own generator and sampler
     * from the same seed, so the runs are independent and go side by side on the threads, one
     * thread each (the same numbers for any thread count) */
    int n_runs = n_grid + 1, nw = omp_get_max_threads(), done = 0;
    double *r = tl_malloc(sizeof(double) * (size_t)val->n * n_runs), *div = tl_malloc(sizeof(double) * n_runs);
    double *diff = tl_malloc(sizeof(double) * (size_t)val->n);
    tl_status s = TL_OK;
    if (!r || !div || !diff) {
        s = tl_errorf(TL_E_NOMEM, "recontrol select: out of memory");
        goto done;
    }
    if (nw > n_runs) nw = n_runs;
    char msg[1024] = "";
#pragma omp parallel num_threads(nw) if (nw > 1)
    {
        int me = omp_get_thread_num();
        tl_reward *rw = NULL;
        tl_status st = me == 0 ? TL_OK : tl_reward_clone(reward, &rw);
#pragma omp for schedule(dynamic, 1)
        for (int j = 0; j < n_runs; j++) {
            tl_status fail_now;
#pragma omp atomic read
            fail_now = s;
            if (st || fail_now) continue;
            tl_rc_gen_opts go = {0};
            go.method = j ? TL_RC_RECONTROL : TL_RC_PLAIN, go.n_new = o->n_new, go.sampler = o->sampler, go.value = v;
            if (j) go.step = grid[j - 1].step, go.iters = grid[j - 1].iters;
            st = run_method(m, tok, val, me == 0 ? reward : rw, &go, r + (size_t)j * val->n, &div[j]);
            if (!st && j && o->progress) {
#pragma omp critical(tl_rc_select_progress)
                o->progress(o->user, ++done, n_grid);
            }
        }
        if (st) {
#pragma omp critical(tl_rc_select_fail)
            if (!s) s = st, snprintf(msg, sizeof msg, "%s", tl_last_error());
        }
        tl_reward_free(rw);
    }
    if (s) {
        s = tl_errorf(s, "%s", msg);
        goto done;
    }
    const double *plain = r;
    double sd;
    res->plain_diversity = div[0];
    mean_sd(plain, val->n, &res->plain_mean, &sd);
    for (int k = 0; k < n_grid; k++) {
        const double *rk = r + (size_t)(k + 1) * val->n;
        grid[k].diversity_mean = div[k + 1];
        for (int i = 0; i < val->n; i++) diff[i] = rk[i] - plain[i];
        mean_sd(rk, val->n, &grid[k].reward_mean, &sd);
        mean_sd(diff, val->n, &grid[k].gain_mean, &grid[k].gain_sd);
        grid[k].eligible = grid[k].diversity_mean >= o->min_diversity_share * res->plain_diversity;
    }
    /* the highest mean reward among the eligible settings; a tie keeps the earlier one; none eligible:
     * the most diverse */
    for (int k = 0; k < n_grid; k++)
        if (grid[k].eligible && (res->best < 0 || grid[k].reward_mean > grid[res->best].reward_mean)) res->best = k;
    if (res->best < 0)
        for (int k = 0; k < n_grid; k++)
            if (res->best < 0 || grid[k].diversity_mean > grid[res->best].diversity_mean) res->best = k;
    res->n = val->n;
done:
    tl_free(r), tl_free(div), tl_free(diff);
    return s;
}

/* Standard normal quantile (Acklam's rational approximation, relative error < 1.2e-9). */
static double norm_quantile(double p) {
    static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,  -2.759285104469687e+02,
                               1.383577518672690e+02,  -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                               6.680131188771972e+01, -1.328068155288572e+01};
    static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                               -2.549732539343734e+00, 4.374664141464968e+00,  2.938163982698783e+00};
    static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                               3.754408661907416e+00};
    if (p < 0.02425) {
        double q = sqrt(-2 * log(p));
        return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
               ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    }
    if (p > 1 - 0.02425) return -norm_quantile(1 - p);
    double q = p - 0.5, t = q * q;
    return (((((a[0] * t + a[1]) * t + a[2]) * t + a[3]) * t + a[4]) * t + a[5]) * q /
           (((((b[0] * t + b[1]) * t + b[2]) * t + b[3]) * t + b[4]) * t + 1);
}

double tl_rc_min_effect(int n, double alpha, double power) {
    if (n < 2 || !(alpha > 0 && alpha < 1) || !(power > 0 && power < 1)) return NAN;
    return (norm_quantile(1 - alpha / 2) + norm_quantile(power)) / sqrt((double)n);
}
