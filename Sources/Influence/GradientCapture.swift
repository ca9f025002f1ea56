import Autograd
import NeuralNetworks
import TensorCore

/// What one tracked Linear layer saw in one batch.
public struct LayerRecord<Scalar: TensorScalar> {
    /// Inputs with the bias column appended, `[rows, in (+1)]`; padding rows are zero.
    public var activations: Tensor<Scalar>
    /// ∂L/∂(output), `[rows, out]`.
    public var outputGradients: Tensor<Scalar>

    /// A record from activations `[rows, in (+1)]` and output gradients `[rows, out]` with the same rows.
    public init(activations: Tensor<Scalar>, outputGradients: Tensor<Scalar>) {
        self.activations = activations
        self.outputGradients = outputGradients
    }
}

/// A batch seen by every tracked layer.
public struct BatchRecord<Scalar: TensorScalar> {
    /// What each tracked layer saw, in the capture's layer order.
    public var layers: [LayerRecord<Scalar>]
    /// The examples of the batch.
    public var exampleCount: Int
    /// Rows (tokens) per example in the task's layout: `time` for a sequence model, 1 otherwise.
    public var rowsPerExample: Int
    /// Real (non-padding) rows.
    public var tokenCount: Int
    /// The batch's loss, as the task summed it.
    public var loss: Scalar
}

/// Tracks chosen layers (``TrackableLayer``: Linear, Conv2d) of a model: runs a loss with only their weights recorded and
/// returns, per layer, the inputs ā = [a; 1] and the output gradients g of every row.
///
/// The per-example gradient of a layer is then G_b = Σ_t g_t ā_tᵀ (`[out, in + 1]`), formed only
/// where needed. The backward pass is asked for the tracked outputs only, so it stops below the
/// lowest tracked layer and computes no weight gradient at all.
public final class GradientCapture<Scalar: TensorScalar> {
    /// The tracked layers' dotted module names, in capture order.
    public let names: [String]
    /// The tracked layers, in the order of ``names``.
    public let layers: [any TrackableLayer<Scalar>]
    let model: Module<Scalar>
    /// Rows each tracked layer sees per row of the task (1 for Linear; the output positions of a
    /// convolution), from the last recorded batch.
    public private(set) var positionCounts: [Int]?

    /// - Parameter patterns: module-name patterns (see ``Module/trackableLayers(matching:)``); empty tracks every trackable layer.
    /// - Throws: ``InfluenceError/noTrackedModules(patterns:available:)`` when nothing matches.
    public init(model: Module<Scalar>, patterns: [String]) throws {
        let found = model.trackableLayers(matching: patterns)
        guard !found.isEmpty else {
            throw InfluenceError.noTrackedModules(patterns: patterns, available: model.trackableLayers().map(\.name))
        }
        self.model = model
        names = found.map(\.name)
        layers = found.map(\.layer)
    }

    /// Input and output sizes of each tracked layer's gradient, `[out, in (+1 with a bias)]`.
    public var gradientShapes: [[Int]] { layers.map { [$0.outputCount, $0.inputCount + ($0.bias == nil ? 0 : 1)] } }

