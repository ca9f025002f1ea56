extension Tensor {
    /// All zeros.
    public static func zeros(shape: [Int]) -> Tensor { Tensor(repeating: 0, shape: shape) }
    /// All ones.
    public static func ones(shape: [Int]) -> Tensor { Tensor(repeating: 1, shape: shape) }
    /// Every element equal to `value`.
    public static func full(_ value: Scalar, shape: [Int]) -> Tensor { Tensor(repeating: value, shape: shape) }
    /// Zeros of another tensor's shape.
    public static func zeros(like other: Tensor) -> Tensor { zeros(shape: other.shape) }
    /// Ones of another tensor's shape.
    public static func ones(like other: Tensor) -> Tensor { ones(shape: other.shape) }

    /// `[0, 1, …, end − 1]`.
    public static func arange(_ end: Scalar) -> Tensor { arange(0, end) }

    /// `[start, start + step, …]` up to but excluding `end`.
    public static func arange(_ start: Scalar, _ end: Scalar, step: Scalar = 1) -> Tensor {
        precondition(step != 0, "arange step must not be zero")
        let count = Swift.max(0, Int(((end - start) / step).rounded(.up)))
        return Tensor(shape: [count]) { p in for i in 0..<count { p[i] = start + Scalar(i) * step } }
    }

    /// The n × n identity matrix.
    public static func identity(_ n: Int) -> Tensor {
        var t = zeros(shape: [n, n])
        t.withUnsafeMutableBufferPointer { p in for i in 0..<n { p[i * n + i] = 1 } }
        return t
    }

    /// A square matrix with `diagonal` on its diagonal.
    public static func diagonal(_ diagonal: Tensor) -> Tensor {
        precondition(diagonal.rank == 1, "diagonal needs a rank-1 tensor, got shape \(diagonal.shape)")
        let n = diagonal.scalarCount
        var t = zeros(shape: [n, n])
        t.withUnsafeMutableBufferPointer { p in for i in 0..<n { p[i * n + i] = diagonal.storage.pointer[i] } }
        return t
    }

    /// Normal random numbers from a seeded generator.
    public static func randomNormal(
        shape: [Int], mean: Scalar = 0, standardDeviation: Scalar = 1,
        using generator: inout SeededGenerator
    ) -> Tensor {
        Tensor(shape: shape) { p in
            Scalar.randomKernel(p, count: shape.reduce(1, *), normal: true, mean, standardDeviation, using: &generator)
        }
    }

    /// Uniform random numbers in `[lower, upper)` from a seeded generator.
    public static func randomUniform(
        shape: [Int], lower: Scalar = 0, upper: Scalar = 1,
        using generator: inout SeededGenerator
    ) -> Tensor {
        Tensor(shape: shape) { p in
            Scalar.randomKernel(p, count: shape.reduce(1, *), normal: false, lower, upper, using: &generator)
        }
    }

    /// A dropout mask: `scale` with probability `keepProbability`, else 0.
    public static func bernoulliMask(
        shape: [Int], keepProbability: Double, scale: Scalar,
        using generator: inout SeededGenerator
    ) -> Tensor {
        precondition(keepProbability >= 0 && keepProbability <= 1, "keep probability must be in [0, 1], got \(keepProbability)")
        return Tensor(shape: shape) { p in
            Scalar.bernoulliKernel(p, count: shape.reduce(1, *), keep: keepProbability, scale: scale, using: &generator)
        }
    }
}
