import Foundation

/// One tensor listed in a safetensors header.
public struct SafeTensorsEntry: Equatable, Sendable {
    /// The tensor's key, e.g. `"encoder.layers.0.weight"`.
    public let name: String
    /// The element type, from the entry's `dtype` field (e.g. `F32`, `BF16`).
    public let dtype: SafeTensorsDType
    /// Dimension sizes, outermost first (row-major); `[]` for a scalar.
    public let shape: [Int]
    /// The tensor's bytes within the data buffer that follows the header.
    public let dataOffsets: Range<Int>

    /// The number of elements, the product of ``shape``.
    public var elementCount: Int { dataOffsets.count / dtype.byteSize }

    /// Creates an entry from its parts without validation; the file reader checks that `dataOffsets` holds exactly the bytes of `shape` in `dtype`.
    ///
    /// - Parameters:
    ///   - name: the tensor's key in the header.
    ///   - dtype: the element type.
    ///   - shape: dimension sizes, outermost first.
    ///   - dataOffsets: byte range within the data buffer that follows the header (not within the file).
    public init(name: String, dtype: SafeTensorsDType, shape: [Int], dataOffsets: Range<Int>) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.dataOffsets = dataOffsets
    }
}

/// The validated contents of a safetensors header.
struct SafeTensorsHeader {
    /// Entries in the order of their data offsets.
    let entries: [SafeTensorsEntry]
    let metadata: [String: String]
    /// Where the data buffer starts in the file: 8 + the header length.
    let dataStart: Int

    static let metadataKey = "__metadata__"

