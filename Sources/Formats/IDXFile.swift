import Foundation
import TensorCore

/// A problem with an IDX file; every message names the file.
public enum IDXError: Error, CustomStringConvertible, Equatable {
    /// The first two bytes are not zero.
    case badMagic(path: String, bytes: [UInt8])
    /// The type byte is not one of ``IDXFile/ElementType``.
    case unknownElementType(path: String, code: UInt8)
    /// The file ends inside the magic number or the dimension sizes.
    case truncatedHeader(path: String, byteCount: Int, expected: Int)
    /// The data is shorter or longer than the dimensions require.
    case dataSizeMismatch(path: String, shape: [Int], expectedBytes: Int, foundBytes: Int)
    /// The product of the dimensions overflows.
    case shapeOverflow(path: String, shape: [Int])
    /// The requested accessor does not fit the element type (``IDXFile/bytes()`` on floats).
    case wrongElementType(path: String, elementType: String, requested: String)

    /// A one-line message that starts with the file path and gives the offending value and what was expected.
    public var description: String {
        switch self {
        case let .badMagic(path, bytes):
            let hex = bytes.map { String(format: "%02x", $0) }.joined(separator: " ")
            return "\(path): not an IDX file: magic number starts with \(hex), expected 00 00"
        case let .unknownElementType(path, code):
            return "\(path): unknown IDX element type 0x\(String(format: "%02X", code)) (expected 08, 09, 0B, 0C, 0D or 0E)"
        case let .truncatedHeader(path, count, expected):
            return "\(path): IDX header is truncated: file has \(count) bytes, the header needs \(expected)"
        case let .dataSizeMismatch(path, shape, expected, found):
            let what = found < expected ? "truncated" : "longer than its shape"
            return "\(path): IDX data is \(what): shape \(shape) needs \(expected) bytes, found \(found)"
        case let .shapeOverflow(path, shape):
            return "\(path): IDX shape \(shape) is too large"
        case let .wrongElementType(path, elementType, requested):
            return "\(path): IDX elements are \(elementType), cannot read them as \(requested)"
        }
    }
}

/// An IDX file (the format of MNIST and FashionMNIST), read whole and validated.
///
/// ```
/// 00 00 <type> <rank>           magic: type 08 u8, 09 i8, 0B i16, 0C i32, 0D f32, 0E f64
/// rank × big-endian u32         dimension sizes, outermost first
/// data                          big-endian elements, row-major
/// ```
///
/// Files compressed with gzip (`.gz`) are decompressed transparently.
///
/// ```swift
/// let images = try IDXFile(contentsOf: imagesURL)           // shape [60000, 28, 28], u8
/// let pixels = try images.tensor(as: Float.self) / 255
/// let labels = try IDXFile(contentsOf: labelsURL).integers() // [60000] in 0...9
/// ```
public struct IDXFile: Sendable {
    /// The element types of IDX, by their type byte.
    public enum ElementType: UInt8, Sendable, CaseIterable {
        case uint8 = 0x08
        case int8 = 0x09
        case int16 = 0x0B
        case int32 = 0x0C
        case float32 = 0x0D
        case float64 = 0x0E

        /// Bytes per element.
        public var byteSize: Int {
            switch self {
            case .uint8, .int8: return 1
            case .int16: return 2
            case .int32, .float32: return 4
            case .float64: return 8
            }
        }
    }

    /// The file that was read.
    public let url: URL
    /// The type of every element, from the third byte of the magic number.
    public let elementType: ElementType
    /// Dimension sizes, outermost first.
    public private(set) var shape: [Int]
    /// The element bytes, big-endian, without the header (a slice: indices do not start at 0).
    private let payload: Data

    /// Reads and validates the IDX file at `url`, decompressing it if it is gzip.
    ///
    /// - Throws: ``IDXError`` or ``GzipError``, naming the file.
    public init(contentsOf url: URL) throws {
        try self.init(data: try Gzip.contentsOfFile(at: url), url: url)
    }

