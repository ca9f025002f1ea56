/// Conversions between `Float` and the two 16-bit floating-point formats found in checkpoints,
/// working on bit patterns so that they behave the same on every platform.
///
/// ```
/// IEEE binary16 (F16):  sign 1 | exponent 5 (bias 15)  | fraction 10
/// bfloat16      (BF16): sign 1 | exponent 8 (bias 127) | fraction 7   = top half of a Float
/// ```
///
/// Narrowing rounds to nearest, ties to even, as IEEE 754 and NumPy do: values beyond the largest
/// finite half (65504) become infinity, values below half the smallest subnormal (2⁻²⁵) become
/// zero, and NaN stays NaN (made quiet, keeping the top payload bits).
public enum HalfPrecision {
    /// The `Float` whose value equals the binary16 number with the given bits; exact, since every
    /// half value is a float.
    ///
    /// ```
    /// exponent 0        → ±fraction · 2⁻²⁴               (zero and subnormals)
    /// exponent 1...30   → ±(1 + fraction/2¹⁰) · 2^(exponent − 15)
    /// exponent 31       → ±infinity (fraction 0) or NaN (payload kept)
    /// ```
    @inlinable
    public static func float(fromHalfBits bits: UInt16) -> Float {
        let sign = UInt32(bits & 0x8000) << 16
        let exponent = UInt32(bits >> 10) & 0x1F
        let fraction = UInt32(bits & 0x03FF)
        switch exponent {
        case 0:
            // Subnormal: fraction · 2⁻²⁴, exact because the fraction has at most 10 bits.
            let magnitude = Float(fraction) * 0x1p-24
            return Float(bitPattern: magnitude.bitPattern | sign)
        case 31:
            return Float(bitPattern: sign | 0x7F80_0000 | (fraction << 13))
        default:
            // Rebias the exponent from 15 to 127 and widen the fraction from 10 to 23 bits.
            return Float(bitPattern: sign | ((exponent + 112) << 23) | (fraction << 13))
        }
    }

    /// The binary16 bits nearest to `value`, ties to even.
    @inlinable
    public static func halfBits(from value: Float) -> UInt16 {
        let bits = value.bitPattern
        let sign = UInt16(truncatingIfNeeded: (bits >> 16) & 0x8000)
        let floatExponent = Int((bits >> 23) & 0xFF)
        let fraction = bits & 0x007F_FFFF
        if floatExponent == 0xFF {
            // Infinity, or NaN made quiet with the top 9 payload bits kept.
            return fraction == 0 ? sign | 0x7C00 : sign | 0x7E00 | UInt16(truncatingIfNeeded: fraction >> 13)
        }
        let exponent = floatExponent - 127 + 15
        if exponent >= 31 { return sign | 0x7C00 }
        if exponent <= 0 {
            // The result is subnormal (or rounds up to the smallest normal, which the carry
            // into the exponent field represents correctly). Below 2⁻²⁵ it is zero.
            if exponent < -10 { return sign }
            let significand = fraction | 0x0080_0000
            let shift = UInt32(14 - exponent)
            var half = significand >> shift
            let remainder = significand & ((1 << shift) - 1)
            let halfway: UInt32 = 1 << (shift - 1)
            if remainder > halfway || (remainder == halfway && half & 1 == 1) { half += 1 }
            return sign | UInt16(truncatingIfNeeded: half)
        }
        var half = (UInt32(exponent) << 10) | (fraction >> 13)
        let remainder = fraction & 0x1FFF
        // A carry out of the fraction increments the exponent; from 30 it gives infinity.
        if remainder > 0x1000 || (remainder == 0x1000 && half & 1 == 1) { half += 1 }
        return sign | UInt16(truncatingIfNeeded: half)
    }

    /// The `Float` whose top 16 bits are `bits` (exact).
    @inlinable
    public static func float(fromBFloat16Bits bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }

    /// The bfloat16 bits nearest to `value`, ties to even.
    ///
    /// Adding `0x7FFF` plus the lowest kept bit before truncating rounds the dropped 16 bits to
    /// nearest with ties to even; a carry may propagate into the exponent, which is the correct
    /// result (up to infinity).
    @inlinable
    public static func bfloat16Bits(from value: Float) -> UInt16 {
        let bits = value.bitPattern
        if value.isNaN { return UInt16(truncatingIfNeeded: bits >> 16) | 0x0040 }
        let bias = 0x7FFF + ((bits >> 16) & 1)
        return UInt16(truncatingIfNeeded: (bits &+ bias) >> 16)
    }
}
