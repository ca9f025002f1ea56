import Foundation
import Formats

/// The registry of curvature strategies: the one place that maps command-line and file names to
/// strategy types. A new strategy is a ``CurvatureStrategy`` conformer in a file of its own plus
/// one line in ``all``.
public enum CurvatureStrategies {
    /// Every registered strategy, in the order help texts list them.
    public static let all: [any CurvatureStrategy.Type] = [
        IdentityStrategy.self,
        DiagonalStrategy.self,
        KFACStrategy.self,
        EKFACStrategy.self,
        ExactStrategy.self,
        ConjugateGradientStrategy.self,
        LiSSAStrategy.self,
        ArnoldiStrategy.self,
        TracInStrategy.self,
    ]

    /// The names of every registered strategy, in the order of ``all``.
    public static var names: [String] { all.map { $0.name } }

    /// The registered strategy type called `name` (`ekfac`, `cg`), or nil when none is.
    public static func named(_ name: String) -> (any CurvatureStrategy.Type)? { all.first { $0.name == name } }

    /// The strategies fitted as per-layer factors (identity, diagonal, K-FAC, EK-FAC).
    public static var factorStrategies: [any FactorCurvatureStrategy] {
        all.compactMap { ($0 as? any FactorCurvatureStrategy.Type)?.init() }
    }

    /// A factor strategy of the registry called `name`, or nil when `name` is unknown or not a factor strategy.
    public static func factorStrategy(named name: String) -> (any FactorCurvatureStrategy)? {
        (named(name) as? any FactorCurvatureStrategy.Type)?.init()
    }

    /// Every strategy option, for the command line; an option shared by two strategies is listed once.
    public static var options: [StrategyOption] {
        var seen = Set<String>()
        return all.flatMap { $0.options }.filter { seen.insert($0.name).inserted }
    }

    /// A strategy of the registry with its options read from `options`.
    ///
    /// - Throws: ``StrategyOptionError`` for an unknown name or an unusable option value.
    public static func make(_ name: String, options: StrategyOptions) throws -> any CurvatureStrategy {
        guard let type = named(name) else {
            throw StrategyOptionError("unknown strategy '\(name)' (available: \(names.joined(separator: ", ")))")
        }
        return try type.init(options: options)
    }

    /// The fit saved in `directory` (its `factors.safetensors` names the strategy).
    ///
    /// - Throws: ``InfluenceError/malformedFactors(path:reason:)`` when the file is missing or
    ///   names no registered strategy, or the strategy's own loading error.
    public static func loadFit(from directory: URL) throws -> any FittedCurvature {
        let url = directory.appendingPathComponent(InfluenceFactors.fileName)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw InfluenceError.malformedFactors(path: directory.path, reason: "\(InfluenceFactors.fileName) is missing; run `influence fit` first")
        }
        let file = try SafeTensorsFile(contentsOf: url)
        guard let name = file.metadata["strategy"], let type = named(name) else {
            throw InfluenceError.malformedFactors(path: url.path, reason: "the metadata names no known strategy (available: \(names.joined(separator: ", ")))")
        }
        return try type.loadFit(from: directory)
    }
}
