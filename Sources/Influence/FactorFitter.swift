import Foundation
import Formats
import NeuralNetworks
import TensorCore

/// How factors are fitted.
public struct FitConfiguration: Sendable {
    /// Which factors are fitted.
    public var strategy: any FactorCurvatureStrategy
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

    public init<Strategy: FactorCurvatureStrategy>(
        strategy: Strategy, labels: LabelSource = .sampled, batchSize: Int = 8, maximumExamples: Int? = nil,
        seed: UInt64 = 0, accumulatesInDouble: Bool = false, checkpointInterval: Int = 50
    ) {
        self.strategy = strategy
        self.labels = labels
        self.batchSize = batchSize
        self.maximumExamples = maximumExamples
        self.seed = seed
        self.accumulatesInDouble = accumulatesInDouble
        self.checkpointInterval = checkpointInterval
    }

    var description: String {
        "\(type(of: strategy).name)/\(labels.rawValue)/batch\(batchSize)/max\(maximumExamples ?? -1)/seed\(seed)/\(accumulatesInDouble ? "f64" : "f32")"
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
        let needs = type(of: strategy).needs
        let partial = partialDirectory.map {
            PartialSums(
                directory: $0, fingerprint: fingerprint,
                configuration: configuration.description + "/data" + task.trainingDataFingerprint, modules: capture.names)
        }
        if needs.covariances {
            let sums = try accumulate(.covariance, partial: partial, initial: shapes.flatMap { [[$0[1], $0[1]], [$0[0], $0[0]]] })
            tokens = sums.tokens
            let positions = positionCounts()
            for i in shapes.indices {
                // Averaged per row the layer sees: per token, and per output position of a convolution.
                let count = Double(Swift.max(1, sums.tokens * positions[i]))
                let a = sums.values[2 * i] * (1 / count), s = sums.values[2 * i + 1] * (1 / count)
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
        if let basis = needs.lambda {
            precondition(basis == .parameters || needs.covariances, "Λ in the Kronecker eigenbasis needs the covariances")
            let rotations = basis == .kroneckerEigenbasis ? layers.map { (gradient: $0.gradientEigenvectors!, activation: $0.activationEigenvectors!) } : nil
            let sums = try accumulate(.lambda(eigenbases: rotations), partial: partial, initial: shapes)
            if tokens == 0 { tokens = sums.tokens }
            for i in shapes.indices { layers[i].lambda = sums.values[i] * (1 / Double(Swift.max(1, sums.examples))) }
        }
        if let partial { partial.removeAll() }
        for (i, f) in layers.enumerated() {
            for t in [f.activationEigenvalues, f.gradientEigenvalues, f.lambda].compactMap({ $0 }) where !t.isFinite {
                throw InfluenceError.nonFinite(what: "the factors of \(capture.names[i])")
            }
        }
        return InfluenceFactors(
            strategy: strategy, moduleNames: capture.names, gradientShapes: shapes, layers: layers,
            labels: configuration.labels, exampleCount: exampleCount, tokenCount: tokens,
            modelFingerprint: fingerprint, accumulation: configuration.accumulatesInDouble ? "float64" : "float32")
    }

    /// Rows each tracked layer sees per token (see ``GradientCapture/positionCounts``): known from
    /// the last batch recorded, or from one example when every batch came from partial sums.
    private func positionCounts() -> [Int] {
        if let known = capture.positionCounts { return known }
        var generator = SeededGenerator(seed: configuration.seed)
        _ = capture.record { task.trainingLoss(indices: [0], labels: .data, generator: &generator) }
        return capture.positionCounts ?? Array(repeating: 1, count: capture.layers.count)
    }

    /// Sums of one pass, in Float64 whatever precision they were accumulated in.
    struct Sums {
        var values: [Tensor<Double>]
        var examples: Int
        var tokens: Int
    }

    /// What a pass sums: ā āᵀ and g gᵀ per layer, or the squared per-example gradients G_b ⊙ G_b,
    /// in the eigenbasis (Q_S, Q_A) of each layer (EK-FAC) or the identity basis (diagonal, nil).
    enum Pass {
        case covariance
        case lambda(eigenbases: [(gradient: Tensor<Double>, activation: Tensor<Double>)]?)

        var name: String {
            switch self {
            case .covariance: return "covariance";
            case .lambda: return "lambda"
            }
        }
    }

    /// One pass over the training batches, accumulating into `initial`-shaped sums kept in Float64
    /// when the configuration asks for it, otherwise in the model's precision.
    private func accumulate(_ kind: Pass, partial: PartialSums?, initial shapes: [[Int]]) throws -> Sums {
        if configuration.accumulatesInDouble { return try accumulate(Double.self, kind, partial: partial, initial: shapes) }
        return try accumulate(Scalar.self, kind, partial: partial, initial: shapes)
    }

    private func accumulate<Accumulator: TensorScalar>(
        _: Accumulator.Type, _ kind: Pass, partial: PartialSums?,
        initial shapes: [[Int]]
    ) throws -> Sums {
        let pass = kind.name
        var values = shapes.map { Tensor<Accumulator>.zeros(shape: $0) }
        var examples = 0, tokens = 0
        var start = 0
        if let partial, let saved = try partial.load(pass: pass, as: Accumulator.self) {
            guard saved.values.map(\.shape) == shapes else {
                throw InfluenceError.malformedFactors(path: partial.url(pass).path, reason: "partial sums of the wrong shapes")
            }
            (values, examples, tokens, start) = (saved.values, saved.examples, saved.tokens, saved.batches)
        }
        let bases: [(Tensor<Accumulator>, Tensor<Accumulator>)]?
        if case let .lambda(eigenbases?) = kind { bases = eigenbases.map { (Tensor($0.gradient), Tensor($0.activation)) } } else { bases = nil }
        let all = batches
        for k in start..<all.count {
            var generator = SeededGenerator(seed: configuration.seed &+ UInt64(k) &* 0x9E37_79B9_7F4A_7C15 &+ (pass == "lambda" ? 0x5851_F42D : 0))
            let record = capture.record { task.trainingLoss(indices: all[k], labels: configuration.labels, generator: &generator) }
            guard record.loss.isFinite else { throw InfluenceError.nonFinite(what: "the training loss of examples \(all[k].first!)…\(all[k].last!)") }
            for (i, layer) in record.layers.enumerated() {
                // A no-op conversion when the accumulator has the model's precision.
                var a = Tensor<Accumulator>(layer.activations), g = Tensor<Accumulator>(layer.outputGradients)
                switch kind {
                case .covariance:
                    values[2 * i].addMatrixProduct(a, a, transposeA: true)
                    values[2 * i + 1].addMatrixProduct(g, g, transposeA: true)
                case .lambda:
                    if let bases {
                        // Rotate rows first, then form per-example gradients in the eigenbasis.
                        g = Tensor.matmul(g, bases[i].0)
                        a = Tensor.matmul(a, bases[i].1)
                    }
                    let perExample = LayerRecord(activations: a, outputGradients: g).perExampleGradients(examples: record.exampleCount)
                    values[i] += perExample.squared().sum(alongAxes: [0])
                }
            }
            examples += record.exampleCount
            tokens += record.tokenCount
            progress?(pass, k + 1, all.count)
            if let partial, (k + 1) % configuration.checkpointInterval == 0 && k + 1 < all.count {
                try partial.save(pass: pass, values: values, batches: k + 1, examples: examples, tokens: tokens)
            }
        }
        if let partial, start < all.count { try partial.save(pass: pass, values: values, batches: all.count, examples: examples, tokens: tokens) }
        return Sums(values: values.map { Tensor<Double>($0) }, examples: examples, tokens: tokens)
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
        try SafeTensorsFile.write(
            tensors,
            metadata: [
                "pass": pass, "batches": String(batches), "examples": String(examples), "tokens": String(tokens),
                "model_fingerprint": fingerprint, "configuration": configuration, "modules": modules.joined(separator: ","),
            ], to: url(pass))
    }

    /// The sums saved for `pass` if they belong to the same model, modules and configuration.
    func load<Scalar: TensorScalar>(pass: String, as _: Scalar.Type) throws -> Saved<Scalar>? {
        guard FileManager.default.fileExists(atPath: url(pass).path) else { return nil }
        do { return try read(pass: pass, as: Scalar.self) } catch {
            throw InfluenceError.unreadablePartial(path: url(pass).path, reason: "\(error)")
        }
    }

    private func read<Scalar: TensorScalar>(pass: String, as _: Scalar.Type) throws -> Saved<Scalar>? {
        let file = try SafeTensorsFile(contentsOf: url(pass))
        let m = file.metadata
        guard m["model_fingerprint"] == fingerprint, m["configuration"] == configuration, m["modules"] == modules.joined(separator: ","),
            m["pass"] == pass,
            let batches = m["batches"].flatMap(Int.init), let examples = m["examples"].flatMap(Int.init),
            let tokens = m["tokens"].flatMap(Int.init)
        else { return nil }
        let values = try (0..<file.tensorNames.count).map { try file.tensor(named: "sum.\($0)", as: Scalar.self) }
        return Saved(values: values, batches: batches, examples: examples, tokens: tokens)
    }
}
