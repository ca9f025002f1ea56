/// The element types of the safetensors format, named as in file headers.
///
/// Elements are little-endian; `BF16` is the top half of an IEEE `Float`, `BOOL` is one byte
/// (zero is false). The 8-bit float types are recognised so that a file holding them can be
/// opened and its other tensors read, but they are not converted.
public enum SafeTensorsDType: String, CaseIterable, Sendable {
    case float64 = "F64"
    case float32 = "F32"
    case float16 = "F16"
    case bfloat16 = "BF16"
    case float8E4M3 = "F8_E4M3"
    case float8E5M2 = "F8_E5M2"
    case int64 = "I64"
    case int32 = "I32"
    case int16 = "I16"
    case int8 = "I8"
    case uint64 = "U64"
    case uint32 = "U32"
    case uint16 = "U16"
    case uint8 = "U8"
    case bool = "BOOL"

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .float64, .int64, .uint64: return 8
        case .float32, .int32, .uint32: return 4
        case .float16, .bfloat16, .int16, .uint16: return 2
        case .float8E4M3, .float8E5M2, .int8, .uint8, .bool: return 1
        }
    }

    /// True for the types that ``SafeTensorsFile/tensor(named:as:)`` converts to floating point.
    public var convertsToFloatingPoint: Bool {
        switch self {
        case .float8E4M3, .float8E5M2: return false
        default: return true
        }
    }

    /// True for the integer and boolean types, which ``SafeTensorsFile/integers(named:)`` reads.
    public var isInteger: Bool {
        switch self {
        case .int64, .int32, .int16, .int8, .uint64, .uint32, .uint16, .uint8, .bool: return true
        default: return false
        }
    }
}
