/// Single-precision exp and tanh written with arithmetic, selects and bit operations only, so
/// that the loops calling them vectorise (glibc's `expf` and `tanhf` are scalar calls).
///
/// exp: Cody–Waite range reduction x = n·ln 2 + r, |r| ≤ ½ ln 2, a degree-7 polynomial for
/// e^r (the Cephes coefficients) and 2ⁿ assembled in the exponent bits. Relative error below
/// 2·10⁻⁷ on the normal range; 0 below −87.3 (where e^x is subnormal); +∞ above 88.72.
/// tanh: an odd Taylor polynomial for |x| < 1/16, else (1 − e^{−2|x|}) / (1 + e^{−2|x|});
/// relative error below 2·10⁻⁶.
enum FastMath {
    @inline(__always)
    static func exp(_ x: Float) -> Float {
        // e^x = e^{x+40}·e^{−40} for very negative x: the product rounds into the subnormal range.
        let low = x < -80
        let core = normalExp(low ? x + 40 : x)
        return low ? core * 4.248_354_255e-18 : core
    }

    /// e^x for results in the normal range; 0 below −87.34.
    @inline(__always)
    static func normalExp(_ x: Float) -> Float {
        let clamped = Swift.min(Swift.max(x, -87.336_54), 88.722_83)
        // Adding 1.5·2²³ rounds to an integer in the low mantissa bits (no conversion traps).
        let magic: Float = 12_582_912
        let shifted = clamped * 1.442_695_04 + magic
        let n = shifted - magic
        let r = clamped - n * 0.693_359_375 + n * 2.121_944_4e-4
        var p: Float = 1.987_569_15e-4
        p = p * r + 1.398_199_95e-3
        p = p * r + 8.333_451_9e-3
        p = p * r + 4.166_579_59e-2
        p = p * r + 0.166_666_655
        p = p * r + 0.500_000_01
        let y = p * r * r + r + 1
        // n = 128 near the top of the range: 2¹²⁸ is not a float, so use 2·2¹²⁷.
        let k = Int32(bitPattern: shifted.bitPattern) &- 0x4B40_0000
        let top = k > 127
        let exponent = ((top ? 127 : k) &+ 127) << 23
        let scaled = (top ? y * 2 : y) * Float(bitPattern: UInt32(bitPattern: exponent))
        let result = x > 88.722_83 ? Float.infinity : (x < -87.336_54 ? 0 : scaled)
        return x.isNaN ? x : result
    }

    @inline(__always)
    static func tanh(_ x: Float) -> Float {
        let a = Swift.abs(x)
        let e = exp(-2 * a)
        let large = (1 - e) / (1 + e)
        let a2 = a * a
        let small = a * (1 + a2 * (-0.333_333_33 + a2 * (0.133_333_33 + a2 * -0.053_968_254)))
        let t = a < 0.0625 ? small : large
        return x.isNaN ? x : (x < 0 ? -t : t)
    }
}
