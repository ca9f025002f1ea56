/// A JSON value together with where it sits in a tokenizer.json, so that every accessor can
/// throw a `TokenizerFileError` that names the file and the field.
struct TokenizerField {
    var value: JSONValue
    /// Dotted path: `model.merges[3]`; empty for the root.
    var path: String
    var file: String

    func error(_ kind: TokenizerFileError.Kind, _ message: String) -> TokenizerFileError {
        TokenizerFileError(kind, file: file, field: path.isEmpty ? nil : path, message: message)
    }

    private func childPath(_ key: String) -> String {
        path.isEmpty ? key : "\(path).\(key)"
    }

    /// The member `key`, which must be present (it may be `null`).
    func member(_ key: String) throws -> TokenizerField {
        guard case .object = value else { throw error(.wrongType, "expected an object, found \(value.kindName)") }
        guard let child = value[key] else {
            throw TokenizerFileError(.missingField, file: file, field: childPath(key), message: "required field is missing")
        }
        return TokenizerField(value: child, path: childPath(key), file: file)
    }

    /// The member `key`, or `nil` when it is absent or `null`.
    func optionalMember(_ key: String) throws -> TokenizerField? {
        guard case .object = value else { throw error(.wrongType, "expected an object, found \(value.kindName)") }
        guard let child = value[key], child != .null else { return nil }
        return TokenizerField(value: child, path: childPath(key), file: file)
    }

    func string() throws -> String {
        guard case .string(let string) = value else { throw error(.wrongType, "expected a string, found \(value.kindName)") }
        return string
    }

    func bool() throws -> Bool {
        guard case .bool(let bool) = value else { throw error(.wrongType, "expected true or false, found \(value.kindName)") }
        return bool
    }

    func integer() throws -> Int {
        guard case .integer(let integer) = value else {
            throw error(.wrongType, "expected an integer, found \(value.kindName)")
        }
        return integer
    }

    func elements() throws -> [TokenizerField] {
        guard case .array(let elements) = value else { throw error(.wrongType, "expected an array, found \(value.kindName)") }
        return elements.enumerated().map { TokenizerField(value: $1, path: "\(path)[\($0)]", file: file) }
    }

    func members() throws -> [(key: String, field: TokenizerField)] {
        guard case .object(let members) = value else {
            throw error(.wrongType, "expected an object, found \(value.kindName)")
        }
        return members.map { ($0.key, TokenizerField(value: $0.value, path: childPath($0.key), file: file)) }
    }

    /// The `type` member of a tagged object such as `{"type": "ByteLevel", …}`.
    func typeName() throws -> String {
        try member("type").string()
    }

    /// A boolean member with a default for when it is absent or `null`.
    func flag(_ key: String, default defaultValue: Bool) throws -> Bool {
        try optionalMember(key)?.bool() ?? defaultValue
    }
}
