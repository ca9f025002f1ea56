// Single-precision elementwise and row kernels with runtime dispatch on the CPU's features: an
// AVX2 + FMA build of every kernel when the processor has both, the baseline x86-64 (SSE2) build
// otherwise. The Swift code is compiled for baseline x86-64, so these are where the wide vectors
// are used. Every kernel is sequential; callers split work across threads.
#ifndef CKERNELS_H
#define CKERNELS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// The instruction set the kernels run with on this CPU: "avx2+fma" or "baseline".
const char *ck_instruction_set(void);
/// Forces the baseline kernels (1) on the calling thread or restores the dispatch on CPU features (0); for tests.
void ck_force_baseline(int enabled);

/// y[i] = e^{x[i]}: Cody–Waite reduction and a degree-7 polynomial, relative error below 2·10⁻⁷.
void ck_exp_f32(const float *x, float *y, ptrdiff_t n);
/// y[i] = tanh x[i] (relative error below 2·10⁻⁶).
void ck_tanh_f32(const float *x, float *y, ptrdiff_t n);
/// y[i] = 1/(1 + e^{−x[i]}).
void ck_sigmoid_f32(const float *x, float *y, ptrdiff_t n);
/// The tanh approximation of GELU, ½x(1 + tanh(√(2/π)(x + 0.044715x³))), and its derivative.
void ck_gelu_tanh_f32(const float *x, float *y, ptrdiff_t n);
void ck_gelu_tanh_derivative_f32(const float *x, float *y, ptrdiff_t n);

/// y[r] = log Σ_c e^{x[r, c]} over rows of `columns` contiguous values (the row maximum subtracted
/// first); a row whose maximum is not finite gives that maximum (−∞, +∞ or NaN).
void ck_log_sum_exp_f32(const float *x, float *y, ptrdiff_t rows, ptrdiff_t columns);
/// y[r, :] = scale[r]·(softmax(x[r, :]) − onehot(labels[r])): the gradient of scale-weighted
/// cross-entropy with respect to the logits.
void ck_cross_entropy_gradient_f32(const float *x, const ptrdiff_t *labels, const float *scale, float *y,
                                   ptrdiff_t rows, ptrdiff_t columns);
/// Row-wise softmax, or log-softmax when `log` is non-zero.
void ck_softmax_f32(const float *x, float *y, ptrdiff_t rows, ptrdiff_t columns, int log);

#ifdef __cplusplus
}
#endif

#endif
