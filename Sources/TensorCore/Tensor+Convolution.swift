/// The geometry of a 2-D sliding window (a convolution's kernel or a pooling window) over
/// `[batch, channels, height, width]` images, PyTorch's conventions:
///
/// ```
/// out = ⌊(in + 2·padding − dilation·(kernel − 1) − 1) / stride⌋ + 1     (per spatial axis)
/// ```
public struct WindowGeometry: Equatable, Sendable, CustomStringConvertible {
    /// `(height, width)` of the window.
    public var kernel: (Int, Int)
    public var stride: (Int, Int)
    /// Zeros added on each side.
    public var padding: (Int, Int)
    public var dilation: (Int, Int)

    public init(kernel: (Int, Int), stride: (Int, Int) = (1, 1), padding: (Int, Int) = (0, 0), dilation: (Int, Int) = (1, 1)) {
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
    }

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
              let w = Self.outputLength(width, kernel: kernel.1, stride: stride.1, padding: padding.1, dilation: dilation.1) else { return nil }
        return (h, w)
    }

    /// The number of elements of one window per channel, `kernel.0 × kernel.1`.
    public var windowSize: Int { kernel.0 * kernel.1 }

    public var description: String {
        "kernel \(kernel.0)×\(kernel.1), stride \(stride.0)×\(stride.1), padding \(padding.0)×\(padding.1), dilation \(dilation.0)×\(dilation.1)"
    }
}

extension Tensor {
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
        let (kh, kw) = geometry.kernel
        let columns = c * kh * kw, positions = oh * ow
        return Tensor(shape: [n, positions, columns]) { out in
            withUnsafeBufferPointer { src in
                let x = src.baseAddress!
                for b in 0..<n {
                    for oy in 0..<oh {
                        for ox in 0..<ow {
                            let row = out + (b * positions + oy * ow + ox) * columns
                            var k = 0
                            for ch in 0..<c {
                                let image = x + (b * c + ch) * h * w
                                for ky in 0..<kh {
                                    let y = oy * geometry.stride.0 - geometry.padding.0 + ky * geometry.dilation.0
                                    for kx in 0..<kw {
                                        let xx = ox * geometry.stride.1 - geometry.padding.1 + kx * geometry.dilation.1
                                        row[k] = (y >= 0 && y < h && xx >= 0 && xx < w) ? image[y * w + xx] : 0
                                        k += 1
                                    }
                                }
                            }
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
        let (kh, kw) = geometry.kernel
        let columns = c * kh * kw, positions = oh * ow
        precondition(rows.shape == [n, positions, columns], "foldedWindows: rows \(rows.shape) should be \([n, positions, columns]) for images \(imageShape)")
        var result = Tensor.zeros(shape: imageShape)
        result.withUnsafeMutableBufferPointer { dst in
            rows.withUnsafeBufferPointer { src in
                let x = dst.baseAddress!
                for b in 0..<n {
                    for oy in 0..<oh {
                        for ox in 0..<ow {
                            let row = src.baseAddress! + (b * positions + oy * ow + ox) * columns
                            var k = 0
                            for ch in 0..<c {
                                let image = x + (b * c + ch) * h * w
                                for ky in 0..<kh {
                                    let y = oy * geometry.stride.0 - geometry.padding.0 + ky * geometry.dilation.0
                                    for kx in 0..<kw {
                                        let xx = ox * geometry.stride.1 - geometry.padding.1 + kx * geometry.dilation.1
                                        if y >= 0 && y < h && xx >= 0 && xx < w { image[y * w + xx] += row[k] }
                                        k += 1
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return result
    }
}
