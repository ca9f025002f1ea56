import Foundation

/// A text document with where it came from.
public struct Document: Equatable, Sendable, Codable {
    /// The document's text: one fortune, cleaned of overstrikes and control characters and trimmed.
    public var text: String
    /// The file it was read from, relative to the corpus directory (`de/anekdoten`).
    public var source: String
    /// An ISO 639-1 code (`en`, `de`, `es`).
    public var language: String

    /// Creates a document.
    ///
    /// - Parameters:
    ///   - text: the document's text.
    ///   - source: the file it came from, relative to the corpus directory.
    ///   - language: an ISO 639-1 code.
    public init(text: String, source: String, language: String) {
        self.text = text
        self.source = source
        self.language = language
    }
}

/// The fortune cookie databases of Debian's `fortunes`, `fortunes-de` and `fortunes-es`
/// packages as a multilingual document corpus: one document per fortune.
///
/// Fortunes are separated by lines holding only `%`. The `off/` directory (offensive fortunes),
/// index files (`.dat`) and the `.u8` links are skipped; backspace overstrikes (`_\bx`) are
/// removed, and bytes that are not UTF-8 are replaced.
public enum FortuneCorpus {
    /// Where Debian's `fortunes` packages install their files (English at the top, `de/` and `es/` below).
    public static let defaultDirectory = URL(fileURLWithPath: "/usr/share/games/fortunes")

    /// Languages and the subdirectory that holds each (English at the top level).
    public static let languages: [(code: String, subdirectory: String?)] = [("en", nil), ("de", "de"), ("es", "es")]

    /// Loads every fortune of the given languages, in a fixed order (language, file name, position).
    ///
    /// - Throws: ``CorpusError`` when the directory or a language's files are missing (with the
    ///   Debian package to install).
    public static func load(directory: URL = defaultDirectory, languages codes: [String] = ["en", "de", "es"]) throws -> [Document] {
        var documents: [Document] = []
        for code in codes {
            guard let entry = languages.first(where: { $0.code == code }) else {
                throw CorpusError.unknownLanguage(code)
            }
            let folder = entry.subdirectory.map { directory.appendingPathComponent($0) } ?? directory
            let package = code == "en" ? "fortunes" : "fortunes-\(code)"
            let files = try fortuneFiles(in: folder, package: package)
            if files.isEmpty {
                throw CorpusError.missing(path: folder.path, package: package)
            }
            for file in files {
                let data = try Data(contentsOf: file)
                let text = String(decoding: data, as: UTF8.self)
                let relative = entry.subdirectory.map { "\($0)/\(file.lastPathComponent)" } ?? file.lastPathComponent
                for fortune in split(text) {
                    documents.append(Document(text: fortune, source: relative, language: code))
                }
            }
        }
        return documents
    }

    private static func fortuneFiles(in folder: URL, package: String) throws -> [URL] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder.path) else {
            throw CorpusError.missing(path: folder.path, package: package)
        }
        return names.sorted().compactMap { name in
            if name.hasSuffix(".dat") || name.hasSuffix(".u8") || name.hasPrefix(".") { return nil }
            let url = folder.appendingPathComponent(name)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), !isDirectory.boolValue else { return nil }
            return url
        }
    }

    /// Splits a fortune file into cleaned, non-empty fortunes.
    public static func split(_ text: String) -> [String] {
        var fortunes: [String] = []
        var current: [Substring] = []
        func flush() {
            let joined = clean(current.joined(separator: "\n"))
            if !joined.isEmpty { fortunes.append(joined) }
            current.removeAll()
        }
        // Lines are split on the scalar "\n": as Characters, "\r\n" is a single grapheme that never
        // equals "\n", so a file with CRLF line ends would otherwise be one line.
        for line in text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false).map(Substring.init) {
            if line == "%" || line == "%\r" { flush() } else { current.append(line) }
        }
        flush()
        return fortunes
    }

    /// Removes backspace overstrikes and control characters other than newline and tab, and
    /// trims surrounding whitespace.
    static func clean(_ text: String) -> String {
        var scalars: [Unicode.Scalar] = []
        for s in text.unicodeScalars {
            if s == "\u{8}" { if !scalars.isEmpty { scalars.removeLast() }; continue }
            if s.value < 0x20 && s != "\n" && s != "\t" { continue }
            if s == "\u{7F}" { continue }
            scalars.append(s)
        }
        var result = String(String.UnicodeScalarView(scalars))
        result = result.trimmingCharacters(in: .whitespacesAndNewlines)
        return result
    }
}

/// Problems with a corpus on disk.
public enum CorpusError: Error, CustomStringConvertible, Equatable {
    case missing(path: String, package: String)
    case unknownLanguage(String)

    /// A one-line message; for missing files it names the Debian package to install.
    public var description: String {
        switch self {
        case let .missing(path, package):
            return "no fortune files in \(path); install the Debian package \(package) (scripts/setup does)"
        case let .unknownLanguage(code):
            return "unknown corpus language '\(code)'; available: \(FortuneCorpus.languages.map(\.code).joined(separator: ", "))"
        }
    }
}
