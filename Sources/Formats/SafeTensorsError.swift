/// A problem with a safetensors file, found while opening, reading or writing it.
///
/// Every message starts with the file's path and names the tensor, the offending value and what
/// was expected, e.g.
/// `model.safetensors: tensor 'fc.weight': data_offsets [0, 40] hold 40 bytes, but F32 [3, 4] needs 48`.
public enum SafeTensorsError: Error, CustomStringConvertible, Equatable {
    // MARK: Opening
    /// The file cannot be opened or mapped.
    case cannotOpen(path: String, reason: String)
    /// The file is shorter than the 8-byte header length.
    case fileTooShort(path: String, byteCount: Int)
    /// The header length points past the end of the file.
    case headerLengthOutOfBounds(path: String, headerLength: UInt64, availableBytes: Int)
    /// The header is longer than ``SafeTensorsFile/maximumHeaderLength``.
    case headerTooLarge(path: String, headerLength: UInt64, limit: Int)
    /// The header is not valid UTF-8.
    case headerNotUTF8(path: String)
    /// The header is not valid JSON.
    case headerNotJSON(path: String, reason: String)
    /// The header is JSON but not an object.
    case headerNotObject(path: String, found: String)
    /// `__metadata__` is not an object of strings.
    case invalidMetadata(path: String, key: String?, found: String)

    // MARK: Entries
    /// A tensor entry lacks `dtype`, `shape` or `data_offsets`.
    case missingField(path: String, tensor: String, field: String)
    /// A tensor entry, or one of its fields, has the wrong JSON type.
    case wrongFieldType(path: String, tensor: String, field: String?, expected: String, found: String)
    /// The dtype is not one of ``SafeTensorsDType``.
    case unknownDType(path: String, tensor: String, dtype: String)
    /// A shape dimension is negative, fractional or too large.
    case invalidShapeDimension(path: String, tensor: String, dimension: Int, value: String)
    /// `data_offsets` is not a pair of non-negative integers.
    case invalidDataOffsets(path: String, tensor: String, found: String)
    /// `data_offsets` has its begin after its end.
    case dataOffsetsReversed(path: String, tensor: String, begin: Int, end: Int)
    /// `data_offsets` ends past the data that follows the header.
    case dataOffsetsPastEnd(path: String, tensor: String, end: Int, dataByteCount: Int)
    /// The byte size of the shape overflows `Int`.
    case shapeOverflow(path: String, tensor: String, shape: [Int])
    /// The bytes between the offsets do not match the shape and dtype.
    case byteCountMismatch(path: String, tensor: String, dtype: String, shape: [Int], expected: Int, found: Int)
    /// Two tensors share bytes.
    case overlappingTensors(path: String, first: String, second: String)
    /// Bytes of the data buffer belong to no tensor (`previous` nil: before the first tensor;
    /// `next` nil: after the last).
    case gapBetweenTensors(path: String, previous: String?, next: String?, begin: Int, end: Int)

    // MARK: Reading
    /// No tensor has the requested name.
    case tensorNotFound(path: String, tensor: String, available: [String])
    /// The tensor's dtype cannot be converted to the requested type.
    case unsupportedConversion(path: String, tensor: String, dtype: String, requested: String)
    /// An element does not fit the requested type (a `U64` above `Int.max`).
    case valueOutOfRange(path: String, tensor: String, value: String, requested: String)

    // MARK: Writing
    /// Two payloads have the same name.
    case duplicateTensorName(path: String, tensor: String)
    /// A payload uses the reserved name `__metadata__`.
    case reservedTensorName(path: String, tensor: String)
    /// A payload's element count differs from the product of its shape.
    case payloadShapeMismatch(path: String, tensor: String, shape: [Int], elementCount: Int)

