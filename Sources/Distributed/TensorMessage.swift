import TensorCore

/// Bytes that carry tensors and integers between ranks: little-endian, self-describing enough to
/// be checked on arrival (a count, then per tensor its rank, dimensions and scalars).
///
/// ```swift
/// var message = TensorMessage()
/// message.append(covariances)          // [Tensor<Double>]
/// message.append([examples, tokens])   // [Int]
/// var reader = TensorMessage.Reader(message.bytes)
/// let tensors = try reader.tensors(Double.self); let counts = try reader.integers()
/// ```
public struct TensorMessage {
    /// The encoded message, to hand to a ``Communicator``.
    public private(set) var bytes: [UInt8] = []

    /// An empty message.
    public init() {}

    mutating func appendWord(_ value: UInt64) { withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) } }

    /// Appends integers.
    public mutating func append(_ values: [Int]) {
        appendWord(UInt64(values.count))
        for v in values { appendWord(UInt64(bitPattern: Int64(v))) }
    }

    /// Appends tensors with their shapes.
    public mutating func append<Scalar: TensorScalar>(_ tensors: [Tensor<Scalar>]) {
        appendWord(UInt64(tensors.count))
        for t in tensors {
            appendWord(UInt64(MemoryLayout<Scalar>.size))
            appendWord(UInt64(t.shape.count))
            for d in t.shape { appendWord(UInt64(d)) }
            t.withUnsafeBufferPointer { bytes.append(contentsOf: UnsafeRawBufferPointer($0)) }
        }
    }

    /// Reads what ``TensorMessage`` appended, in the same order.
    public struct Reader {
        let bytes: [UInt8]
        var offset = 0

        /// A reader at the start of `bytes`.
        public init(_ bytes: [UInt8]) { self.bytes = bytes }

        /// Whether every byte has been read.
        public var isAtEnd: Bool { offset == bytes.count }

        mutating func word() throws -> UInt64 {
            guard bytes.count - offset >= 8 else { throw CommunicatorError("a message ended early (\(bytes.count) bytes)") }
            var value: UInt64 = 0
            for i in (0..<8).reversed() { value = value << 8 | UInt64(bytes[offset + i]) }
            offset += 8
            return value
        }

        func checkedCount(_ value: UInt64, _ what: String) throws -> Int {
            guard value <= UInt64(bytes.count) else { throw CommunicatorError("a message names \(value) \(what) in \(bytes.count) bytes") }
            return Int(value)
        }

        /// Reads the next list of integers, as ``TensorMessage``'s `append` of `[Int]` wrote it.
        ///
        /// - Throws: ``CommunicatorError`` when the message ends early or names more integers than it holds.
        public mutating func integers() throws -> [Int] {
            let n = try checkedCount(try word(), "integers")
            return try (0..<n).map { _ in Int(Int64(bitPattern: try word())) }
        }

        /// Reads the next list of tensors with their shapes, as ``TensorMessage``'s `append` of `[Tensor]` wrote it.
        ///
        /// - Throws: ``CommunicatorError`` when the message ends early, names impossible sizes, or holds tensors of another
        ///   scalar size than `Scalar`'s.
        public mutating func tensors<Scalar: TensorScalar>(_: Scalar.Type) throws -> [Tensor<Scalar>] {
            let n = try checkedCount(try word(), "tensors")
            return try (0..<n).map { _ in
                guard try word() == UInt64(MemoryLayout<Scalar>.size) else { throw CommunicatorError("a message holds tensors of another precision") }
                let rank = try checkedCount(try word(), "dimensions")
                let shape = try (0..<rank).map { _ in try checkedCount(try word(), "elements") }
                var count = 1
                for d in shape {
                    let (product, overflow) = count.multipliedReportingOverflow(by: d)
                    guard !overflow else { throw CommunicatorError("a message names a tensor too large to hold") }
                    count = product
                }
                let (byteCount, tooLarge) = count.multipliedReportingOverflow(by: MemoryLayout<Scalar>.size)
                guard !tooLarge else { throw CommunicatorError("a message names a tensor too large to hold") }
                guard bytes.count - offset >= byteCount else { throw CommunicatorError("a message ended inside a tensor of shape \(shape)") }
                let start = offset
                offset += byteCount
                return Tensor<Scalar>(shape: shape) { out in
                    bytes.withUnsafeBytes { raw in
                        UnsafeMutableRawPointer(out).copyMemory(from: raw.baseAddress! + start, byteCount: byteCount)
                    }
                }
            }
        }
    }
}
