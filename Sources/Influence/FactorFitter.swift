import Foundation
import Formats
import NeuralNetworks
import TensorCore

/// How factors are fitted.
public struct FitConfiguration: Sendable, Equatable {
    public var strategy: CurvatureStrategy
    /// Sampled labels (true Fisher) by default; `.data` for the empirical Fisher.
    public var labels: LabelSource
    public var batchSize: Int
    /// Fit on the first this many training examples only.
    public var maximumExamples: Int?
    public var seed: UInt64
    /// Accumulate covariances and Λ in Float64 rather than in the model's precision.
    public var accumulatesInDouble: Bool
    /// Save partial sums every this many batches (when a directory is given).
    public var checkpointInterval: Int

    public init(strategy: CurvatureStrategy, labels: LabelSource = .sampled, batchSize: Int = 8, maximumExamples: Int? = nil,
                seed: UInt64 = 0, accumulatesInDouble: Bool = false, checkpointInterval: Int = 50) {
        self.strategy = strategy
        self.labels = labels
        self.batchSize = batchSize
        self.maximumExamples = maximumExamples
        self.seed = seed
        self.accumulatesInDouble = accumulatesInDouble
        self.checkpointInterval = checkpointInterval
    }

    var description: String {
        "\(strategy.rawValue)/\(labels.rawValue)/batch\(batchSize)/max\(maximumExamples ?? -1)/seed\(seed)/\(accumulatesInDouble ? "f64" : "f32")"
    }
}

/// Fits the factors of a strategy over a task's training data, in one or two passes.
///
/// Covariances are sums over tokens divided by the token count; Λ is a sum over examples divided by
/// the example count; eigendecompositions run in Float64 on the symmetrised averages. Labels of
/// batch k of a pass are drawn from a generator seeded by (seed, pass, k), so a resumed fit draws
/// the same labels as an uninterrupted one.
public final class FactorFitter<Task: InfluenceTask> {
    public typealias Scalar = Task.Scalar
    let task: Task
    let capture: GradientCapture<Scalar>
    public let configuration: FitConfiguration
    /// Receives (stage, batches done, batches in the stage).
    public var progress: ((String, Int, Int) -> Void)?

    public init(task: Task, modules patterns: [String], configuration: FitConfiguration) throws {
        precondition(configuration.batchSize > 0, "batch size must be positive")
        self.task = task
        self.capture = try GradientCapture(model: task.model, patterns: patterns)
        self.configuration = configuration
    }

    public var moduleNames: [String] { capture.names }
    var exampleCount: Int { Swift.min(task.trainingExampleCount, configuration.maximumExamples ?? Int.max) }
    var batches: [[Int]] {
        stride(from: 0, to: exampleCount, by: configuration.batchSize).map { Array($0..<Swift.min(exampleCount, $0 + configuration.batchSize)) }
    }

    /// Runs the fit. With `partialDirectory`, partial sums are saved there during each pass and a
    /// fit interrupted earlier with the same model and configuration resumes from them.
    public func fit(partialDirectory: URL? = nil) throws -> InfluenceFactors {
        let fingerprint = ModelFingerprint.of(task.model)
        let shapes = capture.gradientShapes
        var layers = [LayerFactors](repeating: LayerFactors(), count: shapes.count)
        var tokens = 0
        let strategy = configuration.strategy
        let partial = partialDirectory.map { PartialSums(directory: $0, fingerprint: fingerprint,
                                                         configuration: configuration.description, modules: capture.names) }
        if strategy.needsCovariances {
            let sums = try accumulate(pass: "covariance", partial: partial, initial: shapes.flatMap { [[$0[1], $0[1]], [$0[0], $0[0]]] }) { record, sums in
                for (i, layer) in record.layers.enumerated() {
                    sums[2 * i].addMatrixProduct(layer.activations, layer.activations, transposeA: true)
                    sums[2 * i + 1].addMatrixProduct(layer.outputGradients, layer.outputGradients, transposeA: true)
                }
            }
            tokens = sums.tokens
            for i in shapes.indices {
                let count = Double(Swift.max(1, sums.tokens))
                let a = Tensor<Double>(sums.values[2 * i]) * (1 / count), s = Tensor<Double>(sums.values[2 * i + 1]) * (1 / count)
                let symmetricA = (a + a.transposed()) * 0.5, symmetricS = (s + s.transposed()) * 0.5
                let (la, qa) = try symmetricA.symmetricEigendecomposition()
                let (ls, qs) = try symmetricS.symmetricEigendecomposition()
                layers[i].activationCovariance = symmetricA
                layers[i].gradientCovariance = symmetricS
                layers[i].activationEigenvectors = qa
                layers[i].activationEigenvalues = la
                layers[i].gradientEigenvectors = qs
                layers[i].gradientEigenvalues = ls
            }
        }
        if strategy.needsLambda {
            let rotations: [(Tensor<Scalar>, Tensor<Scalar>)]? = strategy == .ekfac
                ? layers.map { (Tensor<Scalar>($0.gradientEigenvectors!), Tensor<Scalar>($0.activationEigenvectors!)) } : nil
            let sums = try accumulate(pass: "lambda", partial: partial, initial: shapes) { record, sums in
                for (i, layer) in record.layers.enumerated() {
                    var g = layer.outputGradients, a = layer.activations
                    if let rotations {
                        // Rotate rows first, then form per-example gradients in the eigenbasis.
                        g = Tensor.matmul(g, rotations[i].0)
                        a = Tensor.matmul(a, rotations[i].1)
                    }
                    let perExample = LayerRecord(activations: a, outputGradients: g).perExampleGradients(examples: record.exampleCount)
                    sums[i] += perExample.squared().sum(alongAxes: [0])
                }
            }
            if tokens == 0 { tokens = sums.tokens }
            for i in shapes.indices { layers[i].lambda = Tensor<Double>(sums.values[i]) * (1 / Double(Swift.max(1, sums.examples))) }
        }
        if strategy == .identity { tokens = 0 }
        if let partial { partial.removeAll() }
        for (i, f) in layers.enumerated() {
            for t in [f.activationEigenvalues, f.gradientEigenvalues, f.lambda].compactMap({ $0 }) where !t.isFinite {
                throw InfluenceError.nonFinite(what: "the factors of \(capture.names[i])")
            }
        }
        return InfluenceFactors(strategy: strategy, moduleNames: capture.names, gradientShapes: shapes, layers: layers,
                                labels: configuration.labels, exampleCount: exampleCount, tokenCount: tokens,
                                modelFingerprint: fingerprint, accumulation: configuration.accumulatesInDouble ? "float64" : "float32")
    }

