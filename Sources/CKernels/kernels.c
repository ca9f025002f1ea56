#include "CKernels.h"

#include <math.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#define INLINE inline __attribute__((always_inline))

#if defined(__x86_64__) || defined(__i386__)
#define HAVE_DISPATCH 1
#define TARGET __attribute__((target("avx2,fma")))
#define KERNEL(name) name##_avx2
#define W 8
#include "kernels.inc"
#undef TARGET
#undef KERNEL
#undef W
#endif

#define TARGET
#define KERNEL(name) name##_baseline
#define W 4
#include "kernels.inc"
#undef TARGET
#undef KERNEL
#undef W

static int wide = -1;  // -1: not yet decided
static _Thread_local int forced_baseline = 0;  // per thread: tests compare the two builds

static int use_wide(void) {
#ifdef HAVE_DISPATCH
    if (forced_baseline) return 0;
    if (wide < 0) {
        const char *requested = getenv("INFLUENCE_KERNELS");
        __builtin_cpu_init();
        wide = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && !(requested && strcmp(requested, "baseline") == 0);
    }
    return wide;
#else
    return 0;
#endif
}

const char *ck_instruction_set(void) { return use_wide() ? "avx2+fma" : "baseline"; }
void ck_force_baseline(int enabled) { forced_baseline = enabled != 0; }

#ifdef HAVE_DISPATCH
#define DISPATCH(name, ...) (use_wide() ? name##_avx2(__VA_ARGS__) : name##_baseline(__VA_ARGS__))
#else
#define DISPATCH(name, ...) name##_baseline(__VA_ARGS__)
#endif

void ck_exp_f32(const float *x, float *y, ptrdiff_t n) { DISPATCH(exp, x, y, n); }
void ck_tanh_f32(const float *x, float *y, ptrdiff_t n) { DISPATCH(tanh, x, y, n); }
void ck_sigmoid_f32(const float *x, float *y, ptrdiff_t n) { DISPATCH(sigmoid, x, y, n); }
void ck_gelu_tanh_f32(const float *x, float *y, ptrdiff_t n) { DISPATCH(gelu_tanh, x, y, n); }
void ck_gelu_tanh_derivative_f32(const float *x, float *y, ptrdiff_t n) { DISPATCH(gelu_tanh_derivative, x, y, n); }
void ck_log_sum_exp_f32(const float *x, float *y, ptrdiff_t rows, ptrdiff_t columns) { DISPATCH(log_sum_exp, x, y, rows, columns); }
void ck_cross_entropy_gradient_f32(const float *x, const ptrdiff_t *labels, const float *scale, float *y, ptrdiff_t rows,
                                   ptrdiff_t columns) {
    DISPATCH(cross_entropy_gradient, x, labels, scale, y, rows, columns);
}
void ck_softmax_f32(const float *x, float *y, ptrdiff_t rows, ptrdiff_t columns, int log) { DISPATCH(softmax, x, y, rows, columns, log); }
