/// A compiled pattern: a flat list of instructions for `RegexMatcher`, compiled once when a
/// tokenizer is loaded.
///
/// Alternation and optional parts compile to `split`s, which try their first target and leave
/// the second to backtracking; this gives Oniguruma's order (alternatives left to right, greedy
/// quantifiers longest first, lazy ones shortest first). A quantifier on a single scalar or
/// class (`\p{L}+`, ` ?`, `\p{N}{1,3}`) is one `greedyRun`/`lazyRun` instruction that scans
/// the run at once and backtracks one scalar at a time, so that a long word costs one
/// backtracking entry, not one per letter. Other bounded repetitions are unrolled. An
/// alternative that cannot match the empty string is entered only when the next scalar can
/// start it (`guardedSplit`), so that at a letter the pattern's contraction and whitespace
/// alternatives cost one table lookup each.
struct RegexProgram: Sendable {
    enum Opcode: UInt8, Sendable {
        /// Match the scalar `a`.
        case scalar
        /// Match one scalar of class `a`.
        case scalarClass
        /// Match `b`…`c` scalars of class `a`, as many as possible first.
        case greedyRun
        /// Match `b`…`c` scalars of class `a`, as few as possible first.
        case lazyRun
        /// Continue at `a`; on failure, at `b`.
        case split
        /// `split`, taken only when the current scalar is in class `c` (all that alternative `a`
        /// can start with); otherwise continue at `b` straight away.
        case guardedSplit
        /// Continue at `a`.
        case jump
        /// Run the sub-program that follows (it ends with `succeed`) at the current position;
        /// continue at `a` if it matches (`b == 0`) or if it does not (`b == 1`).
        case lookahead
        /// End of a lookahead's sub-program.
        case succeed
        /// Check the anchor `RegexAnchor(rawValue: a)`.
        case assert
        /// Save the position in register `a` (undone on backtracking).
        case mark
        /// End of an unbounded loop whose body can match empty: continue at `c` if the body
        /// matched nothing since the `mark` of register `a`, else at `b` (the loop's start).
        case loopCheck
        /// The whole pattern matched.
        case match
    }

    struct Instruction: Sendable {
        var opcode: Opcode
        var a: Int32 = 0
        var b: Int32 = 0
        var c: Int32 = 0
    }

    /// Marks an unbounded maximum in `greedyRun` and `lazyRun`.
    static let unbounded = Int32.max

    /// Instructions beyond this (after unrolling repetitions) make a pattern unsupported.
    static let maximumSize = 100_000
    /// Classes beyond this (8 KiB each) make a pattern unsupported.
    static let maximumClassCount = 4096

    var instructions: [Instruction] = []
    var classes = ScalarClassTable()
    var registerCount = 0
    /// A class holding every scalar a match can start with, or `nil` when the pattern can match
    /// the empty string or the class is unknown.
    var firstScalarClass: Int?
}

/// Turns a `RegexNode` tree into a `RegexProgram`.
struct RegexCompiler {
    private var program = RegexProgram()
    /// The classes already in the table, so that a class used several times (`\s` in Llama 3's
    /// pattern, the `'` that starts each contraction, an unrolled repetition) has one entry.
    private var classIndices: [ScalarClass: Int] = [:]

    /// The program of a tree.
    ///
    /// - Throws: `RegularExpressionError` (unsupported) when the unrolled program would exceed
    ///   `RegexProgram.maximumSize` instructions.
    static func compile(_ node: RegexNode, pattern: String) throws -> RegexProgram {
        var compiler = RegexCompiler()
        try compiler.emit(node, pattern: pattern)
        compiler.append(.init(opcode: .match))
        if !node.isNullable, let first = node.firstScalars {
            compiler.program.firstScalarClass = compiler.classIndex(first)
        }
        return compiler.program
    }

    private var next: Int32 { Int32(program.instructions.count) }

    @discardableResult
    private mutating func append(_ instruction: RegexProgram.Instruction) -> Int {
        program.instructions.append(instruction)
        return program.instructions.count - 1
    }

