import Foundation

/// One option of a subcommand: `--name VALUE`, or a flag `--name` when `takesValue` is false.
struct OptionSpecification {
    let name: String
    let valueName: String?
    let help: String
    let isRequired: Bool
    let defaultValue: String?

    static func value(
        _ name: String, _ valueName: String, required: Bool = false, default defaultValue: String? = nil,
        _ help: String
    ) -> OptionSpecification {
        OptionSpecification(name: name, valueName: valueName, help: help, isRequired: required, defaultValue: defaultValue)
    }

    static func flag(_ name: String, _ help: String) -> OptionSpecification {
        OptionSpecification(name: name, valueName: nil, help: help, isRequired: false, defaultValue: nil)
    }

    var takesValue: Bool { valueName != nil }
    var synopsis: String {
        let body = takesValue ? "--\(name) \(valueName!)" : "--\(name)"
        return isRequired ? body : "[\(body)]"
    }
}

/// A mistake on the command line: reported with the usage line and exit code 64 (EX_USAGE).
struct UsageError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}

/// A failure while running a command (a file, a model, data): reported with exit code 1.
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}

/// The options given to a subcommand, after validation against its specification.
struct ParsedArguments {
    private var values: [String: String] = [:]
    private var flags: Set<String> = []

    init(_ arguments: [String], specification: [OptionSpecification]) throws {
        var i = 0
        let byName = Dictionary(uniqueKeysWithValues: specification.map { ($0.name, $0) })
        while i < arguments.count {
            let argument = arguments[i]
            guard argument.hasPrefix("--"), argument.count > 2 else {
                throw UsageError("unexpected argument '\(argument)'")
            }
            var name = String(argument.dropFirst(2))
            var inlineValue: String? = nil
            if let eq = name.firstIndex(of: "=") {
                inlineValue = String(name[name.index(after: eq)...])
                name = String(name[..<eq])
            }
            guard let option = byName[name] else { throw UsageError("unknown option '--\(name)'") }
            if option.takesValue {
                let value: String
                if let inlineValue {
                    value = inlineValue
                } else {
                    guard i + 1 < arguments.count, !arguments[i + 1].hasPrefix("--") else {
                        throw UsageError("option '--\(name)' needs a value (\(option.valueName!))")
                    }
                    i += 1
                    value = arguments[i]
                }
                if values[name] != nil { throw UsageError("option '--\(name)' is given more than once") }
                values[name] = value
            } else {
                if inlineValue != nil { throw UsageError("flag '--\(name)' does not take a value") }
                flags.insert(name)
            }
            i += 1
        }
        for option in specification where option.isRequired && values[option.name] == nil {
            throw UsageError("missing required option '--\(option.name) \(option.valueName ?? "")'")
        }
        for option in specification where values[option.name] == nil {
            if let d = option.defaultValue { values[option.name] = d }
        }
    }

    func string(_ name: String) -> String? { values[name] }
    func flag(_ name: String) -> Bool { flags.contains(name) }

    /// An integer option; sizes and counts are at most 2³¹ − 1 (`maximum`), so that no product of
    /// two of them overflows before it is checked against the memory it needs.
    func integer(_ name: String, minimum: Int = Int.min, maximum: Int = Int(Int32.max)) throws -> Int? {
        guard let text = values[name] else { return nil }
        guard let value = Int(text) else { throw UsageError("option '--\(name)' needs an integer, got '\(text)'") }
        guard value >= minimum else { throw UsageError("option '--\(name)' must be at least \(minimum), got \(value)") }
        guard value <= maximum else { throw UsageError("option '--\(name)' must be at most \(maximum), got \(value)") }
        return value
    }

    func number(_ name: String) throws -> Double? {
        guard let text = values[name] else { return nil }
        guard let value = Double(text), value.isFinite else { throw UsageError("option '--\(name)' needs a number, got '\(text)'") }
        return value
    }

    func choice(_ name: String, from allowed: [String]) throws -> String? {
        guard let text = values[name] else { return nil }
        guard allowed.contains(text) else {
            throw UsageError("option '--\(name)' must be one of \(allowed.joined(separator: ", ")), got '\(text)'")
        }
        return text
    }

    func path(_ name: String) -> URL? { values[name].map { URL(fileURLWithPath: $0) } }

    /// These arguments with the defaults of `options` filled in where no value was given: for
    /// options that a family of subcommands reads in common but only some of them take.
    func filling(defaultsOf options: [OptionSpecification]) -> ParsedArguments {
        var copy = self
        for option in options where copy.values[option.name] == nil {
            if let value = option.defaultValue { copy.values[option.name] = value }
        }
        return copy
    }
}

/// A subcommand of `influence`.
protocol Subcommand {
    static var name: String { get }
    static var abstract: String { get }
    static var options: [OptionSpecification] { get }
    static var discussion: String { get }
    init(_ arguments: ParsedArguments) throws
    func run() throws
}

extension Subcommand {
    static var discussion: String { "" }
    static var usage: String { "influence \(name) " + options.map(\.synopsis).joined(separator: " ") }

    static var help: String {
        var text = "\(abstract)\n\nUsage: \(usage)\n\nOptions:\n"
        let width = (options.map { ($0.takesValue ? "--\($0.name) \($0.valueName!)" : "--\($0.name)").count }.max() ?? 0) + 2
        for o in options {
            let left = o.takesValue ? "--\(o.name) \(o.valueName!)" : "--\(o.name)"
            var line = "  " + left.padding(toLength: width, withPad: " ", startingAt: 0) + o.help
            if let d = o.defaultValue { line += " (default: \(d))" }
            if o.isRequired { line += " (required)" }
            text += line + "\n"
        }
        text += "  " + "--help".padding(toLength: width, withPad: " ", startingAt: 0) + "Show this help.\n"
        if !discussion.isEmpty { text += "\n" + discussion + "\n" }
        return text
    }
}

/// Writes to standard error.
func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}
