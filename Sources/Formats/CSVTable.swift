import Foundation

/// A problem with a CSV file; messages name the file and, where relevant, the line, row and
/// column.
public enum CSVError: Error, CustomStringConvertible, Equatable {
    /// The file cannot be read.
    case unreadableFile(path: String, reason: String)
    /// The file has no header row.
    case missingHeader(path: String)
    /// Two header fields have the same name.
    case duplicateColumn(path: String, column: String)
    /// A quoted field is still open at the end of the file.
    case unterminatedQuote(path: String, line: Int)
    /// A closing quote is followed by something other than a delimiter or a line break.
    case unexpectedCharacterAfterQuote(path: String, line: Int, field: Int)
    /// A field is not valid UTF-8.
    case invalidUTF8(path: String, line: Int)
    /// A row has a different number of fields than the header.
    case fieldCountMismatch(path: String, line: Int, row: Int, expected: Int, found: Int)
    /// No column has the requested name.
    case unknownColumn(path: String, column: String, available: [String])
    /// A feature value is not a finite number.
    case nonNumericValue(path: String, line: Int, row: Int, column: String, value: String)
    /// A label value is not an integer (with ``CSVTable/LabelEncoding/integer``).
    case invalidLabel(path: String, line: Int, row: Int, column: String, value: String)
    /// A label is not one of the classes the data is read against.
    case unknownClass(path: String, line: Int, row: Int, column: String, value: String, known: [String])

    /// A one-line message starting with the file path (and `:line` where known), naming the row, column and value at fault.
    public var description: String {
        switch self {
        case let .unreadableFile(path, reason):
            return "\(path): cannot read: \(reason)"
        case let .missingHeader(path):
            return "\(path): the file is empty, expected a header row"
        case let .duplicateColumn(path, column):
            return "\(path): the header names column '\(column)' twice"
        case let .unterminatedQuote(path, line):
            return "\(path):\(line): quoted field is not closed before the end of the file"
        case let .unexpectedCharacterAfterQuote(path, line, field):
            return "\(path):\(line): field \(field): closing quote must be followed by a delimiter or a line break"
        case let .invalidUTF8(path, line):
            return "\(path):\(line): field is not valid UTF-8"
        case let .fieldCountMismatch(path, line, row, expected, found):
            return "\(path):\(line): row \(row) has \(found) fields, the header has \(expected)"
        case let .unknownColumn(path, column, available):
            return "\(path): no column '\(column)' (columns: \(available.map { "'\($0)'" }.joined(separator: ", ")))"
        case let .nonNumericValue(path, line, row, column, value):
            return "\(path):\(line): row \(row), column '\(column)': '\(value)' is not a finite number"
        case let .invalidLabel(path, line, row, column, value):
            return "\(path):\(line): row \(row), column '\(column)': label '\(value)' is not an integer"
        case let .unknownClass(path, line, row, column, value, known):
            let list = known.count <= 20 ? known.joined(separator: ", ") : known.prefix(20).joined(separator: ", ") + ", … (\(known.count) in all)"
            return "\(path):\(line): row \(row), column '\(column)': label '\(value)' is not one of the model's classes (\(list))"
        }
    }
}

/// A CSV table with a header row, parsed as RFC 4180 describes.
///
/// Fields are separated by the delimiter (a comma by default) and records by `\r\n` or `\n`. A
/// field in double quotes may hold delimiters, line breaks and doubled quotes (`""` for `"`).
/// A quote inside an unquoted field is kept as an ordinary character. Empty lines are skipped;
/// every other record must have as many fields as the header. A UTF-8 byte-order mark is ignored.
///
/// Rows are numbered from 1 after the header; messages also give the file line on which the row
/// starts, which differs when a quoted field spans lines.
///
/// ```swift
/// let table = try CSVTable(contentsOf: url)
/// let ages = try table.column(named: "age")
/// ```
public struct CSVTable: Sendable {
    /// The file path, or the label given to ``init(parsing:source:delimiter:)``, for messages.
    public let source: String
    /// The header fields, in order.
    public let columnNames: [String]
    /// The data rows, each with one field per column.
    public let rows: [[String]]
    /// The 1-based file line on which each data row starts.
    public let lineNumbers: [Int]
    /// Each column's position by name, so that looking up every column of a wide table is linear.
    private let indexByName: [String: Int]

    /// Reads and parses the CSV file at `url` (decompressing it if it is gzip).
    ///
    /// - Throws: ``CSVError`` naming the file.
    public init(contentsOf url: URL, delimiter: UInt8 = UInt8(ascii: ",")) throws {
        let data: Data
        do {
            data = try Gzip.contentsOfFile(at: url)
        } catch let error as GzipError {
            if case let .unreadableFile(path, reason) = error { throw CSVError.unreadableFile(path: path, reason: reason) }
            throw CSVError.unreadableFile(path: url.path, reason: error.description)
        }
        try self.init(bytes: [UInt8](data), source: url.path, delimiter: delimiter)
    }

