/// Problems with a model directory, each naming the file and what is wrong.
public enum ModelIOError: Error, CustomStringConvertible, Equatable {
    case missingFile(path: String, hint: String)
    case malformedConfiguration(path: String, reason: String)
    case unsupportedModelType(path: String, modelType: String, supported: [String])
    /// A configuration option the family does not implement.
    case unsupportedConfiguration(path: String, field: String, reason: String)
    case missingTensor(path: String, tensor: String, expected: [Int]? = nil)
    case shapeMismatch(path: String, tensor: String, expected: [Int], found: [Int])
    case nonFiniteTensor(path: String, tensor: String)
    case unexpectedTensor(path: String, tensor: String)
    /// A weight stored as integers or booleans: weights are floating point, and integer values
    /// read as weights are almost surely a file whose dtype was changed over float bytes.
    case nonFloatingWeight(path: String, tensor: String, dtype: String)

    /// A one-line message that starts with the file's path and says what is wrong with it.
    public var description: String {
        switch self {
        case let .missingFile(path, hint): return "\(path) does not exist\(hint.isEmpty ? "" : "; \(hint)")"
        case let .malformedConfiguration(path, reason): return "\(path): \(reason)"
        case let .unsupportedModelType(path, type, supported):
            return "\(path): model_type '\(type)' is not supported (supported: \(supported.joined(separator: ", ")))"
        case let .unsupportedConfiguration(path, field, reason): return "\(path): field \(field) \(reason)"
        case let .missingTensor(path, tensor, expected):
            return "\(path): tensor \(tensor) is missing" + (expected.map { " (expected shape \($0))" } ?? "")
        case let .shapeMismatch(path, tensor, expected, found):
            return "\(path): tensor \(tensor) has shape \(found), the configuration implies \(expected)"
        case let .nonFiniteTensor(path, tensor): return "\(path): tensor \(tensor) contains NaN or infinity"
        case let .unexpectedTensor(path, tensor): return "\(path): tensor \(tensor) does not belong to this model"
        case let .nonFloatingWeight(path, tensor, dtype):
            return "\(path): tensor \(tensor) is stored as \(dtype); model weights must be F64, F32, F16 or BF16"
        }
    }
}