    struct Sums {
        var values: [Tensor<Scalar>]
        var examples: Int
        var tokens: Int
    }

    /// One pass over the training batches, accumulating into `initial`-shaped sums.
    private func accumulate(pass: String, partial: PartialSums?, initial shapes: [[Int]],
                            _ body: (BatchRecord<Scalar>, inout [Tensor<Scalar>]) -> Void) throws -> Sums {
        var sums = Sums(values: shapes.map { Tensor.zeros(shape: $0) }, examples: 0, tokens: 0)
        var start = 0
        if let partial, let saved = try partial.load(pass: pass, as: Scalar.self) {
            guard saved.values.map(\.shape) == shapes else {
                throw InfluenceError.malformedFactors(path: partial.url(pass).path, reason: "partial sums of the wrong shapes")
            }
            sums = Sums(values: saved.values, examples: saved.examples, tokens: saved.tokens)
            start = saved.batches
        }
        let all = batches
        for k in start..<all.count {
            var generator = SeededGenerator(seed: configuration.seed &+ UInt64(k) &* 0x9E37_79B9_7F4A_7C15 &+ (pass == "lambda" ? 0x5851_F42D : 0))
            let record = capture.record { task.trainingLoss(indices: all[k], labels: configuration.labels, generator: &generator) }
            guard record.loss.isFinite else { throw InfluenceError.nonFinite(what: "the training loss of examples \(all[k].first!)…\(all[k].last!)") }
            body(record, &sums.values)
            sums.examples += record.exampleCount
            sums.tokens += record.tokenCount
            progress?(pass, k + 1, all.count)
            if let partial, (k + 1) % configuration.checkpointInterval == 0 && k + 1 < all.count {
                try partial.save(pass: pass, values: sums.values, batches: k + 1, examples: sums.examples, tokens: sums.tokens)
            }
        }
        if let partial, start < all.count { try partial.save(pass: pass, values: sums.values, batches: all.count, examples: sums.examples, tokens: sums.tokens) }
        return sums
    }
}

/// Partial sums of a fit on disk, one file per pass (`partial-covariance.safetensors`,
/// `partial-lambda.safetensors`), removed when the fit completes.
struct PartialSums {
    let directory: URL
    let fingerprint: String
    let configuration: String
    let modules: [String]

    struct Saved<Scalar: TensorScalar> {
        var values: [Tensor<Scalar>]
        var batches: Int, examples: Int, tokens: Int
    }

    static let passes = ["covariance", "lambda"]

    func url(_ pass: String) -> URL { directory.appendingPathComponent("partial-\(pass).safetensors") }

    func removeAll() {
        for pass in Self.passes { try? FileManager.default.removeItem(at: url(pass)) }
    }

    func save<Scalar: TensorScalar>(pass: String, values: [Tensor<Scalar>], batches: Int, examples: Int, tokens: Int) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let tensors: [(name: String, payload: SafeTensorsPayload)] = values.enumerated().map { i, t in
            ("sum.\(i)", .float64(Tensor<Double>(t)))
        }
        try SafeTensorsFile.write(tensors, metadata: [
            "pass": pass, "batches": String(batches), "examples": String(examples), "tokens": String(tokens),
            "model_fingerprint": fingerprint, "configuration": configuration, "modules": modules.joined(separator: ","),
        ], to: url(pass))
    }

    /// The sums saved for `pass` if they belong to the same model, modules and configuration.
    func load<Scalar: TensorScalar>(pass: String, as _: Scalar.Type) throws -> Saved<Scalar>? {
        guard FileManager.default.fileExists(atPath: url(pass).path) else { return nil }
        let file = try SafeTensorsFile(contentsOf: url(pass))
        let m = file.metadata
        guard m["model_fingerprint"] == fingerprint, m["configuration"] == configuration, m["modules"] == modules.joined(separator: ","),
              m["pass"] == pass,
              let batches = m["batches"].flatMap(Int.init), let examples = m["examples"].flatMap(Int.init),
              let tokens = m["tokens"].flatMap(Int.init) else { return nil }
        let values = try (0..<file.tensorNames.count).map { try file.tensor(named: "sum.\($0)", as: Scalar.self) }
        return Saved(values: values, batches: batches, examples: examples, tokens: tokens)
    }
}
