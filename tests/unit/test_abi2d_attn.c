/* ABI's attention with GLM-style two-dimensional RoPE against PyTorch
 * (tests/oracle/abi2d_attn_ref.py -> tests/golden/bico/attn2d_ref.bin): raw q,
 * k, v are rotated here as the trainer does (tl_rope2d_forward: even pairs by
 * p1, odd pairs by p2; q, k by +theta, qm, km by -theta), run through the
 * general attention pair with vis.pos2 (the mirror decided per position id),
 * and the gradients of the raw q, k are the two rotations' backward summed.
 * Both pair layouts. Checked in double (bar 1e-10 relative) and in float (bar
 * 2e-5 relative) for out, dq, dk, dv. Also: with p2 = p1 the 2-D path equals
 * the 1-D one bit for bit. */
#include <omp.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/kernels_f64.h"
#include "testlib.h"

typedef struct {
  int B, T, H, Hkv, D, layout;
  float theta;
  int *prefix, *p1, *p2;
  uint8_t *mask;
  double *t[8]; /* q, k, v, wout, out, dq, dk, dv */
} golden_case;

static const unsigned char *cur, *end;

static int take(void *dst, size_t n) {
  if ((size_t)(end - cur) < n)
    return 0;
  memcpy(dst, cur, n);
  cur += n;
  return 1;
}

static double rel_err(const double *a, const double *b, size_t n) {
  double e = 0, m = 0;
  for (size_t i = 0; i < n; i++)
    e = fmax(e, fabs(a[i] - b[i])), m = fmax(m, fabs(b[i]));
  return e / (m > 1e-30 ? m : 1e-30);
}

/* out, dq, dk, dv of one case in double (res[4]) with positions (p1, p2). */
static void run_f64(const golden_case *g, const int *p2, double *res[4]) {
  int B = g->B, T = g->T, H = g->H, Hkv = g->Hkv, D = g->D, BT = B * T;
  tl_rope_layout lay = (tl_rope_layout)g->layout;
  size_t nq = (size_t)BT * H * D, nk = (size_t)BT * Hkv * D;
  uint8_t dims[256];
  tl_rope2d_dims(dims, D, lay);
  tl_attn_vis vis = {g->mask, g->prefix, g->p1, p2, dims};
  int ns = omp_get_max_threads();
  size_t nscr = (size_t)ns * tl_attention_train_scratch(T, D);
  double *q = malloc(nq * 8), *qm = malloc(nq * 8), *k = malloc(nk * 8),
         *km = malloc(nk * 8);
  double *lse = malloc((size_t)B * H * T * 8), *scr = malloc(nscr * 8);
  double *dqm = calloc(nq, 8), *dkm = calloc(nk, 8);
  memcpy(q, g->t[0], nq * 8), memcpy(qm, g->t[0], nq * 8);
  memcpy(k, g->t[1], nk * 8), memcpy(km, g->t[1], nk * 8);
  tl_rope2d_forward_f64(q, g->p1, p2, BT, H, D, g->theta, lay, +1);
  tl_rope2d_forward_f64(qm, g->p1, p2, BT, H, D, g->theta, lay, -1);
  tl_rope2d_forward_f64(k, g->p1, p2, BT, Hkv, D, g->theta, lay, +1);
  tl_rope2d_forward_f64(km, g->p1, p2, BT, Hkv, D, g->theta, lay, -1);
  tl_attention_train_forward_ex_f64(res[0], lse, q, k, qm, km, g->t[2], &vis, B,
                                    T, H, Hkv, D, scr, ns);
  tl_attention_train_backward_ex_f64(res[1], res[2], dqm, dkm, res[3], g->t[3],
                                     res[0], q, k, qm, km, g->t[2], lse, &vis,
                                     B, T, H, Hkv, D, scr, ns);
  tl_rope2d_backward_f64(res[1], g->p1, p2, BT, H, D, g->theta, lay, +1);
  tl_rope2d_backward_f64(dqm, g->p1, p2, BT, H, D, g->theta, lay, -1);
  tl_rope2d_backward_f64(res[2], g->p1, p2, BT, Hkv, D, g->theta, lay, +1);
  tl_rope2d_backward_f64(dkm, g->p1, p2, BT, Hkv, D, g->theta, lay, -1);
  for (size_t i = 0; i < nq; i++)
    res[1][i] += dqm[i];
  for (size_t i = 0; i < nk; i++)
    res[2][i] += dkm[i];
  free(q), free(qm), free(k), free(km), free(lse), free(scr), free(dqm),
      free(dkm);
}

