/// A command-line value that is not a candidate count.
public struct CandidateCountError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The text as given.
    public var value: String
    /// What is wrong and what was expected.
    public var message: String

    /// `candidate count "<value>": <message>`, for the user.
    public var description: String { "candidate count \"\(value)\": \(message)" }
}

extension Candidates {
    /// How many candidates to keep per query, K: a number, or a fraction of the documents.
    public enum Count: Sendable, Equatable, CustomStringConvertible {
        /// K documents (at least 1), or all of them when there are fewer.
        case count(Int)
        /// The fraction `f` (0 < f ≤ 1) of the C documents, rounded up:
        ///
        ///     K = max(1, ⌈f · C⌉)        (K = 0 when C = 0)
        ///
        /// A product within a relative 10⁻¹² of an integer counts as that integer, so that
        /// binary rounding does not add a document: `7%` of 100 is 7, although
        /// `0.07 * 100 == 7.000000000000001` in `Double`.
        case fraction(Double)

        /// Reads `"100"` (a count) or `"10%"`, `"2.5%"` (a percentage of the documents).
        ///
        /// Surrounding spaces are ignored. A count is a positive decimal integer; a percentage
        /// a positive decimal number (digits, optionally `.` and more digits) at most 100,
        /// followed by `%`.
        ///
        /// - Throws: ``CandidateCountError`` naming the value: `"0"`, `"-5"`, `"0%"`,
        ///   `"150%"`, `"1e3"`, `"0.1"`, `"ten"`, `""`.
        public init(parsing text: String) throws {
            let trimmed = text.trimmingSpaces()
            func failure(_ message: String) -> CandidateCountError { CandidateCountError(value: text, message: message) }
            let expected = "expected a number of candidates such as 100 or a percentage of the documents such as 10%"
            if trimmed.hasSuffix("%") {
                let number = trimmed.dropLast()
                guard Self.isDecimal(number), let percent = Double(number) else { throw failure(expected) }
                guard percent > 0 && percent <= 100 else { throw failure("the percentage must be above 0% and at most 100%") }
                self = .fraction(percent / 100)
            } else {
                guard !trimmed.isEmpty, trimmed.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { throw failure(expected) }
                guard let count = Int(trimmed) else { throw failure("the count is too large") }
                guard count >= 1 else { throw failure("the count must be at least 1") }
                self = .count(count)
            }
        }

        /// K for a collection of `documentCount` documents: at most `documentCount`, at least 1
        /// when there is any document.
        ///
        /// - Precondition: a count is at least 1; a fraction is in (0, 1].
        public func resolved(documentCount: Int) -> Int {
            precondition(documentCount >= 0, "negative document count \(documentCount)")
            switch self {
            case .count(let count):
                precondition(count >= 1, "a candidate count must be at least 1, got \(count)")
                return Swift.min(count, documentCount)
            case .fraction(let fraction):
                precondition(fraction > 0 && fraction <= 1, "a candidate fraction must be in (0, 1], got \(fraction)")
                guard documentCount > 0 else { return 0 }
                let product = fraction * Double(documentCount)
                let nearest = product.rounded()
                let k = Swift.abs(product - nearest) <= 1e-12 * Swift.max(1, nearest) ? nearest : product.rounded(.up)
                return Swift.min(documentCount, Swift.max(1, Int(k)))
            }
        }

        /// `"100"` or `"10%"`, readable by ``init(parsing:)``.
        public var description: String {
            switch self {
            case .count(let count): return "\(count)"
            case .fraction(let fraction):
                // Rounded to 10⁻⁹ of a percent, so that parsing "7%" prints "7%", not "7.000000000000001%".
                let percent = (fraction * 100 * 1e9).rounded() / 1e9
                if percent == percent.rounded(), Swift.abs(percent) < 1e15 { return "\(Int(percent))%" }
                return "\(percent)%"
            }
        }

        private static func isDecimal(_ text: Substring) -> Bool {
            let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
            let isDigits = { (part: Substring) in !part.isEmpty && part.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 } }
            return parts.count == 1 ? isDigits(parts[0]) : isDigits(parts[0]) && isDigits(parts[1])
        }
    }
}

extension String {
    /// The string without leading and trailing spaces and tabs.
    fileprivate func trimmingSpaces() -> Substring {
        var text = self[...]
        while let first = text.first, first == " " || first == "\t" { text.removeFirst() }
        while let last = text.last, last == " " || last == "\t" { text.removeLast() }
        return text
    }
}
