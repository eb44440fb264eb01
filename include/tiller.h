/*
 * tiller — train, probe, steer and align Llama-family language models, in C11.
 *
 * This header includes the whole public API; each part can also be included alone:
 *
 *   tiller/base.h       status codes, tl_last_error(), tl_free, logging, strings, RNG
 *   tiller/kernels.h    the CPU instruction set in use, the RoPE pair order
 *   tiller/tokenizer.h  text <-> ids (SentencePiece BPE, byte-level BPE), BPE training
 *   tiller/model.h      config, session (KV cache, forward, hook points), the training
 *                       forward, sampling, scoring of ids, accessors of the opaque handles
 *   tiller/format.h     model files in and out (GGUF, llama2.c .bin, safetensors), each
 *                       load giving the model and its file's tokenizer side by side; .npy
 *   tiller/generate.h   a model with a tokenizer: the file's or --tokenizer's, tl_generate
 *   tiller/train.h      token files, objectives (NTP, SFT, BICO, ABI), the trainer, checkpoints
 *   tiller/analysis.h   datasets, activation capture over a checkpoint series, probes,
 *                       the information plane
 *   tiller/steer.h      steering vectors (llama.cpp control vectors), the edit hook
 *   tiller/eval.h       the evaluation harness (multiple choice, generation tasks)
 *   tiller/world.h      the synthetic world with known truth
 *   tiller/trust.h      study: trust dynamics over a series
 *   tiller/reversal.h   study: the reversal curse (NTP / BICO / ABI)
 *   tiller/bootstrap.h  percentile bootstrap intervals over clusters (people, prompts)
 *   tiller/recontrol.h  study: RE-Control (value network, rewards, test-time editing)
 *   tiller/selfalign.h  study: SELF-ALIGN (self-instruct, principle-driven answers, engraving, verbose cloning)
 *   tiller/demo.h       the whole study as one call
 *   tiller/bench.h      speed and bandwidth measurements
 *   tiller/dist.h       the processes of an MPI job (rank, size, ordered sums), or one process
 *
 * Conventions: every fallible function returns a tl_status (TL_OK = 0) and passes results
 * through out-parameters; on failure it frees what it allocated, sets the outputs to NULL
 * and records a message naming the file, field and value at fault, readable with
 * tl_last_error() (thread-local). The library never prints or exits; it logs through
 * tl_log_set. Handles (tl_model, tl_tokenizer, tl_session, tl_sampler, ...) are opaque:
 * use the accessors. Arrays tiller allocates for the caller are freed with tl_free.
 *
 * A complete program: examples/generate.c (built and run by the tests):
 *
 *     tl_model *m = NULL; tl_session *s = NULL; tl_sampler *smp = NULL;
 *     tl_tokenizer *own = NULL; const tl_tokenizer *tok = NULL;
 *     tl_sampler_params greedy = {0, 0, 1, 0};
 *     if (tl_model_load(path, &m, &own) || tl_model_pick_tokenizer(m, NULL, own, &tok) ||
 *         tl_session_new(m, 0, 0, &s) ||
 *         tl_sampler_new(&greedy, tl_model_config(m)->vocab_size, &smp)) {
 *         fprintf(stderr, "error: %s\n", tl_last_error());
 *         ...
 *     }
 *
 * Modules and their layering: docs/ARCHITECTURE.md. Python: docs/python.md.
 */
#ifndef TILLER_H
#define TILLER_H

#include "tiller/base.h"
#include "tiller/kernels.h"
#include "tiller/tokenizer.h"
#include "tiller/model.h"
#include "tiller/format.h"
#include "tiller/generate.h"
#include "tiller/train.h"
#include "tiller/analysis.h"
#include "tiller/steer.h"
#include "tiller/eval.h"
#include "tiller/world.h"
#include "tiller/trust.h"
#include "tiller/bootstrap.h"
#include "tiller/reversal.h"
#include "tiller/recontrol.h"
#include "tiller/selfalign.h"
#include "tiller/demo.h"
#include "tiller/bench.h"
#include "tiller/dist.h"

#endif /* TILLER_H */
