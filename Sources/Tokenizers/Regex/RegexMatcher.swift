/// Runs a `RegexProgram` over UTF-8 text by backtracking, as Oniguruma does: the first match
/// found in priority order at the leftmost position where there is one.
///
/// The matcher keeps its backtracking stack between searches, so searching a text for all its
/// matches allocates once. It is not shared between threads; each search over a text makes one.
struct RegexMatcher {
    private let program: RegexProgram
    private var stack: [Frame] = []
    private var registers: [Int]

    /// One way to resume matching.
    private struct Frame {
        enum Kind: UInt8 {
            /// Resume at `pc`, `position`.
            case alternative
            /// A greedy run that ends at `position` and may give back scalars down to `bound`;
            /// resume after it at `pc`.
            case greedyRun
            /// A lazy run (instruction `pc`) that ends at `position` after `bound` scalars and may
            /// take one more.
            case lazyRun
            /// Restore register `pc` to `position`.
            case restoreRegister
        }

        var kind: Kind
        var pc: Int32
        var position: Int
        var bound: Int
    }

    init(_ program: RegexProgram) {
        self.program = program
        self.registers = [Int](repeating: -1, count: program.registerCount)
        stack.reserveCapacity(32)
    }

    /// The first match that starts at or after `start`, leftmost first.
    mutating func firstMatch(in text: UnsafeBufferPointer<UInt8>, from start: Int) -> Range<Int>? {
        var position = start
        let end = text.count
        let first = program.firstScalarClass
        while true {
            if let first {
                // Skip the positions where no match can start.
                while position < end,
                    !program.classes.contains(text.scalarValue(at: position).value, inClass: first)
                {
                    position += utf8Length(lead: text[position])
                }
                if position == end { return nil }
            }
            if let matchEnd = execute(from: 0, at: position, in: text) {
                return position..<matchEnd
            }
            if position >= end { return nil }
            position += utf8Length(lead: text[position])
        }
    }

    /// Runs the program from instruction `startPC` at `startPosition`; the end of the match,
    /// or `nil`. Lookaheads call it recursively on the same stack, above their own base.
    private mutating func execute(from startPC: Int, at startPosition: Int, in text: UnsafeBufferPointer<UInt8>) -> Int? {
        let base = stack.count
        var pc = startPC
        var position = startPosition
        let end = text.count
        while true {
            let instruction = program.instructions[pc]
            var matched = true
            switch instruction.opcode {
            case .scalar:
                if position < end {
                    let (value, length) = text.scalarValue(at: position)
                    if value == UInt32(bitPattern: instruction.a) {
                        position += length
                        pc += 1
                    } else {
                        matched = false
                    }
                } else {
                    matched = false
                }
            case .scalarClass:
                if position < end {
                    let (value, length) = text.scalarValue(at: position)
                    if program.classes.contains(value, inClass: Int(instruction.a)) {
                        position += length
                        pc += 1
                    } else {
                        matched = false
                    }
                } else {
                    matched = false
                }
            case .greedyRun:
                let scalarClass = Int(instruction.a)
                let minimum = Int(instruction.b)
                let maximum = Int(instruction.c)
                var count = 0
                var runEnd = position
                var minimumEnd = position
                while count < maximum && runEnd < end {
                    let (value, length) = text.scalarValue(at: runEnd)
                    guard program.classes.contains(value, inClass: scalarClass) else { break }
                    runEnd += length
                    count += 1
                    if count == minimum { minimumEnd = runEnd }
                }
                if count < minimum {
                    matched = false
                } else {
                    if runEnd > minimumEnd {
                        stack.append(Frame(kind: .greedyRun, pc: Int32(pc + 1), position: runEnd, bound: minimumEnd))
                    }
                    position = runEnd
                    pc += 1
                }
            case .lazyRun:
                let scalarClass = Int(instruction.a)
                let minimum = Int(instruction.b)
                var count = 0
                var runEnd = position
                while count < minimum && runEnd < end {
                    let (value, length) = text.scalarValue(at: runEnd)
                    guard program.classes.contains(value, inClass: scalarClass) else { break }
                    runEnd += length
                    count += 1
                }
                if count < minimum {
                    matched = false
                } else {
                    if count < Int(instruction.c) {
                        stack.append(Frame(kind: .lazyRun, pc: Int32(pc), position: runEnd, bound: count))
                    }
                    position = runEnd
                    pc += 1
                }
            case .split:
                stack.append(Frame(kind: .alternative, pc: instruction.b, position: position, bound: 0))
                pc = Int(instruction.a)
            case .guardedSplit:
                if position < end,
                    program.classes.contains(text.scalarValue(at: position).value, inClass: Int(instruction.c))
                {
                    stack.append(Frame(kind: .alternative, pc: instruction.b, position: position, bound: 0))
                    pc = Int(instruction.a)
                } else {
                    pc = Int(instruction.b)
                }
            case .jump:
                pc = Int(instruction.a)
            case .lookahead:
                let found = execute(from: pc + 1, at: position, in: text) != nil
                if found == (instruction.b == 0) {
                    pc = Int(instruction.a)
                } else {
                    matched = false
                }
            case .succeed, .match:
                stack.removeSubrange(base...)
                return position
            case .assert:
                if check(RegexAnchor(rawValue: instruction.a) ?? .textStart, at: position, in: text) {
                    pc += 1
                } else {
                    matched = false
                }
            case .mark:
                let register = Int(instruction.a)
                stack.append(Frame(kind: .restoreRegister, pc: instruction.a, position: registers[register], bound: 0))
                registers[register] = position
                pc += 1
            case .loopCheck:
                pc = Int(position == registers[Int(instruction.a)] ? instruction.c : instruction.b)
            }
            if !matched {
                guard backtrack(toBase: base, pc: &pc, position: &position, in: text) else { return nil }
            }
        }
    }

