import Datasets
import Foundation
import _TestSupport
import Testing

/// The number of non-blank fortunes that `strfile` indexed in `file.dat`: an oracle for the
/// splitting that does not share its code. The index (version 2, flags 0 for every file Debian
/// ships) is six big-endian 32-bit words — version, count, longest, shortest, flags, delimiter —
/// followed by count + 1 byte offsets; fortune i spans offsets i…i+1, its `%` line included.
func strfileNonBlankCount(of file: URL) throws -> Int? {
    let indexURL = URL(fileURLWithPath: file.path + ".dat")
    guard FileManager.default.fileExists(atPath: indexURL.path) else { return nil }
    let index = [UInt8](try Data(contentsOf: indexURL)), text = [UInt8](try Data(contentsOf: file))
    func word(_ i: Int) -> Int { index[4 * i..<4 * i + 4].reduce(0) { $0 << 8 | Int($1) } }
    let (version, count, flags) = (word(0), word(1), word(4))
    guard version == 2, flags == 0 else { return nil }
    let offsets = (0...count).map { word(6 + $0) }
    var nonBlank = 0
    for i in 0..<count {
        let lines = text[offsets[i]..<Swift.min(offsets[i + 1], text.count)].split(separator: UInt8(ascii: "\n"))
        if lines.contains(where: { $0.elementsEqual("%".utf8) == false && $0.contains { $0 > 0x20 && $0 != 0x7F } }) { nonBlank += 1 }
    }
    return nonBlank
}

@Suite("Fortune corpus")
struct FortuneCorpusTests {
    static let root = FortuneCorpus.defaultDirectory

    @Test(arguments: ["en", "de", "es"])
    func realCorpusHasCleanDocumentsWithRelativeSources(language: String) throws {
        let documents = try FortuneCorpus.load(languages: [language])
        #expect(documents.count > 100, "\(language): \(documents.count) documents")
        #expect(documents.allSatisfy { $0.language == language })
        #expect(documents.allSatisfy { !$0.text.isEmpty }, "empty documents")
        let withDelimiter = documents.first { $0.text.split(separator: "\n", omittingEmptySubsequences: false).contains("%") }
        #expect(withDelimiter == nil, "a document contains a % line: \(withDelimiter?.source ?? "")")
        #expect(documents.allSatisfy { $0.text == $0.text.trimmingCharacters(in: .whitespacesAndNewlines) })
        #expect(
            documents.allSatisfy { !$0.text.unicodeScalars.contains { $0 == "\u{8}" || $0 == "\r" || $0 == "\u{1B}" } },
            "backspaces, carriage returns and escapes must be cleaned")

