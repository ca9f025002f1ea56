/// The four kinds of Unicode scalar that GPT-2's pre-tokenisation pattern tells apart.
///
/// The pattern's classes are `\p{L}` (general category L*), `\p{N}` (Nd, Nl, No), `\s`
/// (the Unicode `White_Space` property, which is what Oniguruma, the engine behind Hugging Face
/// `tokenizers`, uses: it includes U+0085, U+00A0, U+3000 but not U+001C…U+001F) and
/// everything else.
enum ScalarCategory: UInt8 {
    case letter
    case number
    case whitespace
    case other

    /// The category of a scalar value.
    ///
    /// - Complexity: O(1); a table for the Basic Multilingual Plane (built once, 64 KiB) and
    ///   the standard library's Unicode properties above it.
    @inline(__always)
    static func of(_ value: UInt32) -> ScalarCategory {
        if value < 0x10000 {
            return basicPlane[Int(value)]
        }
        return computed(value)
    }

    static let basicPlane: [ScalarCategory] = (0..<UInt32(0x10000)).map(computed)

    static func computed(_ value: UInt32) -> ScalarCategory {
        guard let scalar = Unicode.Scalar(value) else { return .other }  // lone surrogate values
        let properties = scalar.properties
        if properties.isWhitespace { return .whitespace }
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            return .letter
        case .decimalNumber, .letterNumber, .otherNumber:
            return .number
        default:
            return .other
        }
    }
}

extension UnsafeBufferPointer where Element == UInt8 {
    /// The category and UTF-8 length of the scalar that starts at `index`.
    ///
    /// The buffer must hold valid UTF-8 (it always comes from a `String`).
    @inline(__always)
    func scalarCategory(at index: Int) -> (category: ScalarCategory, length: Int) {
        let lead = UInt32(self[index])
        if lead < 0x80 {
            return (ScalarCategory.basicPlane[Int(lead)], 1)
        }
        if lead < 0xE0 {
            let value = (lead & 0x1F) << 6 | UInt32(self[index + 1] & 0x3F)
            return (ScalarCategory.basicPlane[Int(value)], 2)
        }
        if lead < 0xF0 {
            let value = (lead & 0x0F) << 12 | UInt32(self[index + 1] & 0x3F) << 6
                | UInt32(self[index + 2] & 0x3F)
            return (ScalarCategory.basicPlane[Int(value)], 3)
        }
        let value = (lead & 0x07) << 18 | UInt32(self[index + 1] & 0x3F) << 12
            | UInt32(self[index + 2] & 0x3F) << 6 | UInt32(self[index + 3] & 0x3F)
        return (ScalarCategory.computed(value), 4)
    }
}
