/*
 * generic.h: compile a kernel's portable reference once per real type.
 *
 * The forward/backward pair of an op is written once, over the macro `real` and
 * names wrapped in TL_FN(), in the part of its file guarded by TL_GENERIC_BODY:
 *
 *     #ifndef TL_GENERIC_BODY
 *     #define TL_GENERIC_SELF "rmsnorm.c"
 *     #include "generic.h"
 *     #else
 *     void TL_FN(tl_rmsnorm_forward)(real *out, ...) { ... rsqrt_(...) ... }
 *     #endif
 *
 * This header then includes the file twice more:
 *   real = float,  TL_FN(f) = f      the kernel tiller runs (kernels.h);
 *   real = double, TL_FN(f) = f_f64  the same code in double (kernels_f64.h), which
 *                                    the finite-difference tests check: in float,
 *                                    rounding would drown a central difference.
 * An op with faster SIMD paths names its reference TL_REF(f): f_ref in float (the
 * file's float f dispatches by tl_cpu_isa() and the tests compare the paths with
 * f_ref), and f_f64 in double.
 * Literals in a body are written (real)x so the float build never widens to double;
 * the math functions below follow `real` (expf for float, exp for double).
 */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <string.h>

#include "kernels.h"
#include "kernels_f64.h"

#define TL_GENERIC_BODY 1

#define real float
#define TL_FN(name) name
#define TL_REF(name) name##_ref
#define rexp_ expf
#define rlog_ logf
#define rsqrt_ sqrtf
#include TL_GENERIC_SELF
#undef real
#undef TL_FN
#undef TL_REF
#undef rexp_
#undef rlog_
#undef rsqrt_

#define real double
#define TL_FN(name) name##_f64
#define TL_REF(name) name##_f64
#define rexp_ exp
#define rlog_ log
#define rsqrt_ sqrt
#include TL_GENERIC_SELF
#undef real
#undef TL_FN
#undef TL_REF
#undef rexp_
#undef rlog_
#undef rsqrt_

#undef TL_GENERIC_BODY
#undef TL_GENERIC_SELF
