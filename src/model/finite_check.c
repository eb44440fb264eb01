/* finite_check.c: the load-time and first-forward non-finite weight checks (finite_check.h). */
#include "finite_check.h"
#include "kernels/finite.h"
#include "kernels/quant.h"
#include "qweights.h"

/* the f32 tensors of the flat buffer (all of them, or only the vectors when the matrices are kept
 * as stored: scanning the reserved buffer would fault in a whole f32 model's worth of zero pages) */
static tl_status check_buffer(const tl_model *m, const char *path) {
    int n = tl_params_tensors(&m->cfg, NULL, 0);
    tl_param_tensor *pt = tl_malloc((size_t)n * sizeof *pt);
    if (!pt) return tl_errorf(TL_E_NOMEM, "%s: out of memory", path);
    tl_params_tensors(&m->cfg, pt, n);
    tl_status s = TL_OK;
    for (int i = 0; i < n && !s; i++) {
        if (m->qw && pt[i].n_dims != 1) continue;
        const float *w = m->params + pt[i].offset;
        int64_t j = tl_first_nonfinite(TL_Q_F32, w, pt[i].rows * pt[i].cols);
        if (j >= 0)
            s = tl_errorf(TL_E_NUMERIC, "%s: tensor '%s' has a non-finite weight (%g at index %lld)", path,
                          pt[i].name, (double)w[j], (long long)j);
    }
    tl_free(pt);
    return s;
}

tl_status tl_model_check_finite(tl_model *m, const char *path, int matrices_later) {
    tl_status s = check_buffer(m, path);
    if (s || !m->qw) return s;
    if (!matrices_later) return tl_qweights_check_finite(m, path, 0);
    s = tl_qweights_check_finite(m, path, 1);
    if (!s) m->matrices_unchecked = 1;
    return s;
}

tl_status tl_session_check_first_logits(tl_session *s, const float *logits, int n) {
    s->matrices_verified = 1;
    int64_t count = (int64_t)n * s->model->cfg.vocab_size;
    if (tl_first_nonfinite(TL_Q_F32, logits, count) < 0) return TL_OK;
    const tl_model *m = s->model;
    return tl_qweights_check_finite(m, m->source ? m->source : "model", 0);
}
