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

    static let basicPlane: [ScalarCategory] = ScalarProperties.basicPlane.map(from)

    static func computed(_ value: UInt32) -> ScalarCategory {
        from(ScalarProperties.computed(value))
    }

    /// The category of a packed `ScalarProperties` entry.
    private static func from(_ entry: UInt8) -> ScalarCategory {
        if entry & ScalarProperties.whitespaceBit != 0 { return .whitespace }
        let categories = GeneralCategories(index: entry & ScalarProperties.categoryMask)
        if !categories.isDisjoint(with: .letter) { return .letter }
        if !categories.isDisjoint(with: .number) { return .number }
        return .other
    }
}

/// A set of Unicode general categories, one bit each, so that a character class tests a
/// scalar's category with one AND.
struct GeneralCategories: OptionSet, Sendable, Hashable {
    let rawValue: UInt32

    init(rawValue: UInt32) {
        self.rawValue = rawValue
    }

    /// The set holding the category with the given index in `GeneralCategories.order`.
    init(index: UInt8) {
        self.rawValue = 1 << UInt32(index)
    }

    /// The categories in bit order.
    static let order: [Unicode.GeneralCategory] = [
        .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
        .nonspacingMark, .spacingMark, .enclosingMark,
        .decimalNumber, .letterNumber, .otherNumber,
        .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
        .initialPunctuation, .finalPunctuation, .otherPunctuation,
        .mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol,
        .spaceSeparator, .lineSeparator, .paragraphSeparator,
        .control, .format, .surrogate, .privateUse, .unassigned,
    ]

    static func index(of category: Unicode.GeneralCategory) -> UInt8 {
        // `order` lists every case; a future one would count as unassigned.
        indexByCategory[category] ?? UInt8(order.count - 1)
    }

    private static let indexByCategory: [Unicode.GeneralCategory: UInt8] = Dictionary(
        uniqueKeysWithValues: order.enumerated().map { ($1, UInt8($0)) })

    static let uppercaseLetter = Self(index: 0), lowercaseLetter = Self(index: 1)
    static let titlecaseLetter = Self(index: 2), modifierLetter = Self(index: 3), otherLetter = Self(index: 4)
    static let nonspacingMark = Self(index: 5), spacingMark = Self(index: 6), enclosingMark = Self(index: 7)
    static let decimalNumber = Self(index: 8), letterNumber = Self(index: 9), otherNumber = Self(index: 10)
    static let connectorPunctuation = Self(index: 11), dashPunctuation = Self(index: 12)
    static let openPunctuation = Self(index: 13), closePunctuation = Self(index: 14)
    static let initialPunctuation = Self(index: 15), finalPunctuation = Self(index: 16)
    static let otherPunctuation = Self(index: 17)
    static let mathSymbol = Self(index: 18), currencySymbol = Self(index: 19)
    static let modifierSymbol = Self(index: 20), otherSymbol = Self(index: 21)
    static let spaceSeparator = Self(index: 22), lineSeparator = Self(index: 23)
    static let paragraphSeparator = Self(index: 24)
    static let control = Self(index: 25), format = Self(index: 26), surrogate = Self(index: 27)
    static let privateUse = Self(index: 28), unassigned = Self(index: 29)

    static let letter: Self = [.uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter]
    static let casedLetter: Self = [.uppercaseLetter, .lowercaseLetter, .titlecaseLetter]
    static let mark: Self = [.nonspacingMark, .spacingMark, .enclosingMark]
    static let number: Self = [.decimalNumber, .letterNumber, .otherNumber]
    static let punctuation: Self = [
        .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
        .initialPunctuation, .finalPunctuation, .otherPunctuation,
    ]
    static let symbol: Self = [.mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol]
    static let separator: Self = [.spaceSeparator, .lineSeparator, .paragraphSeparator]
    static let other: Self = [.control, .format, .surrogate, .privateUse, .unassigned]
    static let all = Self(rawValue: (1 << 30) - 1)

    /// The categories a `\p{…}` name stands for: the one- and two-letter abbreviations and the
    /// long names, compared as Oniguruma does, ignoring case, spaces, `_` and `-`.
    static func named(_ name: String) -> GeneralCategories? {
        let key = String(name.lowercased().unicodeScalars.filter { !" _-".unicodeScalars.contains($0) })
        return byName[key]
    }

    private static let byName: [String: GeneralCategories] = {
        var table: [String: GeneralCategories] = [
            "l": .letter, "letter": .letter, "lc": .casedLetter, "l&": .casedLetter, "casedletter": .casedLetter,
            "m": .mark, "mark": .mark, "combiningmark": .mark,
            "n": .number, "number": .number,
            "p": .punctuation, "punctuation": .punctuation,
            "s": .symbol, "symbol": .symbol,
            "z": .separator, "separator": .separator,
            "c": .other, "other": .other,
            "any": .all, "assigned": Self.all.subtracting(.unassigned),
        ]
        let names: [(String, String, GeneralCategories)] = [
            ("lu", "uppercaseletter", .uppercaseLetter), ("ll", "lowercaseletter", .lowercaseLetter),
            ("lt", "titlecaseletter", .titlecaseLetter), ("lm", "modifierletter", .modifierLetter),
            ("lo", "otherletter", .otherLetter), ("mn", "nonspacingmark", .nonspacingMark),
            ("mc", "spacingmark", .spacingMark), ("me", "enclosingmark", .enclosingMark),
            ("nd", "decimalnumber", .decimalNumber), ("nl", "letternumber", .letterNumber),
            ("no", "othernumber", .otherNumber), ("pc", "connectorpunctuation", .connectorPunctuation),
            ("pd", "dashpunctuation", .dashPunctuation), ("ps", "openpunctuation", .openPunctuation),
            ("pe", "closepunctuation", .closePunctuation), ("pi", "initialpunctuation", .initialPunctuation),
            ("pf", "finalpunctuation", .finalPunctuation), ("po", "otherpunctuation", .otherPunctuation),
            ("sm", "mathsymbol", .mathSymbol), ("sc", "currencysymbol", .currencySymbol),
            ("sk", "modifiersymbol", .modifierSymbol), ("so", "othersymbol", .otherSymbol),
            ("zs", "spaceseparator", .spaceSeparator), ("zl", "lineseparator", .lineSeparator),
            ("zp", "paragraphseparator", .paragraphSeparator), ("cc", "control", .control),
            ("cf", "format", .format), ("cs", "surrogate", .surrogate), ("co", "privateuse", .privateUse),
            ("cn", "unassigned", .unassigned),
        ]
        for (short, long, categories) in names {
            table[short] = categories
            table[long] = categories
        }
        return table
    }()
}