        let sources = Set(documents.map(\.source))
        for source in sources {
            #expect(!source.hasPrefix("/") && !source.hasSuffix(".dat") && !source.hasSuffix(".u8") && !source.hasPrefix("off/"), "\(source)")
            if language == "en" {
                #expect(!source.contains("/"), "English fortunes are at the top level: \(source)")
            } else {
                #expect(source.hasPrefix(language + "/") && source.split(separator: "/").count == 2, "\(source)")
            }
            #expect(FileManager.default.fileExists(atPath: Self.root.appendingPathComponent(source).path), "\(source) is not a file")
        }
        if language == "de" { #expect(sources.contains("de/anekdoten")) }
        if language == "en" { #expect(sources.contains("fortunes") && sources.contains("computers")) }
    }

    @Test(arguments: ["en", "de", "es"])
    func eachIndexedFileGivesAsManyDocumentsAsStrfileCounted(language: String) throws {
        let documents = try FortuneCorpus.load(languages: [language])
        let countBySource = Dictionary(documents.map { ($0.source, 1) }, uniquingKeysWith: +)
        var checked = 0
        for (source, count) in countBySource {
            guard let expected = try strfileNonBlankCount(of: Self.root.appendingPathComponent(source)) else { continue }
            #expect(count == expected, "\(source): \(count) documents, strfile indexed \(expected) non-blank fortunes")
            checked += 1
        }
        #expect(checked >= 10, "only \(checked) \(language) files have a strfile index")
    }

    @Test func documentsComeInLanguageThenFileOrder() throws {
        let documents = try FortuneCorpus.load(languages: ["es", "de"])
        let languages = documents.map(\.language)
        #expect(languages.first == "es" && languages.last == "de")
        #expect(zip(languages, languages.dropFirst()).filter { $0 != $1 }.count == 1, "languages are not contiguous")
        let spanish = documents.filter { $0.language == "es" }.map(\.source)
        #expect(spanish == spanish.sorted(), "files are not in name order")
    }

    // MARK: Splitting and cleaning synthetic text

    @Test(arguments: [
        ("one\n%\ntwo\nlines\n%\n", ["one", "two\nlines"]),
        ("no delimiter at the end", ["no delimiter at the end"]),
        ("\n%\n   \n\t\n%\n%\nkept\n%", ["kept"]),
        ("  padded  \n\n%\n\n indented\n", ["padded", "indented"]),
        ("100%\n%%\n %\n%\nnext", ["100%\n%%\n %", "next"]),
        ("crlf\r\nline\r\n%\r\nsecond\r\n", ["crlf\nline", "second"]),
        ("_\u{8}B_\u{8}o_\u{8}l_\u{8}d and B\u{8}Bo\u{8}ol\u{8}ld\u{8}d", ["Bold and Bold"]),
        ("bell\u{7}, escape\u{1B}[1m, delete\u{7F}, nul\u{0}.", ["bell, escape[1m, delete, nul."]),
        ("tab\tkept", ["tab\tkept"]),
        ("Über Straße ñ 漢字", ["Über Straße ñ 漢字"]),
        ("", []),
    ])
    func splitGivesCleanedNonEmptyFortunes(text: String, expected: [String]) {
        #expect(FortuneCorpus.split(text) == expected)
    }

    @Test func aDirectoryOfFortuneFilesLoadsWithoutIndexesLinksOrHiddenFiles() throws {
        let directory = try TemporaryDirectory()
        try directory.write("Alpha.\n%\nBeta.\n", to: "b-jokes")
        try directory.write("Gamma.\n", to: "a-sayings")
        try directory.write("binary index", to: "b-jokes.dat")
        try FileManager.default.createSymbolicLink(at: directory.file("b-jokes.u8"), withDestinationURL: directory.file("b-jokes"))
        try directory.write("hidden\n", to: ".hidden")
        try directory.write("offensive\n", to: "off/rude")
        try directory.write("Hallo.\n%\n", to: "de/witze")
        let documents = try FortuneCorpus.load(directory: directory.url, languages: ["en", "de"])
        #expect(
            documents == [
                Document(text: "Gamma.", source: "a-sayings", language: "en"),
                Document(text: "Alpha.", source: "b-jokes", language: "en"),
                Document(text: "Beta.", source: "b-jokes", language: "en"),
                Document(text: "Hallo.", source: "de/witze", language: "de"),
            ])
    }

    @Test func bytesThatAreNotUTF8AreReplaced() throws {
        let directory = try TemporaryDirectory()
        try Data([0x4D, 0xFC, 0x6C, 0x6C, 0x0A]).write(to: directory.file("latin1"))  // "Müll" in ISO 8859-1
        let documents = try FortuneCorpus.load(directory: directory.url, languages: ["en"])
        #expect(documents.map(\.text) == ["M\u{FFFD}ll"])
    }

    // MARK: Errors

    @Test func unknownLanguageThrowsListingTheAvailableOnes() {
        #expect(throws: CorpusError.unknownLanguage("fr")) { try FortuneCorpus.load(languages: ["en", "fr"]) }
        #expect(CorpusError.unknownLanguage("fr").description.contains("en, de, es"))
    }

    @Test func missingDirectoryThrowsNamingItAndThePackage() throws {
        let missing = URL(fileURLWithPath: "/nonexistent/fortunes-\(UUID().uuidString)")
        #expect(throws: CorpusError.missing(path: missing.path, package: "fortunes")) {
            try FortuneCorpus.load(directory: missing, languages: ["en"])
        }
        #expect(CorpusError.missing(path: missing.path, package: "fortunes").description.contains(missing.path))
    }

    @Test(arguments: ["de", "es"])
    func missingLanguageDirectoryNamesThatLanguagesPackage(language: String) throws {
        let directory = try TemporaryDirectory()
        try directory.write("English only.\n", to: "fortunes")
        #expect(throws: CorpusError.missing(path: directory.file(language).path, package: "fortunes-\(language)")) {
            try FortuneCorpus.load(directory: directory.url, languages: [language])
        }
    }

    @Test func emptyLanguageDirectoryNamesThatLanguagesPackage() throws {
        let directory = try TemporaryDirectory()
        try directory.write("index only", to: "es/refranes.dat")
        #expect(throws: CorpusError.missing(path: directory.file("es").path, package: "fortunes-es")) {
            try FortuneCorpus.load(directory: directory.url, languages: ["es"])
        }
    }
}
