/*
 * finite_check: a model with a NaN or infinite weight gives NaN logits (generation then stops
 * at once and training saves NaNs as its first checkpoint), so it is refused, naming the tensor.
 *
 * When: tl_model_load checks every weight at load. tl_model_load_mapped (generate, bench) would
 * pay a whole extra pass over a multi-GB mapped file for that (the slowest part of start-up), so
 * it checks at load only what a forward pass may not read — the norms and the token-embedding
 * table (a row is read only when its token appears) — and leaves the layer matrices and the LM
 * head, which every forward pass reads whole, to the first forward pass of each session: every
 * weight of them reaches the last row's logits (NaN and inf propagate through every kernel:
 * x * NaN = NaN, inf * 0 = NaN, inf then normalised = NaN). Non-finite logits there trigger the
 * full scan, and tl_forward returns its error naming the tensor; finite logits prove the matrices
 * finite. Non-finite logits with finite weights (a hook writing NaN) are returned as before.
 */
#ifndef TL_MODEL_FINITE_CHECK_H
#define TL_MODEL_FINITE_CHECK_H

#include "model.h"

/* TL_E_NUMERIC naming the first tensor with a non-finite weight, else TL_OK. matrices_later:
 * check only the norms and the embedding table and mark the model (m->matrices_unchecked) so
 * its sessions check the rest on their first forward pass. */
tl_status tl_model_check_finite(tl_model *m, const char *path, int matrices_later);
/* After a session's first forward pass over a model with matrices_unchecked: logits [n, V] all
 * finite (then never again), else the full scan's verdict. */
tl_status tl_session_check_first_logits(tl_session *s, const float *logits, int n);

#endif /* TL_MODEL_FINITE_CHECK_H */
