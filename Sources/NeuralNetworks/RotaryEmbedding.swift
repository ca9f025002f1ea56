import Autograd
import Foundation
import TensorCore

/// How the frequencies of a rotary embedding are rescaled for longer contexts (Hugging Face's
/// `rope_scaling` / `rope_parameters`).
public enum RotaryScaling: Sendable, Equatable {
    /// The frequencies θ_i as they are.
    case none
    /// Every inverse frequency divided by `factor` (position interpolation).
    case linear(factor: Double)
    /// Llama 3.1's rule: wavelengths above `originalContext / lowFrequencyFactor` are divided by
    /// `factor`, those below `originalContext / highFrequencyFactor` kept, and the band between
    /// interpolated smoothly.
    case llama3(factor: Double, lowFrequencyFactor: Double, highFrequencyFactor: Double, originalContext: Int)
}

/// Rotary position embedding (Su et al. 2021, "RoFormer"): the first `dimension` features of each
/// query and key head are rotated in pairs (i, i + dimension/2) by the angle p·θ_i of their
/// position p, with θ_i = base^(−2i/dimension):
///
/// ```
/// x′ = x ⊙ cos(pθ) + rotate_half(x) ⊙ sin(pθ),   rotate_half([x₁; x₂]) = [−x₂; x₁]
/// ```
/// the "rotate half" layout of Llama and GPT-NeoX checkpoints. Features past `dimension` (GPT-NeoX's
/// partial rotary) pass unchanged. Frequencies and angles are computed in Float32 as Hugging Face
/// computes them, so that the tables agree with its to the last bit or so.
public struct RotaryEmbedding: Sendable, Equatable {
    /// The number of rotated features (even).
    public let dimension: Int
    /// The base of the frequencies θ_i = base^(−2i/dimension) (`rope_theta`).
    public let base: Double
    /// The rescaling applied to the inverse frequencies.
    public let scaling: RotaryScaling
    /// θ_i for i in 0..<dimension/2.
    public let inverseFrequencies: [Float]

    /// Computes the inverse frequencies θ_i in Float32 for i in 0..<dimension/2 and rescales them as `scaling` says.
    ///
    /// - Parameters:
    ///   - dimension: The number of rotated features of a head; positive and even.
    ///   - base: The frequency base (`rope_theta`).
    ///   - scaling: The long-context rescaling (none by default).
    public init(dimension: Int, base: Double, scaling: RotaryScaling = .none) {
        precondition(dimension > 0 && dimension % 2 == 0, "rotary dimension must be positive and even, got \(dimension)")
        self.dimension = dimension
        self.base = base
        self.scaling = scaling
        var inverse = (0..<(dimension / 2)).map { i -> Float in
            let exponent = Float(2 * i) / Float(dimension)
            return 1 / Float(Foundation.pow(base, Double(exponent)))
        }
        switch scaling {
        case .none: break
        case let .linear(factor): inverse = inverse.map { $0 / Float(factor) }
        case let .llama3(factor, low, high, original):
            let lowWavelength = Float(Double(original) / low), highWavelength = Float(Double(original) / high)
            inverse = inverse.map { f in
                let wavelength = 2 * Float.pi / f
                if wavelength < highWavelength { return f }
                if wavelength > lowWavelength { return f / Float(factor) }
                let smooth = (Float(original) / wavelength - Float(low)) / Float(high - low)
                return (1 - smooth) * f / Float(factor) + smooth * f
            }
        }
        inverseFrequencies = inverse
    }

    /// cos and sin of the angles for positions 0..<time, `[time, dimension]` each (the half
    /// frequencies repeated, as the rotate-half layout pairs them).
    public func tables<Scalar: TensorScalar>(time: Int, as _: Scalar.Type = Scalar.self) -> (cos: Tensor<Scalar>, sin: Tensor<Scalar>) {
        let half = dimension / 2
        var cosines = [Scalar](repeating: 0, count: time * dimension), sines = cosines
        for p in 0..<time {
            for i in 0..<half {
                let angle = Float(p) * inverseFrequencies[i]
                let c = Scalar(Double(Foundation.cos(angle))), s = Scalar(Double(Foundation.sin(angle)))
                cosines[p * dimension + i] = c
                cosines[p * dimension + i + half] = c
                sines[p * dimension + i] = s
                sines[p * dimension + i + half] = s
            }
        }
        return (Tensor(shape: [time, dimension], scalars: cosines), Tensor(shape: [time, dimension], scalars: sines))
    }

    /// Rotates the first ``dimension`` features of `x` `[batch, heads, time, headSize]` with the
    /// tables of ``tables(time:as:)``.
    public func callAsFunction<Scalar>(_ x: Variable<Scalar>, cos: Tensor<Scalar>, sin: Tensor<Scalar>) -> Variable<Scalar> {
        let headSize = x.shape[3]
        precondition(dimension <= headSize, "rotary dimension \(dimension) exceeds the head size \(headSize)")
        let rotated = dimension == headSize ? x : x.sliced(along: 3, 0..<dimension)
        let half = dimension / 2
        let rotatedHalf = Variable.concatenated([-rotated.sliced(along: 3, half..<dimension), rotated.sliced(along: 3, 0..<half)], along: 3)
        let result = rotated * Variable(cos) + rotatedHalf * Variable(sin)
        guard dimension < headSize else { return result }
        return Variable.concatenated([result, x.sliced(along: 3, dimension..<headSize)], along: 3)
    }
}
