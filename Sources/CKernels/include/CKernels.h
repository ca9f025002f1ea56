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

/// The geometry of sliding windows over `channels × height × width` images (PyTorch's conventions;
/// `out_h`, `out_w` the number of window positions, already checked to fit).
typedef struct {
    ptrdiff_t channels, height, width, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w, out_h, out_w;
} ck_window_geometry;
/// im2col: `rows[b, oy·out_w + ox, (ch·kh + ky)·kw + kx]` = the image value under that window
/// element, 0 in the padding; `rows` is `batch × positions × channels·kh·kw`.
void ck_unfold_windows_f32(const float *x, float *rows, ptrdiff_t batch, const ck_window_geometry *g);
void ck_unfold_windows_f64(const double *x, double *rows, ptrdiff_t batch, const ck_window_geometry *g);
/// col2im, the adjoint: every row element added into the image position it was read from (`x`
/// must start at zero, or hold what is added to).
void ck_fold_windows_f32(const float *rows, float *x, ptrdiff_t batch, const ck_window_geometry *g);
void ck_fold_windows_f64(const double *rows, double *x, ptrdiff_t batch, const ck_window_geometry *g);
/// Max pooling of `planes` images of `height × width` (g->channels is ignored), `x` pointing at
/// plane `first_plane` of a tensor: for each window, row-major over the planes and positions, the
/// flat index into that tensor of its first largest value (first NaN), scanning the window row by
/// row, as PyTorch's max pooling picks it; padding never wins.
void ck_max_pool_indices_f32(const float *x, ptrdiff_t *indices, ptrdiff_t first_plane, ptrdiff_t planes, const ck_window_geometry *g);
void ck_max_pool_indices_f64(const double *x, ptrdiff_t *indices, ptrdiff_t first_plane, ptrdiff_t planes, const ck_window_geometry *g);

#ifdef __cplusplus
}
#endif

#endif
