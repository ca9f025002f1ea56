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
        const ptrdiff_t h = g->height, w = g->width, dh = g->dilation_h, dw = g->dilation_w;                        \
        for (ptrdiff_t p = 0; p < planes; p++) {                                                                     \
            const T *image = x + p * h * w;                                                                          \
            for (ptrdiff_t oy = 0; oy < g->out_h; oy++) {                                                            \
                const ptrdiff_t y0 = oy * g->stride_h - g->pad_h;                                                    \
                /* The window rows and columns inside the image: ky in [ky0, ky1), kx in [kx0, kx1). */              \
                ptrdiff_t ky0 = 0, ky1 = g->kernel_h;                                                                \
                while (ky0 < ky1 && y0 + ky0 * dh < 0) ky0++;                                                        \
                while (ky1 > ky0 && y0 + (ky1 - 1) * dh >= h) ky1--;                                                 \
                for (ptrdiff_t ox = 0; ox < g->out_w; ox++) {                                                        \
                    const ptrdiff_t x0 = ox * g->stride_w - g->pad_w;                                                \
                    ptrdiff_t kx0 = 0, kx1 = g->kernel_w;                                                            \
                    while (kx0 < kx1 && x0 + kx0 * dw < 0) kx0++;                                                    \
                    while (kx1 > kx0 && x0 + (kx1 - 1) * dw >= w) kx1--;                                             \
                    ptrdiff_t best = (y0 + ky0 * dh) * w + x0 + kx0 * dw;                                            \
                    T value = image[best];                                                                           \
                    for (ptrdiff_t ky = ky0; ky < ky1 && value == value; ky++) {                                     \
                        const T *line = image + (y0 + ky * dh) * w + x0;                                             \
                        for (ptrdiff_t kx = kx0; kx < kx1; kx++) {                                                   \
                            const T v = line[kx * dw];                                                               \
                            if (v > value || v != v) {                                                               \
                                best = (y0 + ky * dh) * w + x0 + kx * dw;                                            \
                                value = v;                                                                           \
                                if (v != v) break;                                                                   \
                            }                                                                                        \
                        }                                                                                            \
                    }                                                                                                \
                    *indices++ = (first_plane + p) * h * w + best;                                                   \
                }                                                                                                    \
            }                                                                                                        \
        }                                                                                                            \
    }

MAX_POOL_KERNEL(float, f32)
MAX_POOL_KERNEL(double, f64)