    private mutating func emit(_ node: RegexNode, pattern: String) throws {
        guard program.instructions.count <= RegexProgram.maximumSize else {
            throw RegularExpressionError(
                .unsupported, construct: pattern, offset: 0,
                message: "the pattern needs more than \(RegexProgram.maximumSize) instructions "
                    + "once its repetitions are unrolled, which is not supported")
        }
        guard program.classes.count <= RegexProgram.maximumClassCount else {
            throw RegularExpressionError(
                .unsupported, construct: pattern, offset: 0,
                message: "the pattern needs more than \(RegexProgram.maximumClassCount) character classes "
                    + "once its repetitions are unrolled, which is not supported")
        }
        switch node {
        case .empty:
            break
        case .scalar(let value):
            append(.init(opcode: .scalar, a: Int32(bitPattern: value)))
        case .scalarClass(let scalarClass):
            append(.init(opcode: .scalarClass, a: Int32(classIndex(scalarClass))))
        case .sequence(let items):
            for item in items { try emit(item, pattern: pattern) }
        case .alternation(let alternatives):
            var jumpsToEnd: [Int] = []
            for (index, alternative) in alternatives.enumerated() {
                if index == alternatives.count - 1 {
                    try emit(alternative, pattern: pattern)
                } else {
                    let split = append(.init(opcode: .split, a: next + 1))
                    if !alternative.isNullable, let first = alternative.firstScalars {
                        program.instructions[split].opcode = .guardedSplit
                        program.instructions[split].c = Int32(classIndex(first))
                    }
                    try emit(alternative, pattern: pattern)
                    jumpsToEnd.append(append(.init(opcode: .jump)))
                    program.instructions[split].b = next
                }
            }
            for jump in jumpsToEnd { program.instructions[jump].a = next }
        case .repetition(let body, let minimum, let maximum, let greedy):
            try emitRepetition(body, minimum: minimum, maximum: maximum, greedy: greedy, pattern: pattern)
        case .lookahead(let body, let negated):
            let lookahead = append(.init(opcode: .lookahead, b: negated ? 1 : 0))
            try emit(body, pattern: pattern)
            append(.init(opcode: .succeed))
            program.instructions[lookahead].a = next
        case .anchor(let anchor):
            append(.init(opcode: .assert, a: anchor.rawValue))
        }
    }

    /// The index of a class in the table, added unless it is already there.
    private mutating func classIndex(_ scalarClass: ScalarClass) -> Int {
        if let index = classIndices[scalarClass] { return index }
        let index = program.classes.add(scalarClass)
        classIndices[scalarClass] = index
        return index
    }

    private mutating func emitRepetition(
        _ body: RegexNode, minimum: Int, maximum: Int?, greedy: Bool, pattern: String
    ) throws {
        if let scalarClass = body.singleScalarClass {
            let index = Int32(classIndex(scalarClass))
            append(
                .init(
                    opcode: greedy ? .greedyRun : .lazyRun, a: index, b: Int32(minimum),
                    c: maximum.map { Int32($0) } ?? RegexProgram.unbounded))
            return
        }
        for _ in 0..<minimum {
            try emit(body, pattern: pattern)
        }
        if let maximum {
            // x{m,n}: after the m copies, n - m optional ones; skipping one skips the rest.
            var splits: [Int] = []
            for _ in minimum..<maximum {
                splits.append(append(.init(opcode: .split)))
                let split = splits[splits.count - 1]
                if greedy { program.instructions[split].a = next } else { program.instructions[split].b = next }
                try emit(body, pattern: pattern)
            }
            for split in splits {
                if greedy { program.instructions[split].b = next } else { program.instructions[split].a = next }
            }
            return
        }
        // x*: a loop; a body that can match empty stops the loop when it does.
        let loopStart = next
        let split = append(.init(opcode: .split))
        if greedy { program.instructions[split].a = next } else { program.instructions[split].b = next }
        if body.isNullable {
            let register = Int32(program.registerCount)
            program.registerCount += 1
            append(.init(opcode: .mark, a: register))
            try emit(body, pattern: pattern)
            let check = append(.init(opcode: .loopCheck, a: register, b: loopStart))
            program.instructions[check].c = next
        } else {
            try emit(body, pattern: pattern)
            append(.init(opcode: .jump, a: loopStart))
        }
        if greedy { program.instructions[split].b = next } else { program.instructions[split].a = next }
    }
}
