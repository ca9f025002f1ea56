/// GPT-2's reversible map between the 256 byte values and 256 printable characters.
///
/// Byte-level BPE works on bytes, but vocabularies are stored as JSON strings, so every byte is
/// shown as a visible character: the bytes that are already printable Latin-1 characters
/// (`!`…`~`, `¡`…`¬`, `®`…`ÿ`) stand for themselves, and the other 68 (controls, space, DEL,
/// NBSP, soft hyphen), in increasing byte order, take U+0100, U+0101, … U+0143. Space (0x20)
/// thus becomes `Ġ` (U+0120) and newline (0x0A) `Ċ` (U+010A).
///
/// Reference: `bytes_to_unicode` in OpenAI's GPT-2 `encoder.py` (Radford et al., 2019), which
/// Hugging Face `tokenizers` reproduces in its ByteLevel pre-tokenizer and decoder.
public enum ByteLevelAlphabet {
    /// The character that stands for each byte value, indexed by the byte.
    public static let scalars: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: "\0", count: 256)
        var next: UInt32 = 256
        for byte in 0..<256 {
            if standsForItself(UInt8(byte)) {
                table[byte] = Unicode.Scalar(UInt8(byte))
            } else {
                // Safe: 256 + 68 stays far below the surrogate range.
                table[byte] = Unicode.Scalar(next)!
                next += 1
            }
        }
        return table
    }()

    /// The byte for each scalar value below 0x144, or -1 for values outside the alphabet.
    static let bytesByScalar: [Int16] = {
        var table = [Int16](repeating: -1, count: 0x144)
        for (byte, scalar) in scalars.enumerated() {
            table[Int(scalar.value)] = Int16(byte)
        }
        return table
    }()

    /// The UTF-8 encoding of each byte's character, to build token strings without
    /// going through `Character`.
    static let utf8ByByte: [[UInt8]] = scalars.map { Array(String($0).utf8) }

    /// Whether a byte is one of the 188 printable Latin-1 characters kept as they are.
    static func standsForItself(_ byte: UInt8) -> Bool {
        (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte)
    }

    /// The alphabet's characters for a sequence of bytes.
    ///
    ///     encoded([0x20, 0x68, 0x69]) == "Ġhi"
    public static func encoded(_ bytes: some Sequence<UInt8>) -> String {
        var utf8: [UInt8] = []
        utf8.reserveCapacity(bytes.underestimatedCount * 2)
        for byte in bytes {
            utf8.append(contentsOf: utf8ByByte[Int(byte)])
        }
        return String(decoding: utf8, as: UTF8.self)
    }

    /// The bytes a string of alphabet characters stands for, or `nil` when one of its characters
    /// is not in the alphabet (added tokens such as `<|endoftext|>` may contain any character).
    public static func decoded(_ token: String) -> [UInt8]? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(token.utf8.count)
        for scalar in token.unicodeScalars {
            let value = Int(scalar.value)
            guard value < bytesByScalar.count, bytesByScalar[value] >= 0 else { return nil }
            bytes.append(UInt8(bytesByScalar[value]))
        }
        return bytes
    }
}