    /// Reads the first `maximumItems` items (along the first axis) of the IDX file at `url`,
    /// decompressing no more than they need; ``shape``'s first axis is the number read. The rest
    /// of the file is not read, so damage there goes unnoticed; damage before is an error.
    ///
    /// - Throws: ``IDXError`` or ``GzipError``, naming the file.
    public init(contentsOf url: URL, maximumItems: Int) throws {
        precondition(maximumItems >= 0, "maximumItems must not be negative")
        // The header is at most 4 + 4 × 255 bytes.
        let head = try Gzip.contentsOfFile(at: url, maximumBytes: 4 + 4 * 255)
        let header = try IDXFile(data: head, url: url, requireCompleteData: false)
        guard let first = header.shape.first else { try self.init(contentsOf: url); return }
        let items = Swift.min(first, maximumItems)
        let itemBytes = header.shape.dropFirst().reduce(header.elementType.byteSize, *)
        let headerSize = 4 + 4 * header.shape.count
        let data = try Gzip.contentsOfFile(at: url, maximumBytes: headerSize + items * itemBytes)
        try self.init(data: data, url: url, requireCompleteData: false)
        guard payload.count == items * itemBytes else {
            throw IDXError.dataSizeMismatch(path: url.path, shape: header.shape, expectedBytes: items * itemBytes, foundBytes: payload.count)
        }
        shape = [items] + header.shape.dropFirst()
    }

    /// Validates IDX bytes (already decompressed); `url` is used in messages.
    ///
    /// - Throws: ``IDXError``.
    public init(data: Data, url: URL) throws { try self.init(data: data, url: url, requireCompleteData: true) }

    /// With `requireCompleteData` false, a payload shorter than the shape (a prefix) is accepted,
    /// and only whole items of it are kept.
    private init(data: Data, url: URL, requireCompleteData: Bool) throws {
        let path = url.path
        let bytes = [UInt8](data.prefix(4))
        guard bytes.count == 4 else { throw IDXError.truncatedHeader(path: path, byteCount: data.count, expected: 4) }
        guard bytes[0] == 0, bytes[1] == 0 else { throw IDXError.badMagic(path: path, bytes: Array(bytes[0..<2])) }
        guard let elementType = ElementType(rawValue: bytes[2]) else {
            throw IDXError.unknownElementType(path: path, code: bytes[2])
        }
        let rank = Int(bytes[3])
        let headerSize = 4 + 4 * rank
        guard data.count >= headerSize else {
            throw IDXError.truncatedHeader(path: path, byteCount: data.count, expected: headerSize)
        }
        let start = data.startIndex
        let shape = (0..<rank).map { axis -> Int in
            let offset = start + 4 + 4 * axis
            return data[offset..<(offset + 4)].reduce(0) { $0 << 8 | Int($1) }
        }
        // The non-zero sizes too must multiply without overflow: [0, 2³¹, 2³¹] holds nothing, but an
        // item of it (what a reader of the first items sizes) would overflow.
        guard let count = checkedProduct(shape), let nonZero = checkedProduct(shape.filter { $0 != 0 }),
            !nonZero.multipliedReportingOverflow(by: elementType.byteSize).overflow
        else { throw IDXError.shapeOverflow(path: path, shape: shape) }
        let (expected, overflow) = count.multipliedReportingOverflow(by: elementType.byteSize)
        guard !overflow else { throw IDXError.shapeOverflow(path: path, shape: shape) }
        let found = data.count - headerSize
        guard found == expected || (!requireCompleteData && found <= expected) else {
            throw IDXError.dataSizeMismatch(path: path, shape: shape, expectedBytes: expected, foundBytes: found)
        }
        self.url = url
        self.elementType = elementType
        self.shape = shape
        // A slice shares the buffer: no copy of the (possibly large) element data.
        self.payload = data[(start + headerSize)...]
    }

