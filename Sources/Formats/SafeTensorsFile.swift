import Foundation
import TensorCore

/// A safetensors file opened for reading: a validated header over a read-only memory mapping.
///
/// ```
/// [u64 little-endian N][N bytes of UTF-8 JSON header, space-padded][data buffer]
/// header: {"__metadata__": {"k": "v"}, "name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}, ...}
/// ```
///
/// Opening validates the whole header (see ``SafeTensorsError``) but reads no tensor data; the
/// mapping means a tensor's bytes are paged in only when that tensor is read, so opening a large
/// checkpoint to read a few tensors is cheap. Tensor data may sit at any byte offset, so
/// elements are read with unaligned loads.
///
/// ```swift
/// let file = try SafeTensorsFile(contentsOf: url)
/// for name in file.tensorNames { print(name, try file.entry(named: name).shape) }
/// let weight = try file.tensor(named: "fc.weight", as: Float.self)   // [out, in]
/// ```
public struct SafeTensorsFile: Sendable {
    /// The file that was opened.
    public let url: URL
    /// Every entry, ordered by data offset (the order in which the writer laid them out).
    public let entries: [SafeTensorsEntry]
    /// The `__metadata__` pairs; empty when the file has none.
    public let metadata: [String: String]

    private let mapping: MappedFile
    private let dataStart: Int
    private let indexByName: [String: Int]

    /// The longest header accepted, 100 MB, as in the reference implementation: a header is
    /// parsed into memory, so its length is bounded even though the data is not.
    public static let maximumHeaderLength = 100_000_000

    /// Maps the file at `url` and validates its header.
    ///
    /// - Throws: ``SafeTensorsError`` naming the file and, for an entry, the tensor.
    public init(contentsOf url: URL) throws {
        let path = url.path
        let mapping: MappedFile
        do {
            mapping = try MappedFile(path: path)
        } catch {
            throw SafeTensorsError.cannotOpen(path: path, reason: error.reason)
        }
        let header = try SafeTensorsHeader.parse(mapping.bytes, path: path)
        self.url = url
        self.mapping = mapping
        self.entries = header.entries
        self.metadata = header.metadata
        self.dataStart = header.dataStart
        self.indexByName = Dictionary(header.entries.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// Tensor names in the order of their data offsets.
    public var tensorNames: [String] { entries.map(\.name) }

    /// True when the file holds a tensor called `name`.
    public func contains(tensorNamed name: String) -> Bool { indexByName[name] != nil }

    /// The header entry (dtype, shape, offsets) of the tensor called `name`.
    ///
    /// - Throws: ``SafeTensorsError/tensorNotFound(path:tensor:available:)``.
    public func entry(named name: String) throws -> SafeTensorsEntry {
        guard let index = indexByName[name] else {
            throw SafeTensorsError.tensorNotFound(path: url.path, tensor: name, available: tensorNames)
        }
        return entries[index]
    }

    /// The tensor called `name`, converted to `Scalar`.
    ///
    /// Floating-point dtypes are widened exactly (`F16` and `BF16` through ``HalfPrecision``;
    /// `F64` to `Float` rounds to nearest); integer and boolean dtypes become their values.
    ///
    /// - Parameters:
    ///   - name: the tensor's key.
    ///   - scalarType: `Float.self` or `Double.self`.
    /// - Returns: a tensor of the entry's shape.
    /// - Throws: ``SafeTensorsError/tensorNotFound(path:tensor:available:)``, or
    ///   ``SafeTensorsError/unsupportedConversion(path:tensor:dtype:requested:)`` for 8-bit floats.
    public func tensor<Scalar: TensorScalar>(named name: String, as scalarType: Scalar.Type = Scalar.self) throws -> Tensor<Scalar> {
        let entry = try entry(named: name)
        guard entry.dtype.convertsToFloatingPoint else {
            throw SafeTensorsError.unsupportedConversion(
                path: url.path, tensor: name, dtype: entry.dtype.rawValue,
                requested: Scalar.typeName)
        }
        let count = entry.elementCount
        return withData(of: entry) { source in
            Tensor<Scalar>(shape: entry.shape) { output in
                guard let source, count > 0 else { return }
                if Scalar.self == Float.self {
                    output.withMemoryRebound(to: Float.self, capacity: count) {
                        entry.dtype.decodeFloats(source, count: count, into: $0)
                    }
                } else if Scalar.self == Double.self {
                    output.withMemoryRebound(to: Double.self, capacity: count) {
                        entry.dtype.decodeDoubles(source, count: count, into: $0)
                    }
                } else {
                    let doubles = UnsafeMutablePointer<Double>.allocate(capacity: count)
                    defer { doubles.deallocate() }
                    entry.dtype.decodeDoubles(source, count: count, into: doubles)
                    for i in 0..<count { output[i] = Scalar(doubles[i]) }
                }
            }
        }
    }

    /// The elements of an integer or boolean tensor, in row-major order.
    ///
    /// - Throws: ``SafeTensorsError/tensorNotFound(path:tensor:available:)``,
    ///   ``SafeTensorsError/unsupportedConversion(path:tensor:dtype:requested:)`` for a
    ///   floating-point tensor, or ``SafeTensorsError/valueOutOfRange(path:tensor:value:requested:)``
    ///   for a `U64` element above `Int.max`.
    public func integers(named name: String) throws -> [Int] {
        let entry = try entry(named: name)
        guard entry.dtype.isInteger else {
            throw SafeTensorsError.unsupportedConversion(
                path: url.path, tensor: name, dtype: entry.dtype.rawValue,
                requested: "Int")
        }
        let count = entry.elementCount
        return try withData(of: entry) { source in
            guard let source, count > 0 else { return [] }
            var result = [Int](repeating: 0, count: count)
            if let bad = result.withUnsafeMutableBufferPointer({ entry.dtype.decodeIntegers(source, count: count, into: $0.baseAddress!) }) {
                throw SafeTensorsError.valueOutOfRange(path: url.path, tensor: name, value: String(bad), requested: "Int")
            }
            return result
        }
    }

    /// A copy of the tensor's raw little-endian bytes.
    public func data(named name: String) throws -> Data {
        let entry = try entry(named: name)
        return withData(of: entry) { source in
            guard let source else { return Data() }
            return Data(bytes: source, count: entry.dataOffsets.count)
        }
    }

    /// Calls `body` with the address of the entry's first byte (nil for an empty tensor in an
    /// empty buffer) while the mapping is alive.
    private func withData<R>(of entry: SafeTensorsEntry, _ body: (UnsafeRawPointer?) throws -> R) rethrows -> R {
        try withExtendedLifetime(mapping) {
            try body(mapping.bytes.baseAddress.map { $0 + dataStart + entry.dataOffsets.lowerBound })
        }
    }
}
