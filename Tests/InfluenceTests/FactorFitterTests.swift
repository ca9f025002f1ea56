import Foundation
import Influence
import NeuralNetworks
import Testing
import TensorCore
import _TestSupport

/// Compares every factor of two fits with one tolerance (eigenvectors excluded: their signs are free).
func compareFactors(_ observed: InfluenceFactors, _ expected: InfluenceFactors, tolerance: Double, _ label: String) -> [Comparison] {
    var result: [Comparison] = []
    for (i, (o, e)) in zip(observed.layers, expected.layers).enumerated() {
        let pairs: [(String, Tensor<Double>?, Tensor<Double>?)] = [
            ("A", o.activationCovariance, e.activationCovariance), ("S", o.gradientCovariance, e.gradientCovariance),
            ("λ_A", o.activationEigenvalues, e.activationEigenvalues), ("λ_S", o.gradientEigenvalues, e.gradientEigenvalues),
            ("Λ", o.lambda, e.lambda),
        ]
        for (name, a, b) in pairs {
            if let a, let b {
                result.append(compare(a, b, tolerance: tolerance, "\(label) \(observed.moduleNames[i]) \(name)"))
            } else if (a == nil) != (b == nil) {
                Issue.record("\(label) \(observed.moduleNames[i]) \(name) is present on one side only")
            }
        }
    }
    return result
}

/// True when every tensor of both fits is bit-for-bit the same.
func identical(_ a: InfluenceFactors, _ b: InfluenceFactors) -> Bool {
    a.moduleNames == b.moduleNames && a.exampleCount == b.exampleCount && a.tokenCount == b.tokenCount
        && zip(a.layers, b.layers).allSatisfy { x, y in
            x.activationCovariance == y.activationCovariance && x.gradientCovariance == y.gradientCovariance
                && x.activationEigenvectors == y.activationEigenvectors && x.activationEigenvalues == y.activationEigenvalues
                && x.gradientEigenvectors == y.gradientEigenvectors && x.gradientEigenvalues == y.gradientEigenvalues
                && x.lambda == y.lambda
        }
}

@Suite("Factor fitting: batching, resuming, label sampling, precision")
struct FactorFitterTests {
    func fit<Task: InfluenceTask>(
        _ task: Task, _ configuration: FitConfiguration, modules: [String] = [],
        partial: URL? = nil, progress: ((String, Int, Int) -> Void)? = nil
    ) throws -> InfluenceFactors {
        let fitter = try FactorFitter(task: task, modules: modules, configuration: configuration)
        fitter.progress = progress
        return try fitter.fit(partialDirectory: partial)
    }

