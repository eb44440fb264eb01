/* decode.h: one token's forward pass in a single parallel region (decode.c). */
#ifndef TL_MODEL_DECODE_H
#define TL_MODEL_DECODE_H

#include "model.h"

/* Bytes of per-thread scratch tl_decode_token needs (the session allocates n_threads of them). */
size_t tl_decode_scratch_bytes(const tl_model *m);
/* Can tl_decode_token run this session's decode? (no hooks; a sequential gated block) */
int tl_decode_supported(const tl_session *s);
/* Forward of the one token embedded in s->x at position s->pos, with s->rope_cs for that position:
 * the KV cache at s->pos, logits [V] in s->logits, bit-identical to forward.c's general path.
 * Does not advance s->pos. */
void tl_decode_token(tl_session *s);

#endif /* TL_MODEL_DECODE_H */
