import Foundation
import Testing
import Tokenizers

@Suite struct BytePairTokenizerTests {
    @Test func encodesEverySampleToTheReferenceIDs() throws {
        let tokenizer = try Fixtures.tokenizer()
        for sample in try Fixtures.samples().samples {
            #expect(tokenizer.encode(sample.text) == sample.ids, "text: \(sample.text.debugDescription)")
            #expect(tokenizer.tokens(of: sample.text) == sample.tokens, "text: \(sample.text.debugDescription)")
        }
    }

    @Test func decodesTheReferenceIDsBackToTheText() throws {
        let tokenizer = try Fixtures.tokenizer()
        for sample in try Fixtures.samples().samples {
            #expect(tokenizer.decode(sample.ids) == sample.decoded)
            #expect(tokenizer.decode(sample.ids) == sample.text)
            #expect(
                tokenizer.decode(sample.ids, skippingSpecialTokens: true) == sample.decodedSkippingSpecialTokens,
                "text: \(sample.text.debugDescription)")
        }
    }

    @Test func prefixSpaceVariantEncodesAndDecodesAsTheReference() throws {
        let tokenizer = try Fixtures.gpt2StyleTokenizer()
        for sample in try Fixtures.samples().samples {
            #expect(tokenizer.encode(sample.text) == sample.prefixSpaceIDs, "text: \(sample.text.debugDescription)")
            #expect(tokenizer.decode(sample.prefixSpaceIDs) == sample.prefixSpaceDecoded)
        }
    }

    @Test func invalidUTF8DecodesToReplacementCharactersAsTheReference() throws {
        let tokenizer = try Fixtures.tokenizer()
        for case let decode in try Fixtures.samples().invalidUTF8 {
            #expect(tokenizer.decode(decode.ids) == decode.decoded, "bytes: \(decode.bytes)")
        }
    }

    @Test func decodingInvertsEncodingOnMultilingualText() throws {
        let tokenizer = try Fixtures.tokenizer()
        let texts = [
            "Ünïcödé — “quotes” … ½ ∑ ∞ ≠ ≤", "ÆØÅ æøå ẞ ß ŒŒ", "日本語と中文と한국어", "🧑🏾‍🚀 🏳️‍🌈 👩‍❤️‍👨",
            "\u{0}\u{1}\u{7F}\u{FEFF}", "tabs\t\tand\r\nnewlines\n\n\n", "e\u{301}\u{302}\u{303}", String(repeating: "ab ", count: 500),
        ]
        for text in try texts + Fixtures.corpus() {
            #expect(tokenizer.decode(tokenizer.encode(text)) == text, "text: \(text.debugDescription)")
        }
    }

    @Test func idsWithoutATokenAreSkippedWhenDecoding() throws {
        let tokenizer = try Fixtures.tokenizer()
        let ids = tokenizer.encode("hi there")
        #expect(tokenizer.decode([-1] + ids + [tokenizer.vocabularySize, 1 << 40]) == "hi there")
    }

    @Test func vocabularyLookupsAgreeWithEachOther() throws {
        let tokenizer = try Fixtures.tokenizer()
        #expect(tokenizer.vocabularySize == 1000)
        #expect(tokenizer.id(of: "<|endoftext|>") == 0)
        #expect(tokenizer.token(for: 0) == "<|endoftext|>")
        #expect(tokenizer.id(of: "Ġ") == 221)
        #expect(tokenizer.token(for: 1000) == nil)
        #expect(tokenizer.specialTokens.map(\.content) == ["<|endoftext|>"])
        for id in 0..<tokenizer.vocabularySize {
            let token = try #require(tokenizer.token(for: id))
            #expect(tokenizer.id(of: token) == id)
        }
    }

    @Test func encodingFromSeveralThreadsGivesTheSameIDs() throws {
        let tokenizer = try Fixtures.tokenizer()
        let texts = try Array(Fixtures.corpus().prefix(64))
        let expected = texts.map { tokenizer.encode($0) }
        let fresh = try Fixtures.tokenizer()  // an empty cache, filled concurrently
        let results = ResultBox(count: texts.count)
        DispatchQueue.concurrentPerform(iterations: texts.count) { index in
            results.set(index, fresh.encode(texts[index]))
        }
        #expect(results.values == expected)
    }

    /// Encodes the whole fortune corpus; run with TOKENIZERS_BENCHMARK=1.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["TOKENIZERS_BENCHMARK"] != nil))
    func benchmarkEncodingTheFortuneCorpus() throws {
        let tokenizer = try Fixtures.tokenizer()
        let texts = FortuneCorpus.texts()
        try #require(!texts.isEmpty, "install fortunes, fortunes-de and fortunes-es")
        let bytes = texts.reduce(0) { $0 + $1.utf8.count }
        let clock = ContinuousClock()
        var tokens = 0
        let elapsed = clock.measure {
            for text in texts { tokens += tokenizer.encode(text).count }
        }
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        print(
            "encode: \(texts.count) texts, \(bytes) bytes, \(tokens) tokens in \(seconds) s "
                + "(\(Double(bytes) / seconds / 1e6) MB/s)")
    }
}

/// Results written from concurrent iterations.
final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: [[Int]]

    init(count: Int) { storage = Array(repeating: [], count: count) }

    func set(_ index: Int, _ value: [Int]) {
        lock.lock()
        storage[index] = value
        lock.unlock()
    }

    var values: [[Int]] {
        lock.lock()
        defer { lock.unlock() }
        return storage
    }
}

/// The installed fortune files (English, German, Spanish), one text per fortune.
enum FortuneCorpus {
    static func texts() -> [String] {
        let root = URL(fileURLWithPath: "/usr/share/games/fortunes")
        var files = [root.appendingPathComponent("fortunes")]
        for language in ["de", "es"] {
            let directory = root.appendingPathComponent(language)
            let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
            for name in names.sorted() where !name.hasSuffix(".dat") && !name.hasSuffix(".u8") {
                files.append(directory.appendingPathComponent(name))
            }
        }
        var texts: [String] = []
        for file in files {
            guard let data = try? Data(contentsOf: file) else { continue }
            let content = String(decoding: data, as: UTF8.self)
            texts += content.components(separatedBy: "\n%\n").filter { !$0.isEmpty }
        }
        return texts
    }
}
