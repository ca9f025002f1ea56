import Foundation

/// Any JSON value, for documents whose structure is only known at run time.
///
/// Numbers are held as `Double`, as in JavaScript: integers are exact up to 2⁵³.
///
/// ```swift
/// let record = try JSONValue(parsing: Data(#"{"text": "hi", "label": 3}"#.utf8))
/// record["text"]?.stringValue      // "hi"
/// record["label"]?.intValue        // 3
/// ```
public enum JSONValue: Hashable, Sendable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// Parses one JSON document (an object, array or scalar).
    ///
    /// - Throws: the `DecodingError` of Foundation's `JSONDecoder`; ``JSONValue/parsingFailureReason(_:)``
    ///   turns it into a one-line message.
    public init(parsing data: Data) throws {
        self = try JSONDecoder().decode(JSONValue.self, from: data)
    }

    // MARK: Accessors

    /// The member `key` of an object; nil for a missing key or a value that is not an object.
    public subscript(key: String) -> JSONValue? {
        if case .object(let members) = self { return members[key] }
        return nil
    }

    /// The element at `index` of an array; nil when out of range or not an array.
    public subscript(index: Int) -> JSONValue? {
        if case .array(let elements) = self, elements.indices.contains(index) { return elements[index] }
        return nil
    }

    /// Whether the value is JSON `null`.
    public var isNull: Bool { self == .null }

    /// The value of a JSON boolean; nil for any other type (numbers are not converted).
    public var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    /// The value of a JSON number; nil for any other type (numeric strings are not converted).
    public var doubleValue: Double? {
        if case .number(let value) = self { return value }
        return nil
    }

    /// The number as an `Int` when it is integral and in range; nil for `1.5`, `1e300` or a
    /// non-number.
    public var intValue: Int? {
        guard case .number(let value) = self, value.rounded(.towardZero) == value else { return nil }
        return Int(exactly: value)
    }

    /// The value of a JSON string; nil for any other type.
    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// The elements of a JSON array; nil for any other type.
    public var arrayValue: [JSONValue]? {
        if case .array(let value) = self { return value }
        return nil
    }

    /// The members of a JSON object; nil for any other type.
    public var objectValue: [String: JSONValue]? {
        if case .object(let value) = self { return value }
        return nil
    }

    /// The JSON name of the value's type (`"null"`, `"boolean"`, `"number"`, `"string"`,
    /// `"array"`, `"object"`), for error messages.
    public var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "boolean"
        case .number: return "number"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }

    /// A one-line reason from an error thrown while parsing JSON, such as
    /// `Unexpected character 'x' around line 1, column 5.`
    public static func parsingFailureReason(_ error: Error) -> String {
        var reason: String
        switch error {
        case DecodingError.dataCorrupted(let context):
            reason = context.debugDescription
            if let underlying = context.underlyingError as NSError?,
                let detail = underlying.userInfo[NSDebugDescriptionErrorKey] as? String
            {
                reason = detail
            }
        case let error as DecodingError:
            reason = "\(error)"
        default:
            reason = "\(error)"
        }
        reason = reason.replacingOccurrences(of: "\n", with: " ")
        return reason.count > 200 ? String(reason.prefix(200)) + "…" : reason
    }
}

extension JSONValue: Codable {
    /// Decodes any JSON value from a single-value container, trying null, boolean, number, string, array and object in that order.
    ///
    /// - Throws: the decoder's `DecodingError` when the value is none of these.
    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    /// Encodes the value through a single-value container, so that it nests inside any `Codable` document.
    ///
    /// - Throws: the encoder's `EncodingError`, e.g. for a non-finite number with the default strategy.
    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }
}

extension JSONValue: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    /// Creates `.null` from the literal `nil`.
    public init(nilLiteral: ()) { self = .null }
    /// Creates a JSON boolean from a `true` or `false` literal.
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    /// Creates a JSON number from an integer literal (exact up to 2⁵³ in magnitude).
    public init(integerLiteral value: Int) { self = .number(Double(value)) }
    /// Creates a JSON number from a floating-point literal.
    public init(floatLiteral value: Double) { self = .number(value) }
    /// Creates a JSON string from a string literal.
    public init(stringLiteral value: String) { self = .string(value) }
    /// Creates a JSON array from an array literal.
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    /// Creates a JSON object from a dictionary literal; when a key repeats, the last value wins.
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
}

extension JSONValue: CustomStringConvertible {
    /// Compact JSON with sorted keys; a non-finite number is shown as `NaN` or `Infinity` (which
    /// ``serialized()`` refuses).
    public var description: String {
        var output = ""
        write(to: &output, strict: false)
        return output
    }
}

// MARK: Serialisation

/// The reason ``JSONValue/serialized()`` cannot write a value.
public struct JSONSerializationFailure: Error, CustomStringConvertible, Equatable {
    /// What could not be written, e.g. `number nan is not finite`.
    public let reason: String
    /// The reason, e.g. `number nan is not finite`.
    public var description: String { reason }
}

extension JSONValue {
    /// Compact JSON text with object keys sorted, so that equal values give equal text.
    ///
    /// Integral numbers below 2⁵³ in magnitude are written without a fraction (`3`, not `3.0`),
    /// others in Swift's shortest round-trip form (`0.1`, `1e-07`).
    ///
    /// - Throws: ``JSONSerializationFailure`` for NaN or an infinity, which JSON cannot express.
    public func serialized() throws -> String {
        var output = ""
        if let failure = write(to: &output, strict: true) { throw failure }
        return output
    }

    /// Appends the JSON text; in strict mode returns the failure for a non-finite number.
    @discardableResult
    func write(to output: inout String, strict: Bool) -> JSONSerializationFailure? {
        switch self {
        case .null: output += "null"
        case .bool(let value): output += value ? "true" : "false"
        case .number(let value):
            if !value.isFinite {
                if strict { return JSONSerializationFailure(reason: "number \(value) is not finite") }
                output += value.isNaN ? "NaN" : (value < 0 ? "-Infinity" : "Infinity")
            } else {
                output += JSONValue.numberText(value)
            }
        case .string(let value): JSONValue.appendQuoted(value, to: &output)
        case .array(let elements):
            output += "["
            for (i, element) in elements.enumerated() {
                if i > 0 { output += "," }
                if let failure = element.write(to: &output, strict: strict) { return failure }
            }
            output += "]"
        case .object(let members):
            output += "{"
            for (i, member) in members.sorted(by: { $0.key < $1.key }).enumerated() {
                if i > 0 { output += "," }
                JSONValue.appendQuoted(member.key, to: &output)
                output += ":"
                if let failure = member.value.write(to: &output, strict: strict) { return failure }
            }
            output += "}"
        }
        return nil
    }

    /// The JSON text of a finite number.
    static func numberText(_ value: Double) -> String {
        if value == value.rounded(.towardZero) && abs(value) < 0x1p53 {
            return String(Int64(value))
        }
        return "\(value)"
    }

    /// Appends `string` as a quoted JSON string, escaping quotes, backslashes and control
    /// characters.
    static func appendQuoted(_ string: String, to output: inout String) {
        output += "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": output += "\\\""
            case "\\": output += "\\\\"
            case "\n": output += "\\n"
            case "\r": output += "\\r"
            case "\t": output += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                output += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: output.unicodeScalars.append(scalar)
            }
        }
        output += "\""
    }
}
