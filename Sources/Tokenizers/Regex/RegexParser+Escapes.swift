/// Escapes (`\t`, `\x{…}`, `\p{…}`, `\s`, …) and bracketed classes (`[^\s\p{L}\p{N}]`) of
/// `RegexParser`.
extension RegexParser {
    // MARK: Escapes

    /// What an escape stands for.
    enum Escaped {
        case scalar(UInt32)
        case scalarClass(ScalarClass)
        case anchor(RegexAnchor)
    }

    mutating func parseEscape(_ options: Options, start: Int) throws -> RegexNode {
        switch try parseEscapeContent(start: start, inClass: false) {
        case .scalar(let value): return literal(value, options)
        case .scalarClass(let scalarClass):
            return .scalarClass(options.caseInsensitive ? scalarClass.addingCaseVariants() : scalarClass)
        case .anchor(let anchor): return .anchor(anchor)
        }
    }

    /// Reads the escape whose backslash is at `start` (already consumed).
    private mutating func parseEscapeContent(start: Int, inClass: Bool) throws -> Escaped {
        guard !isAtEnd else { throw invalid("\\", "the pattern ends with a backslash", at: start) }
        let letter = advance()
        let written = text(start..<position)
        switch letter {
        case "t": return .scalar(0x09)
        case "n": return .scalar(0x0A)
        case "r": return .scalar(0x0D)
        case "f": return .scalar(0x0C)
        case "v": return .scalar(0x0B)
        case "a": return .scalar(0x07)
        case "e": return .scalar(0x1B)
        case "x": return .scalar(try parseHexadecimalEscape(start: start))
        case "u":
            let digits = try hexadecimalDigits(exactly: 4, start: start)
            return .scalar(try checkedScalar(digits, start: start))
        case "o":
            guard consume("{") else { throw unsupported(written, "the escape") }
            var value: UInt32 = 0
            var count = 0
            while let next = peek(), let digit = octalValue(next) {
                value = value &* 8 &+ digit
                count += 1
                position += 1
            }
            guard count > 0, count <= 11, consume("}") else {
                throw invalid(text(start..<position), "a malformed octal escape", at: start)
            }
            return .scalar(try checkedScalar(value, start: start))
        case "0":
            var value: UInt32 = 0
            var count = 0
            while count < 2, let next = peek(), let digit = octalValue(next) {
                value = value * 8 + digit
                count += 1
                position += 1
            }
            return .scalar(value)
        case "1"..."9":
            throw unsupported(written, "the backreference")
        case "s": return .scalarClass(.whitespace)
        case "S": return .scalarClass(.complement(.whitespace))
        case "d": return .scalarClass(.digit)
        case "D": return .scalarClass(.complement(.digit))
        case "w": return .scalarClass(.word)
        case "W": return .scalarClass(.complement(.word))
        case "h": return .scalarClass(.hexadecimalDigit)
        case "H": return .scalarClass(.complement(.hexadecimalDigit))
        case "p", "P": return .scalarClass(try parseProperty(negated: letter == "P", start: start))
        case "b" where inClass: return .scalar(0x08)
        case "A" where !inClass: return .anchor(.textStart)
        case "z" where !inClass: return .anchor(.textEnd)
        case "Z" where !inClass: return .anchor(.textEndBeforeNewline)
        case "b", "B": throw unsupported(written, "the word-boundary assertion")
        case "G": throw unsupported(written, "the search-start assertion")
        case "K": throw unsupported(written, "the keep operator")
        case "R": throw unsupported(written, "the line-break escape")
        case "X": throw unsupported(written, "the grapheme-cluster escape")
        case "N", "O": throw unsupported(written, "the escape")
        case "y", "Y": throw unsupported(written, "the text-segment boundary")
        case "k": throw unsupported(written, "the named backreference")
        case "g": throw unsupported(written, "the subexpression call")
        case "c", "C", "M": throw unsupported(written, "the control or meta escape")
        default:
            if letter.properties.isAlphabetic || letter.properties.numericType != nil {
                throw unsupported(written, "the escape")
            }
            return .scalar(letter.value)
        }
    }

    private func octalValue(_ scalar: Unicode.Scalar) -> UInt32? {
        ("0"..."7").contains(scalar) ? scalar.value - 0x30 : nil
    }

    private func hexadecimalValue(_ scalar: Unicode.Scalar) -> UInt32? {
        switch scalar {
        case "0"..."9": return scalar.value - 0x30
        case "a"..."f": return scalar.value - 0x61 + 10
        case "A"..."F": return scalar.value - 0x41 + 10
        default: return nil
        }
    }

