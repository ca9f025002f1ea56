import CKernels

/// The geometry of a 2-D sliding window (a convolution's kernel or a pooling window) over
/// `[batch, channels, height, width]` images, PyTorch's conventions:
///
/// ```
/// out = ⌊(in + 2·padding − dilation·(kernel − 1) − 1) / stride⌋ + 1     (per spatial axis)
/// ```
public struct WindowGeometry: Equatable, Sendable, CustomStringConvertible {
    /// `(height, width)` of the window.
    public var kernel: (Int, Int)
    /// `(height, width)` step between consecutive window positions.
    public var stride: (Int, Int)
    /// Zeros added on each side.
    public var padding: (Int, Int)
    /// `(height, width)` spacing between the window's taps; 1 is a dense window.
    public var dilation: (Int, Int)

    /// Creates a window geometry; every pair is `(height, width)`.
    ///
    /// - Parameters:
    ///   - kernel: The window's extent.
    ///   - stride: The step between window positions.
    ///   - padding: The zeros added on each side of the image.
    ///   - dilation: The spacing between window taps.
    public init(kernel: (Int, Int), stride: (Int, Int) = (1, 1), padding: (Int, Int) = (0, 0), dilation: (Int, Int) = (1, 1)) {
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
    }

    /// Two geometries are equal when kernel, stride, padding and dilation all match (tuples are not `Equatable`, so this is written out).
    public static func == (a: WindowGeometry, b: WindowGeometry) -> Bool {
        a.kernel == b.kernel && a.stride == b.stride && a.padding == b.padding && a.dilation == b.dilation
    }

    /// Window positions along one axis of `size` elements, or nil when the window does not fit.
    static func outputLength(_ size: Int, kernel: Int, stride: Int, padding: Int, dilation: Int) -> Int? {
        let span = dilation * (kernel - 1) + 1
        let padded = size + 2 * padding
        guard kernel > 0, stride > 0, padding >= 0, dilation > 0, padded >= span else { return nil }
        return (padded - span) / stride + 1
    }

    /// `(height, width)` of the output for an input of `(height, width)`, or nil when the
    /// window (dilated) is larger than the padded input or a setting is not positive.
    public func outputSize(height: Int, width: Int) -> (Int, Int)? {
        guard let h = Self.outputLength(height, kernel: kernel.0, stride: stride.0, padding: padding.0, dilation: dilation.0),
            let w = Self.outputLength(width, kernel: kernel.1, stride: stride.1, padding: padding.1, dilation: dilation.1)
        else { return nil }
        return (h, w)
    }

    /// The number of elements of one window per channel, `kernel.0 × kernel.1`.
    public var windowSize: Int { kernel.0 * kernel.1 }

    /// The four settings as `kernel h×w, stride h×w, padding h×w, dilation h×w`.
    public var description: String {
        "kernel \(kernel.0)×\(kernel.1), stride \(stride.0)×\(stride.1), padding \(padding.0)×\(padding.1), dilation \(dilation.0)×\(dilation.1)"
    }
}

extension WindowGeometry {
    func kernelGeometry(channels: Int, height: Int, width: Int, output: (Int, Int)) -> ck_window_geometry {
        ck_window_geometry(
            channels: channels, height: height, width: width, kernel_h: kernel.0, kernel_w: kernel.1, stride_h: stride.0,
            stride_w: stride.1, pad_h: padding.0, pad_w: padding.1, dilation_h: dilation.0, dilation_w: dilation.1,
            out_h: output.0, out_w: output.1)
    }
}

extension Tensor {
    /// Max pooling's choice in each window of `[batch, channels, height, width]` images: the flat
    /// index into this tensor of the window's first largest value (or first NaN), scanning it row by
    /// row as PyTorch does, padding never chosen; `[batch · channels · oh · ow]` indices in
    /// row-major output order.
    ///
    /// - Precondition: the window fits and padding is at most half the kernel.
    public func maxPoolingIndices(_ geometry: WindowGeometry) -> [Int] {
        precondition(rank == 4, "maxPoolingIndices needs [batch, channels, height, width], shape is \(shape)")
        let (planes, h, w) = (shape[0] * shape[1], shape[2], shape[3])
        guard let (oh, ow) = geometry.outputSize(height: h, width: w),
            2 * geometry.padding.0 <= geometry.kernel.0, 2 * geometry.padding.1 <= geometry.kernel.1
        else {
            preconditionFailure("pooling window \(geometry) does not fit an image of \(h)×\(w)")
        }
        let g = geometry.kernelGeometry(channels: 1, height: h, width: w, output: (oh, ow))
        var indices = [Int](repeating: 0, count: planes * oh * ow)
        withUnsafeBufferPointer { src in
            indices.withUnsafeMutableBufferPointer { out in
                let x = UnsafeRawPointer(src.baseAddress!), o = out.baseAddress!
                Parallelism.forEachChunk(count: planes, minimumChunk: Swift.max(1, (1 << 16) / Swift.max(1, h * w))) { p in
                    withUnsafePointer(to: g) { g in
                        if Scalar.self == Float.self {
                            ck_max_pool_indices_f32(
                                x.assumingMemoryBound(to: Float.self) + p.lowerBound * h * w, o + p.lowerBound * oh * ow,
                                p.lowerBound, p.count, g)
                        } else {
                            ck_max_pool_indices_f64(
                                x.assumingMemoryBound(to: Double.self) + p.lowerBound * h * w, o + p.lowerBound * oh * ow,
                                p.lowerBound, p.count, g)
                        }
                    }
                }
            }
        }
        return indices
    }

