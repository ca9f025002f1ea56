/// A deterministic random number generator: xoshiro256** seeded through SplitMix64.
///
/// The same seed gives the same sequence on every run and every machine, which is what makes
/// initialisations, shuffles and sampled Fisher labels reproducible.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    /// Creates a generator whose four state words are drawn from SplitMix64 started at `seed`, so any seed (including 0) gives a usable state.
    public init(seed: UInt64) {
        var x = seed
        func splitMix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s0 = splitMix(); s1 = splitMix(); s2 = splitMix(); s3 = splitMix()
    }

    /// The next 64 random bits of the xoshiro256** sequence.
    public mutating func next() -> UInt64 {
        let result = rotate(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = rotate(s3, 45)
        return result
    }

    @inline(__always) private func rotate(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    /// A uniform number in [0, 1) with the full precision of `T`.
    public mutating func nextUniform<T: TensorScalar>(_: T.Type = T.self) -> T {
        let bits = T.significandBitCount + 1
        return T(next() >> UInt64(64 - bits)) * T(1) / T(UInt64(1) << UInt64(bits))
    }

    /// A standard normal number (Box–Muller), computed in Double.
    public mutating func nextNormal() -> Double {
        // 1 - u lies in (0, 1], so the logarithm is finite.
        let u1 = 1 - nextUniform(Double.self), u2 = nextUniform(Double.self)
        return (-2 * Double.log(u1)).squareRoot() * cos2pi(u2)
    }

    private func cos2pi(_ u: Double) -> Double {
        // cos via the standard library's Foundation-free path.
        return _cos(2 * Double.pi * u)
    }
}

#if canImport(Glibc)
    import Glibc
    @inline(__always) private func _cos(_ x: Double) -> Double { Glibc.cos(x) }
#else
    import Darwin
    @inline(__always) private func _cos(_ x: Double) -> Double { Darwin.cos(x) }
#endif
