import Foundation

// Element decoding from little-endian bytes at any alignment. Each element is read with
// `loadUnaligned` and byte-swapped from little-endian (a no-op on x86-64 and arm64), so the same
// code is correct for data at odd offsets inside a memory mapping and on big-endian hosts.

extension SafeTensorsDType {
    /// Decodes `count` elements at `source` into `Float`s; for the types where
    /// ``convertsToFloatingPoint`` holds.
    func decodeFloats(_ source: UnsafeRawPointer, count: Int, into output: UnsafeMutablePointer<Float>) {
        #if _endian(little)
            if self == .float32 {
                memcpy(output, source, count * 4)
                return
            }
        #endif
        decode(source, count: count, into: output)
    }

    /// Decodes `count` elements at `source` into `Double`s; for the types where
    /// ``convertsToFloatingPoint`` holds.
    func decodeDoubles(_ source: UnsafeRawPointer, count: Int, into output: UnsafeMutablePointer<Double>) {
        #if _endian(little)
            if self == .float64 {
                memcpy(output, source, count * 8)
                return
            }
        #endif
        decode(source, count: count, into: output)
    }

    /// The generic loop behind ``decodeFloats(_:count:into:)`` and ``decodeDoubles(_:count:into:)``,
    /// specialised for each by the compiler.
    @inline(__always)
    private func decode<T: BinaryFloatingPoint>(_ source: UnsafeRawPointer, count: Int, into output: UnsafeMutablePointer<T>) {
        @inline(__always) func load<I: FixedWidthInteger>(_ i: Int, _: I.Type) -> I {
            I(littleEndian: source.loadUnaligned(fromByteOffset: i * MemoryLayout<I>.size, as: I.self))
        }
        switch self {
        case .float64: for i in 0..<count { output[i] = T(Double(bitPattern: load(i, UInt64.self))) }
        case .float32: for i in 0..<count { output[i] = T(Float(bitPattern: load(i, UInt32.self))) }
        case .float16: for i in 0..<count { output[i] = T(HalfPrecision.float(fromHalfBits: load(i, UInt16.self))) }
        case .bfloat16: for i in 0..<count { output[i] = T(HalfPrecision.float(fromBFloat16Bits: load(i, UInt16.self))) }
        case .int64: for i in 0..<count { output[i] = T(load(i, Int64.self)) }
        case .int32: for i in 0..<count { output[i] = T(load(i, Int32.self)) }
        case .int16: for i in 0..<count { output[i] = T(load(i, Int16.self)) }
        case .int8: for i in 0..<count { output[i] = T(load(i, Int8.self)) }
        case .uint64: for i in 0..<count { output[i] = T(load(i, UInt64.self)) }
        case .uint32: for i in 0..<count { output[i] = T(load(i, UInt32.self)) }
        case .uint16: for i in 0..<count { output[i] = T(load(i, UInt16.self)) }
        case .uint8: for i in 0..<count { output[i] = T(load(i, UInt8.self)) }
        case .bool: for i in 0..<count { output[i] = load(i, UInt8.self) == 0 ? 0 : 1 }
        case .float8E4M3, .float8E5M2: break  // refused by the caller
        }
    }

    /// Decodes `count` integer or boolean elements into `Int`s.
    ///
    /// - Returns: nil on success, or the first `U64` element that exceeds `Int.max`.
    func decodeIntegers(_ source: UnsafeRawPointer, count: Int, into output: UnsafeMutablePointer<Int>) -> UInt64? {
        @inline(__always) func load<I: FixedWidthInteger>(_ i: Int, _: I.Type) -> I {
            I(littleEndian: source.loadUnaligned(fromByteOffset: i * MemoryLayout<I>.size, as: I.self))
        }
        switch self {
        case .int64: for i in 0..<count { output[i] = Int(load(i, Int64.self)) }
        case .int32: for i in 0..<count { output[i] = Int(load(i, Int32.self)) }
        case .int16: for i in 0..<count { output[i] = Int(load(i, Int16.self)) }
        case .int8: for i in 0..<count { output[i] = Int(load(i, Int8.self)) }
        case .uint64:
            for i in 0..<count {
                let value = load(i, UInt64.self)
                guard let exact = Int(exactly: value) else { return value }
                output[i] = exact
            }
        case .uint32: for i in 0..<count { output[i] = Int(load(i, UInt32.self)) }
        case .uint16: for i in 0..<count { output[i] = Int(load(i, UInt16.self)) }
        case .uint8: for i in 0..<count { output[i] = Int(load(i, UInt8.self)) }
        case .bool: for i in 0..<count { output[i] = load(i, UInt8.self) == 0 ? 0 : 1 }
        case .float64, .float32, .float16, .bfloat16, .float8E4M3, .float8E5M2: break  // refused by the caller
        }
        return nil
    }
}
