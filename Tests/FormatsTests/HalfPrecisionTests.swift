import Testing
import Formats
import TensorCore

/// F16 and BF16 conversions against known bit patterns and independent oracles.
@Suite("HalfPrecision")
struct HalfPrecisionTests {
    /// Bit patterns and values from the IEEE 754 binary16 definition.
    static let knownHalves: [(UInt16, Float)] = [
        (0x3C00, 1.0), (0xC000, -2.0), (0x7BFF, 65504), (0x0001, 0x1p-24), (0x03FF, 1023 * 0x1p-24),
        (0x0400, 0x1p-14), (0x3555, 0.333251953125), (0x0000, 0), (0x8000, -0.0), (0x7C00, .infinity),
        (0xFC00, -.infinity), (0x3800, 0.5), (0x4248, 3.140625),
    ]

    @Test func halfBitsWidenToTheirKnownValues() {
        for (bits, value) in Self.knownHalves {
            let widened = HalfPrecision.float(fromHalfBits: bits)
            #expect(widened.bitPattern == value.bitPattern, "0x\(String(bits, radix: 16)) gave \(widened), expected \(value)")
        }
        #expect(HalfPrecision.float(fromHalfBits: 0x7E00).isNaN)
        #expect(HalfPrecision.float(fromHalfBits: 0xFC01).isNaN)
    }

    @Test func knownValuesNarrowToTheirHalfBits() {
        for (bits, value) in Self.knownHalves {
            #expect(HalfPrecision.halfBits(from: value) == bits, "\(value)")
        }
    }

    @Test func narrowingRoundsToNearestWithTiesToEven() {
        let cases: [(Float, UInt16)] = [
            (1 + 0x1p-11, 0x3C00),  // halfway between 1 and the next half: even (1) wins
            (1 + 3 * 0x1p-11, 0x3C02),  // halfway, the odd neighbour below: round up to even
            (1 + 0x1p-11 + 0x1p-20, 0x3C01),  // just above halfway
            (65519, 0x7BFF),  // below the overflow threshold
            (65520, 0x7C00),  // halfway to 2^16: rounds to infinity
            (0x1p-25, 0x0000),  // half the smallest subnormal: ties to zero
            (0x1p-25 * 1.0001, 0x0001),
            (3 * 0x1p-25, 0x0002),  // halfway between subnormals 1 and 2: even
            (0x1p-14 - 0x1p-26, 0x0400),  // largest subnormal + more than half an ulp: smallest normal
            (1e-10, 0x0000), (-1e-10, 0x8000), (1e10, 0x7C00), (-1e10, 0xFC00),
        ]
        for (value, bits) in cases {
            #expect(HalfPrecision.halfBits(from: value) == bits, "\(value) gave 0x\(String(HalfPrecision.halfBits(from: value), radix: 16))")
        }
        let nan = HalfPrecision.halfBits(from: .nan)
        #expect(nan & 0x7C00 == 0x7C00 && nan & 0x03FF != 0)
    }

    @Test func everyHalfSurvivesARoundTripThroughFloat() {
        for bits in UInt16.min...UInt16.max {
            let value = HalfPrecision.float(fromHalfBits: bits)
            if value.isNaN { continue }
            #expect(HalfPrecision.halfBits(from: value) == bits)
        }
    }

    #if !(os(macOS) && arch(x86_64))
        /// Swift's own `Float16` is an independent implementation of the same conversions.
        @Test func wideningAgreesWithSwiftFloat16ForEveryBitPattern() {
            var mismatches = 0
            for bits in UInt16.min...UInt16.max {
                let oracle = Float(Float16(bitPattern: bits))
                let ours = HalfPrecision.float(fromHalfBits: bits)
                if oracle.isNaN ? !ours.isNaN : oracle.bitPattern != ours.bitPattern { mismatches += 1 }
            }
            #expect(mismatches == 0)
        }

        @Test func narrowingAgreesWithSwiftFloat16OnRandomFloats() {
            var generator = SeededGenerator(seed: 7)
            var mismatches: [Float] = []
            for _ in 0..<200_000 {
                // Random bit patterns cover every exponent; keep those near the half range dense.
                var bits = UInt32.random(in: 0...UInt32.max, using: &generator)
                if bits & 1 == 0 { bits = (bits & 0x87FF_FFFF) | 0x3000_0000 }
                let value = Float(bitPattern: bits)
                if value.isNaN { continue }
                if HalfPrecision.halfBits(from: value) != Float16(value).bitPattern { mismatches.append(value) }
            }
            #expect(mismatches.isEmpty, "first mismatches: \(mismatches.prefix(5))")
        }
    #endif

    @Test func bfloat16KnownBitPatterns() {
        let cases: [(Float, UInt16)] = [
            (1, 0x3F80), (-2, 0xC000), (0, 0x0000), (-0.0, 0x8000), (.infinity, 0x7F80), (-.infinity, 0xFF80),
            (.pi, 0x4049), (0.1, 0x3DCD), (Float.greatestFiniteMagnitude, 0x7F80),
            (Float(bitPattern: 0x3F80_8000), 0x3F80),  // tie, even below
            (Float(bitPattern: 0x3F81_8000), 0x3F82),  // tie, even above
            (Float(bitPattern: 0x3F80_8001), 0x3F81),
        ]
        for (value, bits) in cases {
            #expect(HalfPrecision.bfloat16Bits(from: value) == bits, "\(value)")
        }
        #expect(HalfPrecision.float(fromBFloat16Bits: 0x3F80) == 1)
        #expect(HalfPrecision.float(fromBFloat16Bits: 0xC040) == -3)
        #expect(HalfPrecision.float(fromBFloat16Bits: HalfPrecision.bfloat16Bits(from: .nan)).isNaN)
    }

    /// An independent rounding rule: of the two bfloat16 neighbours, the nearer in exact
    /// (Double) arithmetic, the even one on a tie.
    @Test func bfloat16NarrowingPicksTheNearestNeighbour() {
        var generator = SeededGenerator(seed: 11)
        for _ in 0..<100_000 {
            let value = Float(bitPattern: UInt32.random(in: 0...UInt32.max, using: &generator))
            guard value.isFinite, abs(value) < 0x1p127 else { continue }
            let below = UInt16(value.bitPattern >> 16)
            let above = below + 1
            let distanceBelow = abs(Double(value) - Double(HalfPrecision.float(fromBFloat16Bits: below)))
            let distanceAbove = abs(Double(value) - Double(HalfPrecision.float(fromBFloat16Bits: above)))
            let expected =
                distanceBelow < distanceAbove
                ? below
                : distanceAbove < distanceBelow ? above : (below & 1 == 0 ? below : above)
            #expect(HalfPrecision.bfloat16Bits(from: value) == expected, "\(value)")
        }
    }
}
