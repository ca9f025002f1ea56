/// Simple (one-to-one) Unicode case folding, for the case-insensitive parts of a pattern.
///
/// Two scalars match case-insensitively when they fold to the same scalar: `s`, `S` and `ſ`
/// (U+017F) all fold to `s`; `k`, `K` and the Kelvin sign (U+212A) to `k`; `σ`, `Σ` and `ς`
/// to `σ`. Folds that produce several scalars (`ß` → `ss`, `ŉ` → `ʼn`) are not applied, so
/// `ß` only matches itself and `ẞ`.
///
/// The fold of a scalar with the `Changes_When_Casefolded` property is derived from the
/// standard library's case mappings: its lower-case mapping when that is a single other scalar;
/// else, when its upper-case mapping is a single scalar, that one's lower-case mapping
/// (`ſ` → `S` → `s`, `ς` → `Σ` → `σ`) or, if that leads back to the scalar, the upper-case
/// mapping itself (Cherokee small letters fold to the capitals); else the scalar itself. This
/// reproduces the one-to-one folds of Unicode's CaseFolding.txt (statuses C and S).
enum CaseFolding {
    /// The scalar that `value` folds to.
    static func folded(_ value: UInt32) -> UInt32 {
        if value < 0x80 {
            return (0x41...0x5A).contains(value) ? value | 0x20 : value
        }
        return tables.folds[value] ?? value
    }

    /// Every scalar that folds like `value` does, `value` included, in increasing order.
    static func equivalents(of value: UInt32) -> [UInt32] {
        tables.classes[folded(value)] ?? [value]
    }

    /// The classes of more than one scalar that fold alike.
    static var classesOfEquivalents: Dictionary<UInt32, [UInt32]>.Values {
        tables.classes.values
    }

    /// Folds of the scalars that change, and the classes of more than one scalar, by fold.
    private static let tables: (folds: [UInt32: UInt32], classes: [UInt32: [UInt32]]) = {
        var folds: [UInt32: UInt32] = [:]
        var classes: [UInt32: [UInt32]] = [:]
        // Every cased scalar lies below U+20000 (the last ones are Adlam, U+1E900…U+1E943).
        for value in UInt32(0)..<0x20000 {
            guard let scalar = Unicode.Scalar(value), scalar.properties.changesWhenCaseFolded else { continue }
            let fold = computedFold(of: scalar)
            guard fold != value else { continue }
            folds[value] = fold
            classes[fold, default: [fold]].append(value)
        }
        for key in classes.keys {
            classes[key]?.sort()
        }
        return (folds, classes)
    }()

    private static func computedFold(of scalar: Unicode.Scalar) -> UInt32 {
        func single(_ text: String) -> Unicode.Scalar? {
            let scalars = text.unicodeScalars
            return scalars.count == 1 ? scalars.first : nil
        }
        let properties = scalar.properties
        if let lower = single(properties.lowercaseMapping), lower != scalar {
            return lower.value
        }
        if let upper = single(properties.uppercaseMapping), upper != scalar,
            let lower = single(upper.properties.lowercaseMapping)
        {
            return lower == scalar ? upper.value : lower.value
        }
        return scalar.value
    }
}