    /// Parses and validates the header of a whole safetensors file.
    ///
    /// Checks, in this order: the length field (within the file and at most
    /// ``SafeTensorsFile/maximumHeaderLength``), UTF-8, JSON, that the header is an object, the
    /// metadata, each entry (keys in sorted order, so that the first error reported does not
    /// depend on hashing), and finally that the entries tile the data buffer exactly, without
    /// overlaps or gaps, as the reference implementation requires.
    ///
    /// - Parameters:
    ///   - file: the file's bytes.
    ///   - path: the path used in error messages.
    /// - Throws: ``SafeTensorsError``.
    static func parse(_ file: UnsafeRawBufferPointer, path: String) throws -> SafeTensorsHeader {
        guard file.count >= 8 else { throw SafeTensorsError.fileTooShort(path: path, byteCount: file.count) }
        let headerLength = UInt64(littleEndian: file.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        let available = file.count - 8
        guard headerLength <= UInt64(available) else {
            throw SafeTensorsError.headerLengthOutOfBounds(path: path, headerLength: headerLength, availableBytes: available)
        }
        guard headerLength <= UInt64(SafeTensorsFile.maximumHeaderLength) else {
            throw SafeTensorsError.headerTooLarge(
                path: path, headerLength: headerLength,
                limit: SafeTensorsFile.maximumHeaderLength)
        }
        let dataStart = 8 + Int(headerLength)
        let headerBytes = UnsafeRawBufferPointer(rebasing: file[8..<dataStart])
        guard String(validating: headerBytes, as: UTF8.self) != nil else {
            throw SafeTensorsError.headerNotUTF8(path: path)
        }
        let json: JSONValue
        do {
            json = try JSONValue(parsing: Data(headerBytes))
        } catch {
            throw SafeTensorsError.headerNotJSON(path: path, reason: JSONValue.parsingFailureReason(error))
        }
        guard case .object(let members) = json else {
            throw SafeTensorsError.headerNotObject(path: path, found: json.typeName)
        }

        var metadata: [String: String] = [:]
        if let value = members[metadataKey] {
            guard case .object(let pairs) = value else {
                throw SafeTensorsError.invalidMetadata(path: path, key: nil, found: value.typeName)
            }
            for key in pairs.keys.sorted() {
                guard let string = pairs[key]?.stringValue else {
                    throw SafeTensorsError.invalidMetadata(path: path, key: key, found: pairs[key]?.typeName ?? "null")
                }
                metadata[key] = string
            }
        }

        let dataByteCount = file.count - dataStart
        var entries: [SafeTensorsEntry] = []
        for name in members.keys.sorted() where name != metadataKey {
            guard let value = members[name] else { continue }
            entries.append(try parseEntry(value, name: name, dataByteCount: dataByteCount, path: path))
        }
        entries.sort {
            ($0.dataOffsets.lowerBound, $0.dataOffsets.upperBound, $0.name)
                < ($1.dataOffsets.lowerBound, $1.dataOffsets.upperBound, $1.name)
        }
        try checkTiling(entries, dataByteCount: dataByteCount, path: path)
        return SafeTensorsHeader(entries: entries, metadata: metadata, dataStart: dataStart)
    }

    /// Validates one `name: {"dtype", "shape", "data_offsets"}` entry.
    private static func parseEntry(_ value: JSONValue, name: String, dataByteCount: Int, path: String) throws -> SafeTensorsEntry {
        guard case .object(let fields) = value else {
            throw SafeTensorsError.wrongFieldType(
                path: path, tensor: name, field: nil,
                expected: "an object with dtype, shape and data_offsets",
                found: value.typeName)
        }
        for field in ["dtype", "shape", "data_offsets"] where fields[field] == nil {
            throw SafeTensorsError.missingField(path: path, tensor: name, field: field)
        }
        let dtypeValue = fields["dtype"] ?? .null, shapeValue = fields["shape"] ?? .null
        let offsetsValue = fields["data_offsets"] ?? .null

        guard case .string(let dtypeName) = dtypeValue else {
            throw SafeTensorsError.wrongFieldType(
                path: path, tensor: name, field: "dtype", expected: "a string",
                found: dtypeValue.typeName)
        }
        guard let dtype = SafeTensorsDType(rawValue: dtypeName) else {
            throw SafeTensorsError.unknownDType(path: path, tensor: name, dtype: dtypeName)
        }

        guard case .array(let dimensions) = shapeValue else {
            throw SafeTensorsError.wrongFieldType(
                path: path, tensor: name, field: "shape",
                expected: "an array of integers", found: shapeValue.typeName)
        }
        var shape: [Int] = []
        for (index, dimension) in dimensions.enumerated() {
            guard let size = dimension.intValue, size >= 0 else {
                let shown = dimension.stringValue.map { "\"\($0)\" (a string)" } ?? dimension.description
                throw SafeTensorsError.invalidShapeDimension(path: path, tensor: name, dimension: index, value: shown)
            }
            shape.append(size)
        }

        guard case .array(let offsets) = offsetsValue, offsets.count == 2,
            let begin = offsets[0].intValue, let end = offsets[1].intValue, begin >= 0, end >= 0
        else {
            throw SafeTensorsError.invalidDataOffsets(path: path, tensor: name, found: offsetsValue.description)
        }
        guard begin <= end else {
            throw SafeTensorsError.dataOffsetsReversed(path: path, tensor: name, begin: begin, end: end)
        }
        guard end <= dataByteCount else {
            throw SafeTensorsError.dataOffsetsPastEnd(path: path, tensor: name, end: end, dataByteCount: dataByteCount)
        }
        guard let elementCount = checkedProduct(shape) else {
            throw SafeTensorsError.shapeOverflow(path: path, tensor: name, shape: shape)
        }
        let (byteCount, overflow) = elementCount.multipliedReportingOverflow(by: dtype.byteSize)
        guard !overflow else { throw SafeTensorsError.shapeOverflow(path: path, tensor: name, shape: shape) }
        guard byteCount == end - begin else {
            throw SafeTensorsError.byteCountMismatch(
                path: path, tensor: name, dtype: dtype.rawValue, shape: shape,
                expected: byteCount, found: end - begin)
        }
        return SafeTensorsEntry(name: name, dtype: dtype, shape: shape, dataOffsets: begin..<end)
    }

    /// Requires the sorted entries to cover `0..<dataByteCount` exactly once.
    private static func checkTiling(_ entries: [SafeTensorsEntry], dataByteCount: Int, path: String) throws {
        var position = 0
        var previous: String?
        for entry in entries {
            let range = entry.dataOffsets
            if range.lowerBound < position, let previous {
                throw SafeTensorsError.overlappingTensors(path: path, first: previous, second: entry.name)
            }
            if range.lowerBound > position {
                throw SafeTensorsError.gapBetweenTensors(
                    path: path, previous: previous, next: entry.name,
                    begin: position, end: range.lowerBound)
            }
            position = range.upperBound
            previous = entry.name
        }
        if position < dataByteCount {
            throw SafeTensorsError.gapBetweenTensors(
                path: path, previous: previous, next: nil,
                begin: position, end: dataByteCount)
        }
    }
}
