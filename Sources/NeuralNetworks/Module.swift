import Autograd
import Foundation
import TensorCore

/// A node of a model: named parameters and named submodules, addressed by dotted paths that
/// follow the PyTorch and safetensors conventions (`transformer.h.0.mlp.c_fc.weight`).
///
/// Subclasses create their parameters and children, call `super.init()`, then register them with
/// ``register(parameter:_:)`` and ``register(module:_:)`` in the order they should be listed.
/// The influence engine reaches models only through this class: traversal, freezing, lookup of
/// ``Linear`` layers by name pattern, and state export.
open class Module<Scalar: TensorScalar> {
    /// This module's own parameters with their local names, in registration order (descendants' parameters are not included).
    public private(set) var localParameters: [(name: String, parameter: Parameter<Scalar>)] = []
    /// The direct submodules with their local names, in registration order.
    public private(set) var children: [(name: String, module: Module<Scalar>)] = []
    /// Training mode (dropout active); see ``train()`` and ``evaluate()``.
    public private(set) var isTraining = true

    /// An empty module in training mode; subclasses register their parameters and children after calling it.
    public init() {}

    /// Registers a parameter under a local name.
    @discardableResult
    public func register(parameter: Parameter<Scalar>, _ name: String) -> Parameter<Scalar> {
        precondition(
            !localParameters.contains { $0.name == name } && !children.contains { $0.name == name },
            "\(type(of: self)) already has a member named \(name)")
        localParameters.append((name, parameter))
        return parameter
    }

    /// Registers a child module under a local name.
    @discardableResult
    public func register<M: Module<Scalar>>(module: M, _ name: String) -> M {
        precondition(
            !localParameters.contains { $0.name == name } && !children.contains { $0.name == name },
            "\(type(of: self)) already has a member named \(name)")
        children.append((name, module))
        return module
    }

    // MARK: Traversal

    /// Every module in the tree with its dotted path (this module has path `prefix`, "" at the root).
    public func namedModules(prefix: String = "") -> [(name: String, module: Module<Scalar>)] {
        var result: [(String, Module<Scalar>)] = [(prefix, self)]
        for (name, child) in children {
            result += child.namedModules(prefix: prefix.isEmpty ? name : prefix + "." + name)
        }
        return result
    }

    /// Every parameter with its dotted path; a parameter shared by several modules (a tied
    /// weight) is listed once, under the first path that reaches it.
    public func namedParameters(prefix: String = "") -> [(name: String, parameter: Parameter<Scalar>)] {
        var seen = Set<ObjectIdentifier>()
        var result: [(String, Parameter<Scalar>)] = []
        for (path, module) in namedModules(prefix: prefix) {
            for (name, p) in module.localParameters where seen.insert(ObjectIdentifier(p)).inserted {
                result.append((path.isEmpty ? name : path + "." + name, p))
            }
        }
        return result
    }

    /// Every distinct parameter, in ``namedParameters(prefix:)`` order.
    public var parameters: [Parameter<Scalar>] { namedParameters().map(\.parameter) }

    /// The parameters that receive gradients.
    public var trainableParameters: [Parameter<Scalar>] { parameters.filter(\.requiresGradient) }

    /// The number of scalars in distinct parameters.
    public var parameterCount: Int { parameters.map { $0.value.scalarCount }.reduce(0, +) }

    /// The parameter at a dotted path, if any.
    public func parameter(named path: String) -> Parameter<Scalar>? {
        namedParameters().first { $0.name == path }?.parameter
    }

    /// The module at a dotted path, if any.
    public func module(named path: String) -> Module<Scalar>? {
        namedModules().first { $0.name == path }?.module
    }

    /// Every ``Linear`` layer whose dotted path matches one of `patterns` (shell-style: `*`
    /// matches any run of characters, `?` one character), or every one when `patterns` is empty.
    public func linearLayers(matching patterns: [String] = []) -> [(name: String, layer: Linear<Scalar>)] {
        namedModules().compactMap { name, module in
            guard let linear = module as? Linear<Scalar> else { return nil }
            if patterns.isEmpty || patterns.contains(where: { NamePattern.matches($0, name) }) { return (name, linear) }
            return nil
        }
    }

    /// Named groups of Linear layers, as name patterns for ``linearLayers(matching:)``: what
    /// `--modules mlp` or `--modules attention` mean for this model. Every model has `all` (every
    /// Linear layer, the empty pattern list); model families override this to add their own.
    open var moduleGroups: [String: [String]] { ["all": []] }

    /// Name patterns for a comma-separated selection of group names (``moduleGroups``) and name
    /// patterns: `"mlp"`, `"mlp,attention"`, `"model.layers.0.*"`. Empty when `selection` is nil,
    /// empty or names `all`, which tracks every Linear layer.
    public func linearLayerPatterns(for selection: String?) -> [String] {
        guard let selection else { return [] }
        let parts = selection.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let groups = moduleGroups
        if parts.contains(where: { groups[$0] == [] }) { return [] }
        return parts.flatMap { groups[$0] ?? [$0] }
    }

    // MARK: Modes

