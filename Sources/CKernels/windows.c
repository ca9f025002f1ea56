// Sliding windows of images (im2col), their adjoint (col2im) and max pooling's choices, for
// Float and Double. Plain loops over contiguous runs: the compiler vectorises the
// inner copies, and these are memory-bound anyway.
#include "CKernels.h"

#define WINDOW_KERNELS(T, SUFFIX)                                                                                     \
    void ck_unfold_windows_##SUFFIX(const T *x, T *rows, ptrdiff_t batch, const ck_window_geometry *g) {            \
        const ptrdiff_t c = g->channels, h = g->height, w = g->width, kh = g->kernel_h, kw = g->kernel_w;            \
        const ptrdiff_t columns = c * kh * kw, positions = g->out_h * g->out_w;                                      \
        for (ptrdiff_t b = 0; b < batch; b++) {                                                                      \
            for (ptrdiff_t oy = 0; oy < g->out_h; oy++) {                                                            \
                for (ptrdiff_t ox = 0; ox < g->out_w; ox++) {                                                        \
                    T *row = rows + (b * positions + oy * g->out_w + ox) * columns;                                  \
                    const ptrdiff_t x0 = ox * g->stride_w - g->pad_w;                                                \
                    for (ptrdiff_t ch = 0; ch < c; ch++) {                                                           \
                        const T *image = x + (b * c + ch) * h * w;                                                   \
                        for (ptrdiff_t ky = 0; ky < kh; ky++) {                                                      \
                            const ptrdiff_t y = oy * g->stride_h - g->pad_h + ky * g->dilation_h;                    \
                            T *out = row + (ch * kh + ky) * kw;                                                      \
                            if (y < 0 || y >= h) {                                                                   \
                                for (ptrdiff_t kx = 0; kx < kw; kx++) out[kx] = 0;                                   \
                                continue;                                                                            \
                            }                                                                                        \
                            const T *line = image + y * w;                                                           \
                            for (ptrdiff_t kx = 0; kx < kw; kx++) {                                                  \
                                const ptrdiff_t xx = x0 + kx * g->dilation_w;                                        \
                                out[kx] = (xx >= 0 && xx < w) ? line[xx] : 0;                                        \
                            }                                                                                        \
                        }                                                                                            \
                    }                                                                                                \
                }                                                                                                    \
            }                                                                                                        \
        }                                                                                                            \
    }                                                                                                                \
                                                                                                                     \
    void ck_fold_windows_##SUFFIX(const T *rows, T *x, ptrdiff_t batch, const ck_window_geometry *g) {              \
        const ptrdiff_t c = g->channels, h = g->height, w = g->width, kh = g->kernel_h, kw = g->kernel_w;            \
        const ptrdiff_t columns = c * kh * kw, positions = g->out_h * g->out_w;                                      \
        for (ptrdiff_t b = 0; b < batch; b++) {                                                                      \
            for (ptrdiff_t oy = 0; oy < g->out_h; oy++) {                                                            \
                for (ptrdiff_t ox = 0; ox < g->out_w; ox++) {                                                        \
                    const T *row = rows + (b * positions + oy * g->out_w + ox) * columns;                            \
                    const ptrdiff_t x0 = ox * g->stride_w - g->pad_w;                                                \
                    for (ptrdiff_t ch = 0; ch < c; ch++) {                                                           \
                        T *image = x + (b * c + ch) * h * w;                                                         \
                        for (ptrdiff_t ky = 0; ky < kh; ky++) {                                                      \
                            const ptrdiff_t y = oy * g->stride_h - g->pad_h + ky * g->dilation_h;                    \
                            if (y < 0 || y >= h) continue;                                                           \
                            const T *in = row + (ch * kh + ky) * kw;                                                 \
                            T *line = image + y * w;                                                                 \
                            for (ptrdiff_t kx = 0; kx < kw; kx++) {                                                  \
                                const ptrdiff_t xx = x0 + kx * g->dilation_w;                                        \
                                if (xx >= 0 && xx < w) line[xx] += in[kx];                                           \
                            }                                                                                        \
                        }                                                                                            \
                    }                                                                                                \
                }                                                                                                    \
            }                                                                                                        \
        }                                                                                                            \
    }

WINDOW_KERNELS(float, f32)
WINDOW_KERNELS(double, f64)

// Max pooling straight from the images: for each window, the flat index of its first largest value
// or first NaN, scanning the window row by row; padding never wins. `x` points at plane
// `first_plane` of the tensor the indices address.
#define MAX_POOL_KERNEL(T, SUFFIX)                                                                                    \
    void ck_max_pool_indices_##SUFFIX(const T *x, ptrdiff_t *indices, ptrdiff_t first_plane, ptrdiff_t planes,        \
                                      const ck_window_geometry *g) {                                                \
        const ptrdiff_t h = g->height, w = g->width;                                                                 \
        for (ptrdiff_t p = 0; p < planes; p++) {                                                                     \
            const T *image = x + p * h * w;                                                                          \
            for (ptrdiff_t oy = 0; oy < g->out_h; oy++) {                                                            \
                for (ptrdiff_t ox = 0; ox < g->out_w; ox++) {                                                        \
                    ptrdiff_t best = -1;                                                                             \
                    T value = 0;                                                                                     \
                    for (ptrdiff_t ky = 0; ky < g->kernel_h; ky++) {                                                 \
                        const ptrdiff_t y = oy * g->stride_h - g->pad_h + ky * g->dilation_h;                        \
                        if (y < 0 || y >= h) continue;                                                               \
                        for (ptrdiff_t kx = 0; kx < g->kernel_w; kx++) {                                             \
                            const ptrdiff_t xx = ox * g->stride_w - g->pad_w + kx * g->dilation_w;                   \
                            if (xx < 0 || xx >= w) continue;                                                         \
                            const T v = image[y * w + xx];                                                           \
                            if (best < 0 || v > value || (v != v && value == value)) {                               \
                                best = y * w + xx;                                                                   \
                                value = v;                                                                           \
                            }                                                                                        \
                        }                                                                                            \
                    }                                                                                                \
                    *indices++ = (first_plane + p) * h * w + (best < 0 ? 0 : best);                                  \
                }                                                                                                    \
            }                                                                                                        \
        }                                                                                                            \
    }

MAX_POOL_KERNEL(float, f32)
MAX_POOL_KERNEL(double, f64)