    private mutating func hexadecimalDigits(exactly count: Int, start: Int) throws -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<count {
            guard let next = peek(), let digit = hexadecimalValue(next) else {
                throw invalid(text(start..<(position + 1)), "a malformed hexadecimal escape", at: start)
            }
            value = value << 4 | digit
            position += 1
        }
        return value
    }

    /// `\xHH` (one or two digits) or `\x{H…}` (one to eight digits).
    private mutating func parseHexadecimalEscape(start: Int) throws -> UInt32 {
        if consume("{") {
            var value: UInt32 = 0
            var count = 0
            while let next = peek(), let digit = hexadecimalValue(next) {
                value = value &<< 4 | digit
                count += 1
                position += 1
            }
            if count > 0, count <= 8, peek() == " " {
                throw unsupported(text(start..<position), "the code point sequence", at: start)
            }
            guard count > 0, count <= 8, consume("}") else {
                throw invalid(text(start..<position), "a malformed hexadecimal escape", at: start)
            }
            return try checkedScalar(value, start: start)
        }
        var value: UInt32 = 0
        var count = 0
        while count < 2, let next = peek(), let digit = hexadecimalValue(next) {
            value = value << 4 | digit
            count += 1
            position += 1
        }
        guard count > 0 else { throw invalid("\\x", "a malformed hexadecimal escape", at: start) }
        return value
    }

    private func checkedScalar(_ value: UInt32, start: Int) throws -> UInt32 {
        guard Unicode.Scalar(value) != nil else {
            throw invalid(text(start..<position), "the escape is not a Unicode scalar value", at: start)
        }
        return value
    }

    /// `\p{Name}`, `\p{^Name}`, `\P{Name}` (the `p` or `P` already consumed).
    private mutating func parseProperty(negated: Bool, start: Int) throws -> ScalarClass {
        guard consume("{") else {
            throw invalid(text(start..<position), "a property escape needs a name in braces", at: start)
        }
        let inverted = consume("^")
        let nameStart = position
        while let next = peek(), next != "}" { position += 1 }
        guard consume("}") else { throw invalid(text(start..<position), "an unterminated property name", at: start) }
        let name = text(nameStart..<(position - 1))
        guard let categories = GeneralCategories.named(name) else {
            throw unsupported(text(start..<position), "the Unicode property", at: start)
        }
        let scalarClass = ScalarClass.categories(categories)
        return negated != inverted ? .complement(scalarClass) : scalarClass
    }

    // MARK: Classes

    /// The inside of `[…]` (the `[` at `start` already consumed), up to and with its `]`.
    ///
    /// Under `(?i)` the case variants of the members are added before a `^` negates the class,
    /// so `(?i)[^a]` matches neither `a` nor `A`.
    mutating func parseClassBody(_ options: Options, start: Int) throws -> ScalarClass {
        try descend(start: start)
        defer { depth -= 1 }
        let negated = consume("^")
        var operands: [ScalarClass] = []  // separated by &&
        var members: [ScalarClass] = []
        var isFirst = true
        while true {
            guard let next = peek() else { throw invalid("[", "unmatched \"[\"", at: start) }
            if next == "]" && !isFirst {
                position += 1
                break
            }
            isFirst = false
            if next == "&" && peek(1) == "&" {
                position += 2
                operands.append(.union(members))
                members = []
                continue
            }
            let itemStart = position
            guard let low = try parseClassItem(options, start: itemStart) else { continue }
            guard case .scalar(let lower) = low, peek() == "-", let after = peek(1), after != "]" else {
                members.append(scalarClassOf(low))
                continue
            }
            position += 1  // "-"
            let upperStart = position
            guard let high = try parseClassItem(options, start: upperStart), case .scalar(let upper) = high else {
                throw invalid(text(itemStart..<position), "a class range must end with a single character", at: itemStart)
            }
            guard lower <= upper else {
                throw invalid(text(itemStart..<position), "the class range is out of order", at: itemStart)
            }
            members.append(.range(lower, upper))
        }
        var result: ScalarClass
        if operands.isEmpty {
            result = .union(members)
        } else {
            operands.append(.union(members))
            // An empty operand (`[a&&]`) leaves the others unrestricted.
            result = .intersection(
                operands.filter {
                    if case .union(let items) = $0 { return !items.isEmpty }
                    return true
                })
        }
        if options.caseInsensitive {
            result = result.addingCaseVariants()
        }
        return negated ? .complement(result) : result
    }

    private func scalarClassOf(_ item: Escaped) -> ScalarClass {
        switch item {
        case .scalar(let value): return .scalars([value])
        case .scalarClass(let scalarClass): return scalarClass
        case .anchor: return .scalars([])
        }
    }

    /// One item of a class: a scalar, an escape or a nested class.
    private mutating func parseClassItem(_ options: Options, start: Int) throws -> Escaped? {
        let scalar = advance()
        switch scalar {
        case "\\":
            return try parseEscapeContent(start: start, inClass: true)
        case "[":
            if peek() == ":" {
                var index = position + 1
                while index < scalars.count, scalars[index] != "]" { index += 1 }
                let end = index < scalars.count ? index + 1 : index
                position = end
                throw unsupported(text(start..<end), "the POSIX bracket expression", at: start)
            }
            return .scalarClass(try parseClassBody(options, start: start))
        default:
            return .scalar(scalar.value)
        }
    }
}