    /// The number of elements, the product of ``shape``.
    public var elementCount: Int { payload.count / elementType.byteSize }

    /// The elements converted to `Scalar`, in the file's shape.
    public func tensor<Scalar: TensorScalar>(as scalarType: Scalar.Type = Scalar.self) -> Tensor<Scalar> {
        let count = elementCount
        return Tensor<Scalar>(shape: shape) { output in
            // Dispatch to concrete loops: a generic per-element conversion called from another
            // module would go through witness tables for each of millions of pixels.
            if Scalar.self == Float.self {
                output.withMemoryRebound(to: Float.self, capacity: count) { decode(into: $0) }
            } else if Scalar.self == Double.self {
                output.withMemoryRebound(to: Double.self, capacity: count) { decode(into: $0) }
            } else {
                let doubles = UnsafeMutablePointer<Double>.allocate(capacity: count)
                defer { doubles.deallocate() }
                decode(into: doubles)
                for i in 0..<count { output[i] = Scalar(doubles[i]) }
            }
        }
    }

    private func decode(into output: UnsafeMutablePointer<Float>) { decodeElements(into: output) }
    private func decode(into output: UnsafeMutablePointer<Double>) { decodeElements(into: output) }

    /// Converts every big-endian element into `output`.
    @inline(__always)
    private func decodeElements<T: BinaryFloatingPoint>(into output: UnsafeMutablePointer<T>) {
        let count = elementCount
        payload.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            guard let source = raw.baseAddress else { return }
            @inline(__always) func load<I: FixedWidthInteger>(_ i: Int, _: I.Type) -> I {
                I(bigEndian: source.loadUnaligned(fromByteOffset: i * MemoryLayout<I>.size, as: I.self))
            }
            switch elementType {
            case .uint8: for i in 0..<count { output[i] = T(load(i, UInt8.self)) }
            case .int8: for i in 0..<count { output[i] = T(load(i, Int8.self)) }
            case .int16: for i in 0..<count { output[i] = T(load(i, Int16.self)) }
            case .int32: for i in 0..<count { output[i] = T(load(i, Int32.self)) }
            case .float32: for i in 0..<count { output[i] = T(Float(bitPattern: load(i, UInt32.self))) }
            case .float64: for i in 0..<count { output[i] = T(Double(bitPattern: load(i, UInt64.self))) }
            }
        }
    }

    /// The elements of a `u8` file, e.g. pixel intensities.
    ///
    /// - Throws: ``IDXError/wrongElementType(path:elementType:requested:)`` for other types.
    public func bytes() throws -> [UInt8] {
        guard elementType == .uint8 else {
            throw IDXError.wrongElementType(path: url.path, elementType: "\(elementType)", requested: "UInt8")
        }
        return [UInt8](payload)
    }

    /// The elements of an integer file (`u8`, `i8`, `i16`, `i32`), e.g. class labels.
    ///
    /// - Throws: ``IDXError/wrongElementType(path:elementType:requested:)`` for floating point.
    public func integers() throws -> [Int] {
        let count = elementCount
        return try payload.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> [Int] in
            guard let source = raw.baseAddress else { return [] }
            @inline(__always) func load<I: FixedWidthInteger>(_ i: Int, _: I.Type) -> Int {
                Int(I(bigEndian: source.loadUnaligned(fromByteOffset: i * MemoryLayout<I>.size, as: I.self)))
            }
            switch elementType {
            case .uint8: return (0..<count).map { load($0, UInt8.self) }
            case .int8: return (0..<count).map { load($0, Int8.self) }
            case .int16: return (0..<count).map { load($0, Int16.self) }
            case .int32: return (0..<count).map { load($0, Int32.self) }
            case .float32, .float64:
                throw IDXError.wrongElementType(path: url.path, elementType: "\(elementType)", requested: "Int")
            }
        }
    }
}