    @Test func factorsDoNotDependOnTheBatchSize() throws {
        // Empirical labels: covariances and Λ are the same sums split differently, so only the
        // order of Float64 additions changes; eigenvalues follow. 1e-12 (eigenvalues 1e-10).
        let classifier = Fixtures.classificationTask(Double.self, seed: 41)
        let language = LanguageModelingTask(model: Fixtures.languageModel(Double.self), training: Fixtures.sequences, queries: [])
        for strategy in [EKFACStrategy(), DiagonalStrategy()] as [any FactorCurvatureStrategy] {
            let reference = try fit(classifier, FitConfiguration(strategy: strategy, labels: .data, batchSize: 1))
            for batch in [3, 7, 50] {
                let other = try fit(classifier, FitConfiguration(strategy: strategy, labels: .data, batchSize: batch))
                for r in compareFactors(other, reference, tolerance: 1e-10, "classifier \(strategy) batch \(batch)") { #expect(r.passed, "\(r)") }
                #expect(other.exampleCount == 7)
            }
            // Padded batches of sequences of different lengths: padding must not count as tokens.
            let single = try fit(language, FitConfiguration(strategy: strategy, labels: .data, batchSize: 1))
            let padded = try fit(language, FitConfiguration(strategy: strategy, labels: .data, batchSize: 3))
            for r in compareFactors(padded, single, tolerance: 1e-10, "language model \(strategy)") { #expect(r.passed, "\(r)") }
            #expect(padded.tokenCount == 20 && single.tokenCount == 20 && padded.exampleCount == 5)
        }
    }

    @Test func activationCovarianceOfALanguageModelAveragesRealTokensOnly() throws {
        // Oracle for lm_head: A = mean over the 20 real tokens of h hᵀ, h the final hidden state of
        // each sequence run alone (no bias column: lm_head has none). Float64: 1e-12.
        let model = Fixtures.languageModel(Double.self, seed: 43)
        let task = LanguageModelingTask(model: model, training: Fixtures.sequences, queries: [])
        let factors = try fit(task, FitConfiguration(strategy: .kfac, labels: .data, batchSize: 5), modules: ["lm_head"])
        let hidden = Tensor.concatenated(
            Fixtures.sequences.map { s in
                model.transformer(tokens: s, batchSize: 1).value.reshaped(to: [s.count, 8])
            }, along: 0)
        let r = compare(
            factors.layers[0].activationCovariance!, Tensor.matmul(hidden, hidden, transposeA: true) * (1.0 / 20),
            tolerance: 1e-12, "lm_head A")
        #expect(r.passed, "\(r)")
        #expect(factors.tokenCount == 20)
    }

    @Test func maximumExamplesFitsOnTheFirstExamplesOnly() throws {
        // Oracle: the same fit on a task that only has those examples; 1e-12.
        let task = Fixtures.classificationTask(Double.self, seed: 47)
        let limited = try fit(task, FitConfiguration(strategy: .ekfac, labels: .data, batchSize: 2, maximumExamples: 4))
        let head = ClassificationTask(
            model: task.network as! MultilayerPerceptron<Double>,
            trainingFeatures: task.trainingFeatures.sliced(along: 0, 0..<4),
            trainingLabels: Array(task.trainingLabels.prefix(4)), queryFeatures: task.queryFeatures,
            queryLabels: task.queryLabels)
        let reference = try fit(head, FitConfiguration(strategy: .ekfac, labels: .data, batchSize: 2))
        #expect(limited.exampleCount == 4)
        for r in compareFactors(limited, reference, tolerance: 1e-12, "first 4") { #expect(r.passed, "\(r)") }
    }

    /// Fits once without interruption while copying the partial files as they are after `batches`
    /// batches of `pass` were saved, then resumes a fresh fitter from that copy.
    func interruptedFit<Task: InfluenceTask>(
        _ task: Task, _ configuration: FitConfiguration, interruptAfter pass: String, batches: Int,
        resumeWith resumed: FitConfiguration? = nil
    )
        throws -> (uninterrupted: InfluenceFactors, resumed: InfluenceFactors, resumedProgress: [String])
    {
        let running = try temporaryDirectory("fit"), stash = try temporaryDirectory("stash"), fresh = try temporaryDirectory("resume")
        defer { for d in [running, stash, fresh] { try? FileManager.default.removeItem(at: d) } }
        var copied = false
        let uninterrupted = try fit(task, configuration, partial: running) { stage, done, _ in
            // Progress is reported before the save of that batch: at batch k + 1 the files hold
            // the state saved after batch k.
            guard stage == pass, done == batches + 1 else { return }
            for file in (try? FileManager.default.contentsOfDirectory(atPath: running.path)) ?? [] {
                try? FileManager.default.copyItem(at: running.appendingPathComponent(file), to: stash.appendingPathComponent(file))
            }
            copied = true
        }
        #expect(copied, "the progress callback never reached \(pass) batch \(batches + 1)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: running.path).isEmpty, "partial files are removed when the fit completes")
        for file in try FileManager.default.contentsOfDirectory(atPath: stash.path) {
            try FileManager.default.copyItem(at: stash.appendingPathComponent(file), to: fresh.appendingPathComponent(file))
        }
        var events: [String] = []
        let result = try fit(task, resumed ?? configuration, partial: fresh) { stage, done, _ in events.append("\(stage) \(done)") }
        return (uninterrupted, result, events)
    }

    @Test func fitInterruptedDuringTheCovariancePassResumesToTheSameFactors() throws {
        // Sampled labels (drawn per batch from (seed, pass, batch)), 7 examples in 4 batches. The
        // resumed fit must redo only batches 3 and 4 of the covariance pass and give exactly the
        // uninterrupted factors (Float64 sums saved as Float64: bit-for-bit).
        let task = Fixtures.classificationTask(Double.self, seed: 53)
        let configuration = FitConfiguration(strategy: .ekfac, labels: .sampled, batchSize: 2, seed: 7, checkpointInterval: 1)
        let run = try interruptedFit(task, configuration, interruptAfter: "covariance", batches: 2)
        #expect(run.resumedProgress == ["covariance 3", "covariance 4", "lambda 1", "lambda 2", "lambda 3", "lambda 4"])
        #expect(identical(run.resumed, run.uninterrupted), "resumed factors differ from the uninterrupted fit")
    }

    @Test func fitInterruptedDuringTheLambdaPassResumesToTheSameFactors() throws {
        let task = LanguageModelingTask(model: Fixtures.languageModel(Double.self, seed: 59), training: Fixtures.sequences, queries: [])
        let configuration = FitConfiguration(strategy: .ekfac, labels: .sampled, batchSize: 2, seed: 11, checkpointInterval: 1)
        let run = try interruptedFit(task, configuration, interruptAfter: "lambda", batches: 1)
        #expect(run.resumedProgress == ["lambda 2", "lambda 3"])
        #expect(identical(run.resumed, run.uninterrupted), "resumed factors differ from the uninterrupted fit")
    }

    @Test func fitAccumulatingInDoubleResumesToTheSameFactors() throws {
        // A Float32 model whose sums are kept (and saved, and reloaded) in Float64.
        let task = Fixtures.classificationTask(Float.self, seed: 57)
        let configuration = FitConfiguration(
            strategy: .ekfac, labels: .sampled, batchSize: 3, seed: 3, accumulatesInDouble: true,
            checkpointInterval: 1)
        let run = try interruptedFit(task, configuration, interruptAfter: "lambda", batches: 2)
        #expect(run.resumedProgress == ["lambda 3"])
        #expect(identical(run.resumed, run.uninterrupted), "resumed factors differ from the uninterrupted fit")
    }

    @Test func partialSumsOfAnotherConfigurationAreIgnored() throws {
        // Partial sums saved under seed 7 must not leak into a fit with seed 8: it starts over and
        // equals a fit with seed 8 from scratch.
        let task = Fixtures.classificationTask(Double.self, seed: 61)
        let first = FitConfiguration(strategy: .kfac, labels: .sampled, batchSize: 2, seed: 7, checkpointInterval: 1)
        var second = first
        second.seed = 8
        let run = try interruptedFit(task, first, interruptAfter: "covariance", batches: 3, resumeWith: second)
        #expect(run.resumedProgress == ["covariance 1", "covariance 2", "covariance 3", "covariance 4"])
        #expect(identical(run.resumed, try fit(task, second)))
    }

    @Test func sampledLabelsAreReproducibleBySeed() throws {
        // Same seed: bit-for-bit the same factors. Another seed: other labels, so S and Λ differ
        // (by far more than 1e-3), while A, which does not see labels, is the same.
        let tasks: [(String, (UInt64) throws -> InfluenceFactors)] = [
            (
                "classifier",
                { seed in try self.fit(Fixtures.classificationTask(Double.self, seed: 67), FitConfiguration(strategy: .ekfac, batchSize: 3, seed: seed)) }
            ),
            (
                "language model",
                { seed in
                    try self.fit(
                        LanguageModelingTask(model: Fixtures.languageModel(Double.self), training: Fixtures.sequences, queries: []),
                        FitConfiguration(strategy: .ekfac, batchSize: 3, seed: seed))
                }
            ),
            ("regression", { seed in try self.fit(FactorisingRegression<Double>().task, FitConfiguration(strategy: .ekfac, batchSize: 5, seed: seed)) }),
        ]
        for (name, run) in tasks {
            let a = try run(1), b = try run(1), c = try run(2)
            #expect(a.labels == .sampled)
            #expect(identical(a, b), "\(name): the same seed gave different factors")
            let s = compare(c.layers[0].gradientCovariance!, a.layers[0].gradientCovariance!, tolerance: 1e-3, "\(name) S")
            let lambda = compare(c.layers[0].lambda!, a.layers[0].lambda!, tolerance: 1e-3, "\(name) Λ")
            #expect(!s.passed && !lambda.passed, "\(name): another seed should draw other labels: \(s); \(lambda)")
            let r = compare(c.layers[0].activationCovariance!, a.layers[0].activationCovariance!, tolerance: 1e-12, "\(name) A")
            #expect(r.passed, "\(r)")
        }
    }

    @Test func accumulationInDoubleKeepsWhatFloatSumsLose() throws {
        // A one-input regression (Float32 model) whose first input is 1e4 and the next eight are 1:
        // Σ x² = 1e8 + 8. In Float32 every +1 after 1e8 is lost (its spacing there is 8), in
        // Float64 nothing is. With accumulatesInDouble the activation covariance must be the
        // exact (1e8 + 8)/9 (1e-12), and Float32 accumulation is labelled as such.
        let model = MultilayerPerceptron<Float>(sizes: [1, 1])
        let features = Tensor<Float>(shape: [9, 1], scalars: [10_000] + Array(repeating: 1, count: 8))
        let task = RegressionTask(
            model: model, trainingFeatures: features, trainingTargets: Tensor.zeros(shape: [9, 1]),
            queryFeatures: features, queryTargets: Tensor.zeros(shape: [9, 1]))
        let double = try fit(task, FitConfiguration(strategy: .kfac, labels: .data, batchSize: 1, accumulatesInDouble: true))
        let r = compare(double.layers[0].activationCovariance![0, 0], (1e8 + 8) / 9, tolerance: 1e-12, "A[0, 0] accumulated in Float64")
        #expect(r.passed, "\(r)")
        #expect(double.accumulation == "float64")
        let single = try fit(task, FitConfiguration(strategy: .kfac, labels: .data, batchSize: 1))
        #expect(single.accumulation == "float32")
    }

    @Test func sampledRegressionLabelsGiveTheGaussNewtonMatrix() throws {
        // A linear regression f = Wx + b under Σ (f − y)²: the loss's Hessian in f is 2·I, so the
        // true Fisher's gradient covariance (labels drawn from the model) must be 2·I, as the
        // Gauss–Newton matrix is; a sampling variance of 1 would give 4·I. 20,000 draws: the
        // diagonal's relative standard error is √(2/20000) = 1 %.
        let model = MultilayerPerceptron<Double>(sizes: [3, 2])
        var generator = testGenerator(5)
        let features = Tensor<Double>.randomNormal(shape: [20_000, 3], using: &generator)
        let task = RegressionTask(
            model: model, trainingFeatures: features, trainingTargets: Tensor.zeros(shape: [20_000, 2]),
            queryFeatures: features, queryTargets: Tensor.zeros(shape: [20_000, 2]))
        let factors = try fit(task, FitConfiguration(strategy: .kfac, labels: .sampled, batchSize: 500))
        let s = factors.layers[0].gradientCovariance!
        for i in 0..<2 {
            for j in 0..<2 {
                let expected = i == j ? 2.0 : 0
                #expect(abs(s[i, j] - expected) < 0.06, "S[\(i), \(j)] = \(s[i, j]), the Gauss–Newton value is \(expected)")
            }
        }
    }

    @Test func nonFiniteLossIsReportedInsteadOfFitted() throws {
        let task = Fixtures.classificationTask(Double.self)
        let layer = task.model.linearLayers()[0].layer
        var w = layer.weight.value.scalars
        w[0] = .nan
        layer.weight.value = Tensor(shape: layer.weight.shape, scalars: w)
        #expect(throws: InfluenceError.self) { try fit(task, FitConfiguration(strategy: .kfac, labels: .data)) }
    }

    @Test func identityFitsNothing() throws {
        let factors = try fit(Fixtures.classificationTask(Double.self), FitConfiguration(strategy: .identity))
        #expect(factors.tokenCount == 0 && factors.exampleCount == 7 && factors.gradientShapes == [[4, 4], [3, 5]])
        #expect(factors.layers.allSatisfy { $0.lambda == nil && $0.activationEigenvectors == nil && $0.activationCovariance == nil })
    }
}
