/// A set of Unicode scalars described by a pattern: `[^\s\p{L}\p{N}]`, `\d`, `.`, or the
/// case variants of a literal under `(?i)`.
///
/// Kept as a tree of set operations; `ScalarClassTable` evaluates it once for the Basic
/// Multilingual Plane into a bit set, and above it the tree is evaluated per scalar.
indirect enum ScalarClass: Sendable, Hashable {
    /// The listed scalars.
    case scalars([UInt32])
    /// The scalars `lower...upper`.
    case range(UInt32, UInt32)
    /// The scalars of these general categories.
    case categories(GeneralCategories)
    /// The scalars with the `White_Space` property (`\s`).
    case whitespace
    case union([ScalarClass])
    case intersection([ScalarClass])
    case complement(ScalarClass)
    /// The scalars that are in the class or fold like a scalar that is (`(?i:[a-z])`).
    case caseInsensitive(ScalarClass)

    /// Every scalar.
    static let any = ScalarClass.categories(.all)
    /// `\d`: General_Category Decimal_Number.
    static let digit = ScalarClass.categories(.decimalNumber)
    /// `\w`: Letter, Mark, Number and Connector_Punctuation, as Oniguruma defines it for Unicode.
    static let word = ScalarClass.categories(
        GeneralCategories.letter.union(.mark).union(.number).union(.connectorPunctuation))
    /// `\h`: an ASCII hexadecimal digit.
    static let hexadecimalDigit = ScalarClass.union([.range(0x30, 0x39), .range(0x41, 0x46), .range(0x61, 0x66)])
    /// `.` without the dot-all option: anything but a newline (U+000A).
    static let notNewline = ScalarClass.complement(.scalars([0x0A]))

    func contains(_ value: UInt32) -> Bool {
        switch self {
        case .scalars(let values): return values.contains(value)
        case .range(let lower, let upper): return lower <= value && value <= upper
        case .categories(let categories): return categories.contains(ScalarProperties.categories(of: value))
        case .whitespace: return ScalarProperties.isWhitespace(value)
        case .union(let members): return members.contains { $0.contains(value) }
        case .intersection(let members): return members.allSatisfy { $0.contains(value) }
        case .complement(let inner): return !inner.contains(value)
        case .caseInsensitive(let inner):
            return inner.contains(value) || CaseFolding.equivalents(of: value).contains { inner.contains($0) }
        }
    }

    /// Sets the bits of the class's members below U+10000 in `bits` (1024 words, cleared).
    func fillBasicPlane(_ bits: inout [UInt64]) {
        func set(_ value: UInt32) {
            bits[Int(value >> 6)] |= 1 << UInt64(value & 63)
        }
        switch self {
        case .scalars(let values):
            for value in values where value < 0x10000 { set(value) }
        case .range(let lower, let upper):
            guard lower < 0x10000 else { return }
            for value in lower...min(upper, 0xFFFF) { set(value) }
        case .categories(let categories):
            for index in 0..<GeneralCategories.order.count where categories.contains(GeneralCategories(index: UInt8(index))) {
                let categoryBits = ScalarProperties.basicPlaneBits[index]
                for word in 0..<1024 { bits[word] |= categoryBits[word] }
            }
        case .whitespace:
            let whitespaceBits = ScalarProperties.basicPlaneBits[GeneralCategories.order.count]
            for word in 0..<1024 { bits[word] |= whitespaceBits[word] }
        case .caseInsensitive(let inner):
            // The members, and every scalar that folds like one of them.
            inner.fillBasicPlane(&bits)
            for members in CaseFolding.classesOfEquivalents where members.contains(where: inner.contains) {
                for member in members where member < 0x10000 { set(member) }
            }
        case .union(let members):
            for member in members { member.fillBasicPlane(&bits) }
        case .intersection(let members):
            var result = [UInt64](repeating: .max, count: 1024)
            for member in members {
                var memberBits = [UInt64](repeating: 0, count: 1024)
                member.fillBasicPlane(&memberBits)
                for word in 0..<1024 { result[word] &= memberBits[word] }
            }
            for word in 0..<1024 { bits[word] |= result[word] }
        case .complement(let inner):
            var innerBits = [UInt64](repeating: 0, count: 1024)
            inner.fillBasicPlane(&innerBits)
            for word in 0..<1024 { bits[word] |= ~innerBits[word] }
        }
    }

    /// The class with the case variants of its members added.
    func addingCaseVariants() -> ScalarClass {
        switch self {
        case .scalars(let values):
            var variants: [UInt32] = []
            for value in values {
                for variant in CaseFolding.equivalents(of: value) where !variants.contains(variant) {
                    variants.append(variant)
                }
            }
            return .scalars(variants)
        case .caseInsensitive:
            return self
        default:
            return .caseInsensitive(self)
        }
    }
}

/// The classes of a compiled pattern: a bit set per class for U+0000…U+FFFF, and the class
/// itself for the scalars above, which are rare in text.
struct ScalarClassTable: Sendable {
    /// 1024 words per class.
    private(set) var basicPlaneBits: [UInt64] = []
    private(set) var classes: [ScalarClass] = []

    var count: Int { classes.count }

    /// Adds a class and returns its index.
    mutating func add(_ scalarClass: ScalarClass) -> Int {
        var bits = [UInt64](repeating: 0, count: 1024)
        scalarClass.fillBasicPlane(&bits)
        basicPlaneBits += bits
        classes.append(scalarClass)
        return classes.count - 1
    }

    @inline(__always)
    func contains(_ value: UInt32, inClass index: Int) -> Bool {
        if value < 0x10000 {
            return basicPlaneBits[index &* 1024 &+ Int(value >> 6)] >> UInt64(value & 63) & 1 != 0
        }
        return classes[index].contains(value)
    }
}