    /// Runs `loss` with capture and returns what each tracked layer saw.
    public func record(_ loss: () -> TaskLoss<Scalar>) -> BatchRecord<Scalar> {
        // Only the tracked weights are leaves that require gradients, so the graph starts at the
        // lowest tracked layer; the previous state is restored afterwards.
        let saved = model.parameters.map(\.requiresGradient)
        model.freeze()
        for layer in layers { layer.weight.requiresGradient = true }
        defer { for (p, s) in zip(model.parameters, saved) { p.requiresGradient = s } }

        var inputs = [Tensor<Scalar>?](repeating: nil, count: layers.count)
        var outputs = [Variable<Scalar>?](repeating: nil, count: layers.count)
        var handles: [HookHandle] = []
        for (i, layer) in layers.enumerated() {
            handles.append(
                layer.registerRowHook { input, output in
                    precondition(outputs[i] == nil, "layer \(self.names[i]) was called twice in one forward pass; shared layers are not supported")
                    inputs[i] = input.value
                    outputs[i] = output
                })
        }
        let result = withGradients { loss() }
        for h in handles { h.remove() }
        let recorded = outputs.enumerated().map { i, o -> Variable<Scalar> in
            guard let o else { preconditionFailure("tracked layer \(names[i]) was not used by the loss") }
            return o
        }
        let cotangents = gradients(of: result.loss, at: recorded)
        let layerRows = zip(cotangents, layers).map { $0.scalarCount / Swift.max(1, $1.outputCount) }
        // A Linear layer sees one row per task row, a convolution one per output position of each.
        let rows = result.exampleCount * result.rowsPerExample
        let positions = layerRows.map { $0 / Swift.max(1, rows) }
        for (i, n) in layerRows.enumerated() {
            precondition(n == positions[i] * rows, "tracked layer \(names[i]) saw \(n) rows, not a multiple of the task's \(rows)")
        }
        positionCounts = positions
        var records: [LayerRecord<Scalar>] = []
        for (i, layer) in layers.enumerated() {
            let n = layerRows[i]
            var a = inputs[i]!.reshaped(to: [n, layer.inputCount])
            if layer.bias != nil { a = Tensor.concatenated([a, Tensor.ones(shape: [n, 1])], along: 1) }
            if let mask = result.rowMask {
                // A row of the task stands for `positions[i]` consecutive rows of the layer.
                let p = positions[i]
                a = a * Tensor(shape: [n, 1], scalars: mask.flatMap { Array(repeating: $0 ? Scalar(1) : 0, count: p) })
            }
            records.append(LayerRecord(activations: a, outputGradients: cotangents[i].value.reshaped(to: [n, layer.outputCount])))
        }
        return BatchRecord(
            layers: records, exampleCount: result.exampleCount, rowsPerExample: result.rowsPerExample,
            tokenCount: result.rowMask.map { $0.filter { $0 }.count } ?? rows, loss: result.loss.value.scalar)
    }
}

extension LayerRecord {
    /// Per-example gradients `[examples, out, in (+1)]`: G_b = Σ_t g_t ā_tᵀ.
    public func perExampleGradients(examples: Int) -> Tensor<Scalar> {
        let rows = activations.shape[0], t = rows / Swift.max(1, examples)
        let g = outputGradients.reshaped(to: [examples, t, outputGradients.shape[1]])
        let a = activations.reshaped(to: [examples, t, activations.shape[1]])
        return Tensor.matmul(g, a, transposeA: true)
    }
}

/// Problems of influence computations that a user can cause.
public enum InfluenceError: Error, CustomStringConvertible, Equatable {
    case noTrackedModules(patterns: [String], available: [String])
    case factorsMismatch(path: String, reason: String)
    case malformedFactors(path: String, reason: String)
    case nonFinite(what: String)
    /// `lowestEigenvalue`, when known, is that of H (without the damping).
    case notPositiveDefinite(dimension: Int, damping: Double, lowestEigenvalue: Double? = nil)
    case notConverged(String)
    case diverged(String)
    /// Something a strategy does not offer (self-influence with CG, `auto` damping without factors).
    case notOffered(String)
    /// A file of an interrupted run's partial results that cannot be read.
    case unreadablePartial(path: String, reason: String)
    /// The parts of a job array (`--partition i/n`) that a merge cannot combine: missing,
    /// unfinished, or of another run.
    case partitions(String)

    /// A message for the user, with the advice that fits the case.
    public var description: String {
        switch self {
        case let .noTrackedModules(patterns, available):
            return "no Linear layer matches \(patterns.joined(separator: ",")); available: \(available.joined(separator: ", "))"
        case let .factorsMismatch(path, reason): return "factors in \(path) do not fit: \(reason)"
        case let .malformedFactors(path, reason): return "factors in \(path) are not usable: \(reason)"
        case let .nonFinite(what): return "\(what) contains NaN or infinity; check the model and data for NaNs, or raise the damping"
        case let .notConverged(message), let .diverged(message), let .notOffered(message), let .partitions(message): return message
        case let .unreadablePartial(path, reason):
            return "\(path) holds an interrupted run's partial results and cannot be read (\(reason)); rerun with --restart to discard it and start over"
        case let .notPositiveDefinite(dimension, damping, lowest):
            let advice = lowest.map { String(format: "; its lowest eigenvalue is %.4g, so a damping above %.4g would do", $0, -$0) } ?? ""
            return
                "the \(dimension)×\(dimension) curvature plus damping \(damping) is not positive definite (the Hessian has negative eigenvalues away from a minimum)\(advice); raise the damping, or use the Gauss–Newton curvature"
        }
    }
}