    /// Pops the stack down to the next way to resume; `false` when there is none above `base`.
    private mutating func backtrack(
        toBase base: Int, pc: inout Int, position: inout Int, in text: UnsafeBufferPointer<UInt8>
    ) -> Bool {
        while stack.count > base {
            let top = stack.count - 1
            let frame = stack[top]
            switch frame.kind {
            case .alternative:
                stack.removeLast()
                pc = Int(frame.pc)
                position = frame.position
                return true
            case .greedyRun:
                // Give back one scalar.
                let shorter = text.scalarStart(before: frame.position)
                if shorter > frame.bound {
                    stack[top].position = shorter
                } else {
                    stack.removeLast()
                }
                pc = Int(frame.pc)
                position = shorter
                return true
            case .lazyRun:
                // Take one more scalar, if the class allows.
                let instruction = program.instructions[Int(frame.pc)]
                if frame.position < text.count {
                    let (value, length) = text.scalarValue(at: frame.position)
                    if program.classes.contains(value, inClass: Int(instruction.a)) {
                        let count = frame.bound + 1
                        if count < Int(instruction.c) {
                            stack[top].position = frame.position + length
                            stack[top].bound = count
                        } else {
                            stack.removeLast()
                        }
                        pc = Int(frame.pc) + 1
                        position = frame.position + length
                        return true
                    }
                }
                stack.removeLast()
            case .restoreRegister:
                registers[Int(frame.pc)] = frame.position
                stack.removeLast()
            }
        }
        return false
    }

    private func check(_ anchor: RegexAnchor, at position: Int, in text: UnsafeBufferPointer<UInt8>) -> Bool {
        let end = text.count
        switch anchor {
        case .lineStart: return position == 0 || text[position - 1] == 0x0A
        case .lineEnd: return position == end || text[position] == 0x0A
        case .textStart: return position == 0
        case .textEnd: return position == end
        case .textEndBeforeNewline: return position == end || (position == end - 1 && text[position] == 0x0A)
        }
    }
}