    /// Training mode for this module and its descendants (dropout active).
    public func train() { setTraining(true) }
    /// Evaluation mode for this module and its descendants (dropout off).
    public func evaluate() { setTraining(false) }

    private func setTraining(_ on: Bool) {
        for (_, m) in namedModules() { m.isTraining = on }
    }

    /// Freezes every parameter (no gradients), or only those whose path matches `patterns`.
    public func freeze(matching patterns: [String] = []) { setRequiresGradient(false, patterns) }
    /// Unfreezes every parameter, or only those whose path matches `patterns`.
    public func unfreeze(matching patterns: [String] = []) { setRequiresGradient(true, patterns) }

    private func setRequiresGradient(_ on: Bool, _ patterns: [String]) {
        for (name, p) in namedParameters() where patterns.isEmpty || patterns.contains(where: { NamePattern.matches($0, name) }) {
            p.requiresGradient = on
        }
    }

    /// Reseeds every random layer (dropout) below this module; each derives its own stream from
    /// `seed` and its position in the tree, so a run is reproducible and resumable from a step's seed.
    public func reseed(_ seed: UInt64) {
        for (index, (_, m)) in namedModules().enumerated() {
            m.didReseed(seed &+ UInt64(index) &* 0x9E37_79B9_7F4A_7C15)
        }
    }

    /// Called by ``reseed(_:)`` with this module's own seed; random layers override it.
    open func didReseed(_ seed: UInt64) {}

    // MARK: State

    /// The values of every parameter by dotted path.
    public func state() -> [(name: String, value: Tensor<Scalar>)] {
        namedParameters().map { ($0.name, $0.parameter.value) }
    }

    /// Replaces parameter values by path.
    ///
    /// - Throws: ``ModuleError`` naming the parameter when a value is missing (unless
    ///   `allowMissing`), has the wrong shape, is not finite, or when `values` has an unknown name
    ///   (unless `allowUnexpected`). Nothing is changed when an error is thrown.
    public func load(_ values: [String: Tensor<Scalar>], allowMissing: Bool = false, allowUnexpected: Bool = false) throws {
        let named = namedParameters()
        let known = Set(named.map(\.name))
        if !allowUnexpected, let extra = values.keys.sorted().first(where: { !known.contains($0) }) {
            throw ModuleError.unexpectedParameter(name: extra)
        }
        var updates: [(Parameter<Scalar>, Tensor<Scalar>)] = []
        for (name, p) in named {
            guard let v = values[name] else {
                if allowMissing { continue }
                throw ModuleError.missingParameter(name: name)
            }
            guard v.shape == p.shape else { throw ModuleError.shapeMismatch(name: name, expected: p.shape, found: v.shape) }
            guard v.isFinite else { throw ModuleError.nonFinite(name: name) }
            updates.append((p, v))
        }
        for (p, v) in updates { p.value = v }
    }
}

/// Errors of loading parameter values into a module.
public enum ModuleError: Error, CustomStringConvertible, Equatable {
    /// The module has a parameter at this path and the values do not.
    case missingParameter(name: String)
    /// The values have a path at which the module has no parameter.
    case unexpectedParameter(name: String)
    /// The value for this path has a different shape from the parameter.
    case shapeMismatch(name: String, expected: [Int], found: [Int])
    /// The value for this path holds NaN or infinity.
    case nonFinite(name: String)

    /// A one-line message naming the parameter and what is wrong with it.
    public var description: String {
        switch self {
        case let .missingParameter(name): return "parameter \(name) is missing"
        case let .unexpectedParameter(name): return "unexpected parameter \(name): the model has no parameter of that name"
        case let .shapeMismatch(name, expected, found): return "parameter \(name) has shape \(found), the model expects \(expected)"
        case let .nonFinite(name): return "parameter \(name) contains NaN or infinity"
        }
    }
}

/// Shell-style matching of dotted module paths.
public enum NamePattern {
    /// True when `name` matches `pattern` as a whole; `*` matches any run (dots included), `?` one character.
    public static func matches(_ pattern: String, _ name: String) -> Bool {
        let p = Array(pattern.unicodeScalars), s = Array(name.unicodeScalars)
        var pi = 0, si = 0, star = -1, mark = 0
        while si < s.count {
            if pi < p.count && (p[pi] == "?" || p[pi] == s[si]) {
                pi += 1; si += 1
            } else if pi < p.count && p[pi] == "*" {
                star = pi; mark = si; pi += 1
            } else if star >= 0 {
                pi = star + 1; mark += 1; si = mark
            } else {
                return false
            }
        }
        while pi < p.count && p[pi] == "*" { pi += 1 }
        return pi == p.count
    }
}

/// An ordered list of modules named "0", "1", … (PyTorch's `ModuleList`).
public final class ModuleList<Scalar: TensorScalar, Element: Module<Scalar>>: Module<Scalar> {
    /// The modules in order; element `i` is registered under the name `"i"`.
    public let elements: [Element]

    /// Registers `elements` as children named `"0"`, `"1"`, … in order.
    public init(_ elements: [Element]) {
        self.elements = elements
        super.init()
        for (i, e) in elements.enumerated() { register(module: e, String(i)) }
    }
}