static void run_f32(const golden_case *g, double *res[4]) {
  int B = g->B, T = g->T, H = g->H, Hkv = g->Hkv, D = g->D, BT = B * T;
  tl_rope_layout lay = (tl_rope_layout)g->layout;
  size_t nq = (size_t)BT * H * D, nk = (size_t)BT * Hkv * D;
  uint8_t dims[256];
  tl_rope2d_dims(dims, D, lay);
  tl_attn_vis vis = {g->mask, g->prefix, g->p1, g->p2, dims};
  int ns = omp_get_max_threads();
  size_t nscr = (size_t)ns * tl_attention_train_scratch(T, D);
  float *f[12]; /* q, k, qm, km, v, out, lse, dq, dk, dqm, dkm, dv */
  size_t fs[12] = {nq, nk, nq, nk, nk, nq, (size_t)B * H * T,
                   nq, nk, nq, nk, nk};
  for (int i = 0; i < 12; i++)
    f[i] = calloc(fs[i], sizeof(float));
  float *wout = malloc(nq * sizeof(float)), *scr = malloc(nscr * sizeof(float));
  for (size_t i = 0; i < nq; i++)
    f[0][i] = f[2][i] = (float)g->t[0][i], wout[i] = (float)g->t[3][i];
  for (size_t i = 0; i < nk; i++)
    f[1][i] = f[3][i] = (float)g->t[1][i], f[4][i] = (float)g->t[2][i];
  tl_rope2d_forward(f[0], g->p1, g->p2, BT, H, D, g->theta, lay, +1);
  tl_rope2d_forward(f[2], g->p1, g->p2, BT, H, D, g->theta, lay, -1);
  tl_rope2d_forward(f[1], g->p1, g->p2, BT, Hkv, D, g->theta, lay, +1);
  tl_rope2d_forward(f[3], g->p1, g->p2, BT, Hkv, D, g->theta, lay, -1);
  tl_attention_train_forward_ex(f[5], f[6], f[0], f[1], f[2], f[3], f[4], &vis,
                                B, T, H, Hkv, D, scr, ns);
  tl_attention_train_backward_ex(f[7], f[8], f[9], f[10], f[11], wout, f[5],
                                 f[0], f[1], f[2], f[3], f[4], f[6], &vis, B, T,
                                 H, Hkv, D, scr, ns);
  tl_rope2d_backward(f[7], g->p1, g->p2, BT, H, D, g->theta, lay, +1);
  tl_rope2d_backward(f[9], g->p1, g->p2, BT, H, D, g->theta, lay, -1);
  tl_rope2d_backward(f[8], g->p1, g->p2, BT, Hkv, D, g->theta, lay, +1);
  tl_rope2d_backward(f[10], g->p1, g->p2, BT, Hkv, D, g->theta, lay, -1);
  for (size_t i = 0; i < nq; i++)
    res[0][i] = f[5][i], res[1][i] = (double)f[7][i] + f[9][i];
  for (size_t i = 0; i < nk; i++)
    res[2][i] = (double)f[8][i] + f[10][i], res[3][i] = f[11][i];
  for (int i = 0; i < 12; i++)
    free(f[i]);
  free(wout), free(scr);
}