    /// The windows of `[batch, channels, height, width]` images as rows (im2col):
    /// `[batch, positions, channels × kh × kw]`, positions in row-major output order and each row
    /// ordered (channel, kernel row, kernel column) — the layout of PyTorch's `unfold` transposed,
    /// so that a convolution is `unfolded · Wᵀ` with W `[out, in, kh, kw]` viewed as `[out, in·kh·kw]`.
    /// Positions that fall in the padding read zero.
    public func unfoldedWindows(_ geometry: WindowGeometry) -> Tensor {
        precondition(rank == 4, "unfoldedWindows needs [batch, channels, height, width], shape is \(shape)")
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        guard let (oh, ow) = geometry.outputSize(height: h, width: w) else {
            preconditionFailure("window \(geometry) does not fit an image of \(h)×\(w)")
        }
        let g = geometry.kernelGeometry(channels: c, height: h, width: w, output: (oh, ow))
        let columns = c * geometry.kernel.0 * geometry.kernel.1, positions = oh * ow
        let imageSize = c * h * w, rowsSize = positions * columns
        return Tensor(shape: [n, positions, columns]) { out in
            withUnsafeBufferPointer { src in
                let x = UnsafeRawPointer(src.baseAddress!), rows = UnsafeMutableRawPointer(out)
                Parallelism.forEachChunk(count: n, minimumChunk: Swift.max(1, (1 << 16) / Swift.max(1, rowsSize))) { images in
                    withUnsafePointer(to: g) { g in
                        if Scalar.self == Float.self {
                            ck_unfold_windows_f32(
                                x.assumingMemoryBound(to: Float.self) + images.lowerBound * imageSize,
                                rows.assumingMemoryBound(to: Float.self) + images.lowerBound * rowsSize, images.count, g)
                        } else {
                            ck_unfold_windows_f64(
                                x.assumingMemoryBound(to: Double.self) + images.lowerBound * imageSize,
                                rows.assumingMemoryBound(to: Double.self) + images.lowerBound * rowsSize, images.count, g)
                        }
                    }
                }
            }
        }
    }

    /// The adjoint of ``unfoldedWindows(_:)`` (col2im): rows `[batch, positions, channels × kh × kw]`
    /// summed back into images of `[batch, channels, height, width]`, overlapping windows adding up
    /// and padding positions dropped.
    public static func foldedWindows(_ rows: Tensor, _ geometry: WindowGeometry, imageShape: [Int]) -> Tensor {
        precondition(imageShape.count == 4, "foldedWindows needs an image shape [batch, channels, height, width], got \(imageShape)")
        let (n, c, h, w) = (imageShape[0], imageShape[1], imageShape[2], imageShape[3])
        guard let (oh, ow) = geometry.outputSize(height: h, width: w) else {
            preconditionFailure("window \(geometry) does not fit an image of \(h)×\(w)")
        }
        let g = geometry.kernelGeometry(channels: c, height: h, width: w, output: (oh, ow))
        let columns = c * geometry.kernel.0 * geometry.kernel.1, positions = oh * ow
        precondition(rows.shape == [n, positions, columns], "foldedWindows: rows \(rows.shape) should be \([n, positions, columns]) for images \(imageShape)")
        let imageSize = c * h * w, rowsSize = positions * columns
        var result = Tensor.zeros(shape: imageShape)
        result.withUnsafeMutableBufferPointer { dst in
            rows.withUnsafeBufferPointer { src in
                let x = UnsafeMutableRawPointer(dst.baseAddress!), r = UnsafeRawPointer(src.baseAddress!)
                // Images are disjoint, so threads split them without sharing a sum.
                Parallelism.forEachChunk(count: n, minimumChunk: Swift.max(1, (1 << 16) / Swift.max(1, rowsSize))) { images in
                    withUnsafePointer(to: g) { g in
                        if Scalar.self == Float.self {
                            ck_fold_windows_f32(
                                r.assumingMemoryBound(to: Float.self) + images.lowerBound * rowsSize,
                                x.assumingMemoryBound(to: Float.self) + images.lowerBound * imageSize, images.count, g)
                        } else {
                            ck_fold_windows_f64(
                                r.assumingMemoryBound(to: Double.self) + images.lowerBound * rowsSize,
                                x.assumingMemoryBound(to: Double.self) + images.lowerBound * imageSize, images.count, g)
                        }
                    }
                }
            }
        }
        return result
    }
}