/// Each scalar's general category and `White_Space` property, packed in a byte: the category's
/// index in `GeneralCategories.order` in the low five bits, `whitespaceBit` for white space.
enum ScalarProperties {
    static let categoryMask: UInt8 = 0x1F
    static let whitespaceBit: UInt8 = 0x80

    /// The entries of U+0000…U+FFFF (built once, 64 KiB).
    static let basicPlane: [UInt8] = (0..<UInt32(0x10000)).map(computed)

    /// The entry of a scalar value: from the table in the Basic Multilingual Plane, from the
    /// standard library's Unicode properties above it.
    @inline(__always)
    static func of(_ value: UInt32) -> UInt8 {
        value < 0x10000 ? basicPlane[Int(value)] : computed(value)
    }

    static func computed(_ value: UInt32) -> UInt8 {
        // Lone surrogate values never occur in a String; they are classed as surrogates.
        guard let scalar = Unicode.Scalar(value) else { return GeneralCategories.index(of: .surrogate) }
        let properties = scalar.properties
        let index = GeneralCategories.index(of: properties.generalCategory)
        return properties.isWhitespace ? index | whitespaceBit : index
    }

    /// For each general category (in `GeneralCategories.order`) and then for `White_Space`, a
    /// bit set of the scalars below U+10000 that have it: 1024 words each.
    static let basicPlaneBits: [[UInt64]] = {
        var bits = [[UInt64]](repeating: [UInt64](repeating: 0, count: 1024), count: GeneralCategories.order.count + 1)
        for value in 0..<0x10000 {
            let entry = basicPlane[value]
            let bit: UInt64 = 1 << UInt64(value & 63)
            bits[Int(entry & categoryMask)][value >> 6] |= bit
            if entry & whitespaceBit != 0 { bits[GeneralCategories.order.count][value >> 6] |= bit }
        }
        return bits
    }()

    /// The general categories (one bit set) of a scalar value.
    @inline(__always)
    static func categories(of value: UInt32) -> GeneralCategories {
        GeneralCategories(index: of(value) & categoryMask)
    }

    /// Whether a scalar value has the `White_Space` property, which is Oniguruma's `\s`.
    @inline(__always)
    static func isWhitespace(_ value: UInt32) -> Bool {
        of(value) & whitespaceBit != 0
    }
}

extension UnsafeBufferPointer where Element == UInt8 {
    /// The category and UTF-8 length of the scalar that starts at `index`.
    ///
    /// The buffer must hold valid UTF-8 (it always comes from a `String`).
    @inline(__always)
    func scalarCategory(at index: Int) -> (category: ScalarCategory, length: Int) {
        let (value, length) = scalarValue(at: index)
        if value < 0x10000 {
            return (ScalarCategory.basicPlane[Int(value)], length)
        }
        return (ScalarCategory.computed(value), length)
    }

    /// The value and UTF-8 length of the scalar that starts at `index`.
    ///
    /// The buffer must hold valid UTF-8 and `index` must be the start of a scalar.
    @inline(__always)
    func scalarValue(at index: Int) -> (value: UInt32, length: Int) {
        let lead = UInt32(self[index])
        if lead < 0x80 {
            return (lead, 1)
        }
        if lead < 0xE0 {
            return ((lead & 0x1F) << 6 | UInt32(self[index + 1] & 0x3F), 2)
        }
        if lead < 0xF0 {
            let value =
                (lead & 0x0F) << 12 | UInt32(self[index + 1] & 0x3F) << 6
                | UInt32(self[index + 2] & 0x3F)
            return (value, 3)
        }
        let value =
            (lead & 0x07) << 18 | UInt32(self[index + 1] & 0x3F) << 12
            | UInt32(self[index + 2] & 0x3F) << 6 | UInt32(self[index + 3] & 0x3F)
        return (value, 4)
    }

    /// The start of the scalar that ends just before `index` (which must be above 0).
    @inline(__always)
    func scalarStart(before index: Int) -> Int {
        var start = index - 1
        while start > 0 && self[start] & 0xC0 == 0x80 {
            start -= 1
        }
        return start
    }
}

/// The UTF-8 length of a scalar from its lead byte.
@inline(__always)
func utf8Length(lead byte: UInt8) -> Int {
    byte < 0x80 ? 1 : byte < 0xE0 ? 2 : byte < 0xF0 ? 3 : 4
}
