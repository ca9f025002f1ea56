import TensorCore

/// Central finite differences, the oracle for every gradient in the test suites.
public enum FiniteDifferences {
    /// ∇f(x) by central differences, element by element:
    ///
    /// ```
    /// ∂f/∂x_i ≈ (f(x + h e_i) − f(x − h e_i)) / 2h
    /// ```
    /// Error O(h²); with h = 1e-5 in Float64 about 1e-9 relative for smooth functions.
    public static func gradient(at x: Tensor<Double>, step: Double = 1e-5, of f: (Tensor<Double>) -> Double) -> Tensor<Double> {
        var g = Tensor<Double>.zeros(shape: x.shape)
        var probe = x
        let flat = x.scalars
        g.withUnsafeMutableBufferPointer { out in
            for i in 0..<flat.count {
                probe.withUnsafeMutableBufferPointer { $0[i] = flat[i] + step }
                let plus = f(probe)
                probe.withUnsafeMutableBufferPointer { $0[i] = flat[i] - step }
                let minus = f(probe)
                probe.withUnsafeMutableBufferPointer { $0[i] = flat[i] }
                out[i] = (plus - minus) / (2 * step)
            }
        }
        return g
    }

    /// The Jacobian [f(x).count, x.count] by central differences.
    public static func jacobian(at x: Tensor<Double>, step: Double = 1e-5, of f: (Tensor<Double>) -> Tensor<Double>) -> Tensor<Double> {
        let flat = x.scalars
        var columns: [Tensor<Double>] = []
        var probe = x
        for i in 0..<flat.count {
            probe.withUnsafeMutableBufferPointer { $0[i] = flat[i] + step }
            let plus = f(probe).flattened()
            probe.withUnsafeMutableBufferPointer { $0[i] = flat[i] - step }
            let minus = f(probe).flattened()
            probe.withUnsafeMutableBufferPointer { $0[i] = flat[i] }
            columns.append((plus - minus) / (2 * step))
        }
        return Tensor.stacked(columns, along: 1)
    }
}

/// A seeded generator for tests, so every failure can be replayed.
public func testGenerator(_ seed: UInt64 = 42) -> SeededGenerator { SeededGenerator(seed: seed) }
