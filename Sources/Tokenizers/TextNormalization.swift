import Foundation

/// What a tokenizer.json's `normalizer` does to the text between non-normalised added tokens,
/// before normalised added tokens are looked for and the text is pre-tokenised.
///
/// Llama 2's legacy layout is `[prepend("▁"), replace(" " → "▁")]`, so `"Hello world"`
/// becomes `"▁Hello▁world"`; Qwen2's is `[unicode(.nfc)]`. Each text between added tokens is
/// normalised on its own, so each gets its own `▁` in front.
struct TextNormalization: Sendable {
    enum Step: Sendable {
        /// `Prepend`: put the text first, unless the text is empty.
        case prepend([UInt8])
        /// `Replace`: replace every match of the pattern with the content.
        case replace(RegularExpression, [UInt8])
        /// `NFC`, `NFD`, `NFKC`, `NFKD`.
        case unicode(UnicodeForm)
    }

    /// The Unicode normalisation forms, as Foundation computes them.
    enum UnicodeForm: String, Sendable {
        case nfc = "NFC"
        case nfd = "NFD"
        case nfkc = "NFKC"
        case nfkd = "NFKD"

        func applied(to text: String) -> String {
            switch self {
            case .nfc: return text.precomposedStringWithCanonicalMapping
            case .nfd: return text.decomposedStringWithCanonicalMapping
            case .nfkc: return text.precomposedStringWithCompatibilityMapping
            case .nfkd: return text.decomposedStringWithCompatibilityMapping
            }
        }
    }

    var steps: [Step] = []

    var isEmpty: Bool { steps.isEmpty }

    /// The normalised UTF-8 text.
    func normalized(_ text: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        var bytes = Array(text)
        for step in steps {
            switch step {
            case .prepend(let prefix):
                if !bytes.isEmpty { bytes.insert(contentsOf: prefix, at: 0) }
            case .replace(let regex, let content):
                bytes = bytes.withUnsafeBufferPointer { Self.replacing(regex, with: content, in: $0) }
            case .unicode(let form):
                bytes = Array(form.applied(to: String(decoding: bytes, as: UTF8.self)).utf8)
            }
        }
        return bytes
    }

    /// The normalised form of a string (for the content of normalised added tokens).
    func normalized(_ text: String) -> String {
        var text = text
        let bytes = text.withUTF8 { normalized($0) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// `text` with every match of `regex` replaced by `content`.
    static func replacing(
        _ regex: RegularExpression, with content: [UInt8], in text: UnsafeBufferPointer<UInt8>
    ) -> [UInt8] {
        var result: [UInt8] = []
        result.reserveCapacity(text.count)
        var previous = 0
        regex.forEachMatch(in: text) { match in
            result.append(contentsOf: UnsafeBufferPointer(rebasing: text[previous..<match.lowerBound]))
            result.append(contentsOf: content)
            previous = match.upperBound
        }
        result.append(contentsOf: UnsafeBufferPointer(rebasing: text[previous...]))
        return result
    }
}