static void run_case(const golden_case *g, int ci) {
  size_t BT = (size_t)g->B * g->T, nq = BT * g->H * g->D,
         nk = BT * g->Hkv * g->D;
  size_t sizes[4] = {nq, nq, nk, nk};
  static const char *names[4] = {"out", "d q", "d k", "d v"};
  for (int use_float = 0; use_float < 2; use_float++) {
    double *res[4];
    for (int i = 0; i < 4; i++)
      res[i] = calloc(sizes[i], sizeof(double));
    if (use_float)
      run_f32(g, res);
    else
      run_f64(g, g->p2, res);
    double bar = use_float ? 2e-5 : 1e-10;
    for (int i = 0; i < 4; i++) {
      double e = rel_err(res[i], g->t[4 + i], sizes[i]);
      printf("  case %d layout %d %-6s %-4s rel err vs torch %.2e\n", ci,
             g->layout, use_float ? "float" : "double", names[i], e);
      CHECK(e <= bar, "case %d (%s) %s: relative error %.3g > %.0e", ci,
            use_float ? "float" : "double", names[i], e, bar);
    }
    for (int i = 0; i < 4; i++)
      free(res[i]);
  }
  /* p2 = p1: the 2-D path is the 1-D one (tl_rope_forward, vis.pos2 NULL)
   * exactly */
  double *a[4], *b[4];
  for (int i = 0; i < 4; i++)
    a[i] = calloc(sizes[i], 8), b[i] = calloc(sizes[i], 8);
  run_f64(g, g->p1, a);
  {
    int B = g->B, T = g->T, H = g->H, Hkv = g->Hkv, D = g->D, n = B * T;
    tl_rope_layout lay = (tl_rope_layout)g->layout;
    tl_attn_vis vis = {g->mask, g->prefix, g->p1, NULL, NULL};
    int ns = omp_get_max_threads();
    double *q = malloc(nq * 8), *qm = malloc(nq * 8), *k = malloc(nk * 8),
           *km = malloc(nk * 8);
    double *lse = malloc((size_t)B * H * T * 8), *dqm = calloc(nq, 8),
           *dkm = calloc(nk, 8);
    double *scr = malloc((size_t)ns * tl_attention_train_scratch(T, D) * 8);
    memcpy(q, g->t[0], nq * 8), memcpy(qm, g->t[0], nq * 8);
    memcpy(k, g->t[1], nk * 8), memcpy(km, g->t[1], nk * 8);
    tl_rope_forward_f64(q, g->p1, n, H, D, g->theta, lay, +1);
    tl_rope_forward_f64(qm, g->p1, n, H, D, g->theta, lay, -1);
    tl_rope_forward_f64(k, g->p1, n, Hkv, D, g->theta, lay, +1);
    tl_rope_forward_f64(km, g->p1, n, Hkv, D, g->theta, lay, -1);
    tl_attention_train_forward_ex_f64(b[0], lse, q, k, qm, km, g->t[2], &vis, B,
                                      T, H, Hkv, D, scr, ns);
    tl_attention_train_backward_ex_f64(b[1], b[2], dqm, dkm, b[3], g->t[3],
                                       b[0], q, k, qm, km, g->t[2], lse, &vis,
                                       B, T, H, Hkv, D, scr, ns);
    tl_rope_backward_f64(b[1], g->p1, n, H, D, g->theta, lay, +1);
    tl_rope_backward_f64(dqm, g->p1, n, H, D, g->theta, lay, -1);
    tl_rope_backward_f64(b[2], g->p1, n, Hkv, D, g->theta, lay, +1);
    tl_rope_backward_f64(dkm, g->p1, n, Hkv, D, g->theta, lay, -1);
    for (size_t i = 0; i < nq; i++)
      b[1][i] += dqm[i];
    for (size_t i = 0; i < nk; i++)
      b[2][i] += dkm[i];
    free(q), free(qm), free(k), free(km), free(lse), free(dqm), free(dkm),
        free(scr);
  }
  for (int i = 0; i < 4; i++) {
    double e = rel_err(a[i], b[i], sizes[i]);
    CHECK(
        e <= 1e-14,
        "case %d: 2-D RoPE with p2 = p1 differs from 1-D RoPE in %s (rel %.3g)",
        ci, names[i], e);
    free(a[i]), free(b[i]);
  }
}

int main(void) {
  tl_file_map map;
  const char *path = "tests/golden/bico/attn2d_ref.bin";
  CHECK_OK(tl_file_map_open(path, &map));
  cur = map.data, end = cur + map.size;
  uint32_t hdr[2] = {0, 0};
  CHECK(take(hdr, 8) && hdr[0] == 0x32434954u && hdr[1] >= 3, "%s: bad header",
        path);
  for (uint32_t c = 0; c < hdr[1] && tl_test_failed == 0; c++) {
    golden_case g;
    int ok = take(&g.B, 24) && take(&g.theta, 4);
    ok = ok && g.B > 0 && g.T > 0 && g.B * g.T < 4096 && g.D > 0 && g.D < 256 &&
         g.D % 4 == 0 && g.H > 0 && g.Hkv > 0 && g.H % g.Hkv == 0 &&
         (g.layout == 0 || g.layout == 1);
    CHECK(ok, "%s: case %u: bad shape", path, c);
    if (!ok)
      break;
    size_t BT = (size_t)g.B * g.T, nq = BT * g.H * g.D, nk = BT * g.Hkv * g.D;
    size_t sizes[8] = {nq, nk, nk, nq, nq, nq, nk, nk};
    g.prefix = malloc(g.B * sizeof(int)), g.p1 = malloc(BT * sizeof(int)),
    g.p2 = malloc(BT * sizeof(int));
    g.mask = malloc(BT);
    ok = take(g.prefix, g.B * sizeof(int)) && take(g.p1, BT * sizeof(int)) &&
         take(g.p2, BT * sizeof(int)) && take(g.mask, BT);
    for (int i = 0; i < 8; i++) {
      g.t[i] = malloc(sizes[i] * sizeof(double));
      ok = ok && take(g.t[i], sizes[i] * sizeof(double));
    }
    CHECK(ok, "%s: case %u truncated", path, c);
    if (ok)
      run_case(&g, (int)c);
    free(g.prefix), free(g.p1), free(g.p2), free(g.mask);
    for (int i = 0; i < 8; i++)
      free(g.t[i]);
  }
  CHECK(cur == end, "%s: trailing bytes", path);
  tl_file_map_close(&map);
  return tl_test_done();
}