    /// A one-line message that starts with the file's path and names the tensor, the value at fault and what was expected.
    public var description: String {
        func name(_ tensor: String) -> String { "tensor '\(tensor)'" }
        switch self {
        case let .cannotOpen(path, reason):
            return "\(path): cannot open: \(reason)"
        case let .fileTooShort(path, count):
            return "\(path): file has \(count) bytes, too short for the 8-byte header length of a safetensors file"
        case let .headerLengthOutOfBounds(path, length, available):
            return "\(path): header length \(length) exceeds the \(available) bytes after the length field"
        case let .headerTooLarge(path, length, limit):
            return "\(path): header length \(length) exceeds the limit of \(limit) bytes"
        case let .headerNotUTF8(path):
            return "\(path): header is not valid UTF-8"
        case let .headerNotJSON(path, reason):
            return "\(path): header is not valid JSON: \(reason)"
        case let .headerNotObject(path, found):
            return "\(path): header is a JSON \(found), expected an object"
        case let .invalidMetadata(path, key, found):
            if let key { return "\(path): __metadata__ value for '\(key)' is a \(found), expected a string" }
            return "\(path): __metadata__ is a \(found), expected an object of strings"
        case let .missingField(path, tensor, field):
            return "\(path): \(name(tensor)): missing field '\(field)'"
        case let .wrongFieldType(path, tensor, field, expected, found):
            if let field { return "\(path): \(name(tensor)): field '\(field)' is a \(found), expected \(expected)" }
            return "\(path): \(name(tensor)): entry is a \(found), expected \(expected)"
        case let .unknownDType(path, tensor, dtype):
            let known = SafeTensorsDType.allCases.map(\.rawValue).joined(separator: ", ")
            return "\(path): \(name(tensor)): unknown dtype '\(dtype)' (expected one of \(known))"
        case let .invalidShapeDimension(path, tensor, dimension, value):
            return "\(path): \(name(tensor)): shape dimension \(dimension) is \(value), expected a non-negative integer"
        case let .invalidDataOffsets(path, tensor, found):
            return "\(path): \(name(tensor)): data_offsets is \(found), expected two non-negative integers [begin, end]"
        case let .dataOffsetsReversed(path, tensor, begin, end):
            return "\(path): \(name(tensor)): data_offsets [\(begin), \(end)] has begin after end"
        case let .dataOffsetsPastEnd(path, tensor, end, count):
            return "\(path): \(name(tensor)): data_offsets end \(end) is past the end of the \(count)-byte data buffer"
        case let .shapeOverflow(path, tensor, shape):
            return "\(path): \(name(tensor)): the byte size of shape \(shape) overflows"
        case let .byteCountMismatch(path, tensor, dtype, shape, expected, found):
            return "\(path): \(name(tensor)): data_offsets hold \(found) bytes, but \(dtype) \(shape) needs \(expected)"
        case let .overlappingTensors(path, first, second):
            return "\(path): \(name(first)) and \(name(second)) overlap in the data buffer"
        case let .gapBetweenTensors(path, previous, next, begin, end):
            let place: String
            switch (previous, next) {
            case let (previous?, next?): place = "between \(name(previous)) and \(name(next))"
            case let (nil, next?): place = "before \(name(next))"
            case let (previous?, nil): place = "after \(name(previous))"
            case (nil, nil): place = "in a file without tensors"
            }
            return "\(path): bytes \(begin)..<\(end) of the data buffer \(place) belong to no tensor"
        case let .tensorNotFound(path, tensor, available):
            let shown = available.prefix(10).map { "'\($0)'" }.joined(separator: ", ")
            let more = available.count > 10 ? ", … (\(available.count) in all)" : ""
            return "\(path): no \(name(tensor)) (the file has \(available.isEmpty ? "no tensors" : shown + more))"
        case let .unsupportedConversion(path, tensor, dtype, requested):
            return "\(path): \(name(tensor)): cannot convert \(dtype) to \(requested)"
        case let .valueOutOfRange(path, tensor, value, requested):
            return "\(path): \(name(tensor)): value \(value) does not fit in \(requested)"
        case let .duplicateTensorName(path, tensor):
            return "\(path): \(name(tensor)) is given twice"
        case let .reservedTensorName(path, tensor):
            return "\(path): \(name(tensor)): the name is reserved for metadata"
        case let .payloadShapeMismatch(path, tensor, shape, count):
            return
                "\(path): \(name(tensor)): shape \(shape) needs \(checkedProduct(shape).map(String.init) ?? "an impossible number of") elements, payload has \(count)"
        }
    }
}