    /// Parses CSV text; `source` names it in messages.
    ///
    /// - Throws: ``CSVError``.
    public init(parsing text: String, source: String = "<text>", delimiter: UInt8 = UInt8(ascii: ",")) throws {
        try self.init(bytes: Array(text.utf8), source: source, delimiter: delimiter)
    }

    private init(bytes: [UInt8], source: String, delimiter: UInt8) throws {
        var records = try CSVTable.parseRecords(bytes, delimiter: delimiter, source: source)
        guard !records.isEmpty else { throw CSVError.missingHeader(path: source) }
        let header = records.removeFirst().fields
        var indexByName = [String: Int](minimumCapacity: header.count)
        for (index, name) in header.enumerated() where indexByName.updateValue(index, forKey: name) != nil {
            throw CSVError.duplicateColumn(path: source, column: name)
        }
        self.indexByName = indexByName
        for (index, record) in records.enumerated() where record.fields.count != header.count {
            throw CSVError.fieldCountMismatch(
                path: source, line: record.line, row: index + 1,
                expected: header.count, found: record.fields.count)
        }
        self.source = source
        self.columnNames = header
        self.rows = records.map(\.fields)
        self.lineNumbers = records.map(\.line)
    }

    /// The number of data rows.
    public var rowCount: Int { rows.count }

    /// The position of the column called `name`.
    ///
    /// - Throws: ``CSVError/unknownColumn(path:column:available:)``.
    public func columnIndex(named name: String) throws -> Int {
        guard let index = indexByName[name] else {
            throw CSVError.unknownColumn(path: source, column: name, available: columnNames)
        }
        return index
    }

    /// Every value of the column called `name`, top to bottom.
    public func column(named name: String) throws -> [String] {
        let index = try columnIndex(named: name)
        return rows.map { $0[index] }
    }

    /// The value in data row `row` (0-based) of the column called `name`.
    public func value(row: Int, column name: String) throws -> String {
        precondition(rows.indices.contains(row), "row \(row) is out of range for a table of \(rows.count) rows")
        return rows[row][try columnIndex(named: name)]
    }

    // MARK: Parsing

    /// Splits bytes into records of fields, each with the line it starts on.
    static func parseRecords(_ bytes: [UInt8], delimiter: UInt8, source: String) throws -> [(line: Int, fields: [String])] {
        let quote = UInt8(ascii: "\""), carriageReturn: UInt8 = 0x0D, lineFeed: UInt8 = 0x0A
        var records: [(line: Int, fields: [String])] = []
        var fields: [String] = []
        var field: [UInt8] = []
        var line = 1, recordLine = 1
        var index = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
        // The state of the field being read: not started, unquoted, inside quotes, or after the
        // closing quote.
        enum State { case fieldStart, unquoted, quoted, afterQuote }
        var state = State.fieldStart
        var fieldWasQuoted = false

        func finishField() throws {
            guard let text = String(validating: field, as: UTF8.self) else {
                throw CSVError.invalidUTF8(path: source, line: line)
            }
            fields.append(text)
            field.removeAll(keepingCapacity: true)
        }
        func finishRecord() throws {
            let isBlankLine = fields.isEmpty && field.isEmpty && !fieldWasQuoted
            try finishField()
            if !isBlankLine { records.append((recordLine, fields)) }
            fields.removeAll(keepingCapacity: true)
            fieldWasQuoted = false
            state = .fieldStart
        }

        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            switch state {
            case .fieldStart, .unquoted, .afterQuote:
                if byte == delimiter {
                    try finishField()
                    fieldWasQuoted = false
                    state = .fieldStart
                } else if byte == lineFeed || byte == carriageReturn {
                    if byte == carriageReturn, index < bytes.count, bytes[index] == lineFeed { index += 1 }
                    try finishRecord()
                    line += 1
                    recordLine = line
                } else if state == .afterQuote {
                    throw CSVError.unexpectedCharacterAfterQuote(path: source, line: line, field: fields.count + 1)
                } else if byte == quote && state == .fieldStart {
                    state = .quoted
                    fieldWasQuoted = true
                } else {
                    field.append(byte)
                    state = .unquoted
                }
            case .quoted:
                if byte == quote {
                    if index < bytes.count, bytes[index] == quote {
                        field.append(quote)
                        index += 1
                    } else {
                        state = .afterQuote
                    }
                } else {
                    if byte == lineFeed { line += 1 }
                    field.append(byte)
                }
            }
        }
        if state == .quoted { throw CSVError.unterminatedQuote(path: source, line: recordLine) }
        if state != .fieldStart || !fields.isEmpty { try finishRecord() }
        return records
    }
}
