/// One record of a candidate file, as parsed.
struct CandidateRecord {
    var queryIndex: Int
    var candidates: [Int]
    var scores: [Double]
    /// The optional `data` member: the fingerprint of the data the candidates were made for.
    var data: String?
}

/// A problem in one line of a candidate file: the field, if any, and what is wrong.
struct CandidateRecordProblem: Error {
    var field: String?
    var message: String
}

/// A JSON parser for one line of a candidate file.
///
/// It reads any JSON object (RFC 8259: whitespace, member order, escapes in keys, members of any
/// type beside the three it knows, which are skipped) and extracts `query_index` (an integer),
/// `candidates` (an array of integers), `scores` (an array of numbers) and the optional `data`
/// (a string). Written by hand
/// rather than with `JSONDecoder`, whose messages do not say which element is wrong
/// (`1.5` in an `[Int]` is reported as "not valid JSON"), and which accepts duplicate members.
/// Nesting of skipped values is limited to 512 levels so that a hostile line cannot exhaust
/// the stack.
struct CandidateRecordParser {
    private let bytes: ArraySlice<UInt8>
    private var position: Int
    private static let maximumDepth = 512

    init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        position = bytes.startIndex
    }

    /// Parses the whole line as one record.
    mutating func parse() throws(CandidateRecordProblem) -> CandidateRecord {
        var queryIndex: Int?
        var candidates: [Int]?
        var scores: [Double]?
        var data: String?
        skipWhitespace()
        try expect(UInt8(ascii: "{"), "expected a JSON object {…}")
        skipWhitespace()
        if peek() == UInt8(ascii: "}") {
            position += 1
        } else {
            while true {
                skipWhitespace()
                guard peek() == UInt8(ascii: "\"") else { throw problem(nil, "expected a member name in double quotes") }
                let key = try parseString()
                skipWhitespace()
                try expect(UInt8(ascii: ":"), "expected : after the member name \"\(key)\"")
                skipWhitespace()
                switch key {
                case "query_index":
                    guard queryIndex == nil else { throw problem(key, "appears twice") }
                    queryIndex = try parseInteger(field: key)
                case "candidates":
                    guard candidates == nil else { throw problem(key, "appears twice") }
                    candidates = try parseArray(field: key) { parser, field throws(CandidateRecordProblem) in
                        try parser.parseInteger(field: field)
                    }
                case "scores":
                    guard scores == nil else { throw problem(key, "appears twice") }
                    scores = try parseArray(field: key) { parser, field throws(CandidateRecordProblem) in
                        try parser.parseNumber(field: field)
                    }
                case "data":
                    guard data == nil else { throw problem(key, "appears twice") }
                    guard peek() == UInt8(ascii: "\"") else { throw problem(key, "expected a string, at column \(column)") }
                    data = try parseString()
                default:
                    try skipValue(depth: 0)
                }
                skipWhitespace()
                if peek() == UInt8(ascii: ",") {
                    position += 1
                    continue
                }
                try expect(UInt8(ascii: "}"), "expected , or } after a member")
                break
            }
        }
        skipWhitespace()
        guard position == bytes.endIndex else { throw problem(nil, "unexpected text after the record, at column \(column)") }
        guard let queryIndex else { throw problem("query_index", "required member is missing") }
        guard let candidates else { throw problem("candidates", "required member is missing") }
        guard let scores else { throw problem("scores", "required member is missing") }
        return CandidateRecord(queryIndex: queryIndex, candidates: candidates, scores: scores, data: data)
    }

    // MARK: Pieces

    private var column: Int { position - bytes.startIndex + 1 }

    private func problem(_ field: String?, _ message: String) -> CandidateRecordProblem {
        CandidateRecordProblem(field: field, message: message)
    }

    private func peek() -> UInt8? {
        position < bytes.endIndex ? bytes[position] : nil
    }

    private mutating func skipWhitespace() {
        while let byte = peek(), byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D { position += 1 }
    }

    private mutating func expect(_ byte: UInt8, _ message: String) throws(CandidateRecordProblem) {
        guard peek() == byte else { throw problem(nil, "\(message), at column \(column)") }
        position += 1
    }

    private mutating func parseArray<Element>(
        field: String, _ element: (inout CandidateRecordParser, String) throws(CandidateRecordProblem) -> Element
    ) throws(CandidateRecordProblem) -> [Element] {
        guard peek() == UInt8(ascii: "[") else { throw problem(field, "expected an array [...], at column \(column)") }
        position += 1
        var elements: [Element] = []
        skipWhitespace()
        if peek() == UInt8(ascii: "]") {
            position += 1
            return elements
        }
        while true {
            skipWhitespace()
            elements.append(try element(&self, "\(field)[\(elements.count)]"))
            skipWhitespace()
            switch peek() {
            case UInt8(ascii: ","): position += 1
            case UInt8(ascii: "]"):
                position += 1
                return elements
            default: throw problem(field, "expected , or ] after element \(elements.count - 1), at column \(column)")
            }
        }
    }

    /// The text of a JSON number at the current position, checked against the grammar
    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    private mutating func numberToken(field: String) throws(CandidateRecordProblem) -> (text: String, isInteger: Bool) {
        let start = position
        func digits() -> Int {
            let first = position
            while let byte = peek(), byte >= 0x30 && byte <= 0x39 { position += 1 }
            return position - first
        }
        var isInteger = true
        if peek() == UInt8(ascii: "-") { position += 1 }
        let integerStart = position
        let integerDigits = digits()
        guard integerDigits > 0, integerDigits == 1 || bytes[integerStart] != UInt8(ascii: "0") else {
            throw problem(field, "expected a number, at column \(start - bytes.startIndex + 1)\(foundDescription(at: start))")
        }
        if peek() == UInt8(ascii: ".") {
            position += 1
            isInteger = false
            guard digits() > 0 else { throw problem(field, "a number needs digits after its decimal point") }
        }
        if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
            position += 1
            isInteger = false
            if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { position += 1 }
            guard digits() > 0 else { throw problem(field, "a number needs digits in its exponent") }
        }
        return (String(decoding: bytes[start..<position], as: UTF8.self), isInteger)
    }

    private func foundDescription(at start: Int) -> String {
        let end = Swift.min(bytes.endIndex, start + 12)
        let text = String(decoding: bytes[start..<end], as: UTF8.self)
        return text.isEmpty ? ", found the end of the line" : ", found \(text.debugDescription)"
    }

    private mutating func parseInteger(field: String) throws(CandidateRecordProblem) -> Int {
        let (text, isInteger) = try numberToken(field: field)
        guard isInteger else { throw problem(field, "expected an integer, found \(text)") }
        guard let value = Int(text) else { throw problem(field, "\(text) does not fit in a 64-bit integer") }
        return value
    }

    private mutating func parseNumber(field: String) throws(CandidateRecordProblem) -> Double {
        let (text, _) = try numberToken(field: field)
        guard let value = Double(text), value.isFinite else { throw problem(field, "\(text) is not a finite Double") }
        return value
    }

    /// A JSON string at the current position (which is its opening quote), with escapes decoded.
    private mutating func parseString() throws(CandidateRecordProblem) -> String {
        position += 1
        var scalars = String.UnicodeScalarView()
        var run = position
        func flush() {
            scalars.append(contentsOf: String(decoding: bytes[run..<position], as: UTF8.self).unicodeScalars)
        }
        while true {
            guard let byte = peek() else { throw problem(nil, "a string is not closed") }
            switch byte {
            case UInt8(ascii: "\""):
                flush()
                position += 1
                return String(scalars)
            case UInt8(ascii: "\\"):
                flush()
                position += 1
                guard let escape = peek() else { throw problem(nil, "a string is not closed") }
                position += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): scalars.append(Unicode.Scalar(escape))
                case UInt8(ascii: "b"): scalars.append("\u{8}")
                case UInt8(ascii: "f"): scalars.append("\u{C}")
                case UInt8(ascii: "n"): scalars.append("\n")
                case UInt8(ascii: "r"): scalars.append("\r")
                case UInt8(ascii: "t"): scalars.append("\t")
                case UInt8(ascii: "u"):
                    var value = try hexQuad()
                    if value >= 0xD800 && value < 0xDC00, peek() == UInt8(ascii: "\\"),
                        position + 1 < bytes.endIndex, bytes[position + 1] == UInt8(ascii: "u")
                    {
                        let save = position
                        position += 2
                        let low = try hexQuad()
                        if low >= 0xDC00 && low < 0xE000 {
                            value = 0x10000 + ((value - 0xD800) << 10) + (low - 0xDC00)
                        } else {
                            position = save
                        }
                    }
                    scalars.append(Unicode.Scalar(value) ?? "\u{FFFD}")
                default:
                    throw problem(nil, "invalid escape \\\(Unicode.Scalar(escape)) in a string, at column \(column - 1)")
                }
                run = position
            case 0..<0x20:
                throw problem(nil, "a control character inside a string, at column \(column)")
            default:
                position += 1
            }
        }
    }

    private mutating func hexQuad() throws(CandidateRecordProblem) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let byte = peek(), let digit = Self.hexValue(byte) else { throw problem(nil, "\\u needs four hexadecimal digits") }
            value = value << 4 | digit
            position += 1
        }
        return value
    }

    private static func hexValue(_ byte: UInt8) -> UInt32? {
        switch byte {
        case 0x30...0x39: return UInt32(byte - 0x30)
        case 0x41...0x46: return UInt32(byte - 0x41 + 10)
        case 0x61...0x66: return UInt32(byte - 0x61 + 10)
        default: return nil
        }
    }

    /// Skips any JSON value (of a member this reader does not use).
    private mutating func skipValue(depth: Int) throws(CandidateRecordProblem) {
        guard depth < Self.maximumDepth else { throw problem(nil, "values nested more than \(Self.maximumDepth) deep") }
        skipWhitespace()
        guard let byte = peek() else { throw problem(nil, "expected a value, found the end of the line") }
        switch byte {
        case UInt8(ascii: "\""):
            _ = try parseString()
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            let close = byte == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]")
            position += 1
            skipWhitespace()
            if peek() == close {
                position += 1
                return
            }
            while true {
                skipWhitespace()
                if close == UInt8(ascii: "}") {
                    guard peek() == UInt8(ascii: "\"") else { throw problem(nil, "expected a member name, at column \(column)") }
                    _ = try parseString()
                    skipWhitespace()
                    try expect(UInt8(ascii: ":"), "expected :")
                }
                try skipValue(depth: depth + 1)
                skipWhitespace()
                if peek() == UInt8(ascii: ",") {
                    position += 1
                    continue
                }
                try expect(close, "expected , or \(Unicode.Scalar(close))")
                return
            }
        case UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "n"):
            for literal in ["true", "false", "null"] where bytes[position...].starts(with: literal.utf8) {
                position += literal.utf8.count
                return
            }
            throw problem(nil, "expected a value, at column \(column)")
        default:
            _ = try numberToken(field: "value")
        }
    }
}
