import Foundation
import Influence
import NeuralNetworks
import Testing
import TensorCore
import _TestSupport

@Suite("Influence factors on disk, and refusing factors of another model")
struct InfluenceFactorsTests {
    func fitted<S: FactorCurvatureStrategy>(_ strategy: S, labels: LabelSource = .data) throws -> InfluenceFactors {
        try FactorFitter(
            task: Fixtures.classificationTask(Double.self), modules: [],
            configuration: FitConfiguration(strategy: strategy, labels: labels, batchSize: 3, accumulatesInDouble: true)
        ).fit()
    }

    /// Replaces `original` by `replacement` (same length, so the header stays valid) in the file's bytes.
    func patch(_ url: URL, _ original: String, _ replacement: String) throws {
        precondition(original.utf8.count == replacement.utf8.count)
        var data = try Data(contentsOf: url)
        let range = try #require(data.range(of: Data(original.utf8)), "\(original) is not in \(url.lastPathComponent)")
        data.replaceSubrange(range, with: Data(replacement.utf8))
        try data.write(to: url)
    }

    func expectMalformed(_ directory: URL, _ comment: Comment) {
        let error = #expect(throws: InfluenceError.self, comment) { try InfluenceFactors.load(from: directory) }
        if let error, case .malformedFactors = error {} else { Issue.record("expected malformedFactors, got \(String(describing: error)): \(comment)") }
    }

    @Test(arguments: CurvatureStrategies.factorStrategies)
    func saveAndLoadRoundTripEveryTensorAndField(strategy: any FactorCurvatureStrategy) throws {
        let factors = try fitted(strategy, labels: strategy is KFACStrategy ? .sampled : .data)
        let directory = try temporaryDirectory("factors")
        defer { try? FileManager.default.removeItem(at: directory) }
        try factors.save(to: directory)
        let loaded = try InfluenceFactors.load(from: directory)
        #expect(type(of: loaded.strategy).name == type(of: factors.strategy).name && loaded.moduleNames == factors.moduleNames)
        #expect(loaded.gradientShapes == factors.gradientShapes && loaded.labels == factors.labels)
        #expect(loaded.exampleCount == factors.exampleCount && loaded.tokenCount == factors.tokenCount)
        #expect(loaded.modelFingerprint == factors.modelFingerprint && loaded.accumulation == "float64")
        #expect(identical(loaded, factors), "a tensor changed on the way to disk and back")
        for layer in loaded.layers {
            #expect((layer.lambda != nil) == (strategy is DiagonalStrategy || strategy is EKFACStrategy))
            #expect((layer.activationEigenvectors != nil) == (strategy is KFACStrategy || strategy is EKFACStrategy))
        }
    }

    @Test func loadingFromADirectoryWithoutFactorsIsMalformed() throws {
        let directory = try temporaryDirectory("empty")
        defer { try? FileManager.default.removeItem(at: directory) }
        expectMalformed(directory, "no factors.safetensors")
    }

    @Test func loadingAFileWithOtherMetadataIsMalformed() throws {
        let directory = try temporaryDirectory("metadata")
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent(InfluenceFactors.fileName)
        try fitted(.ekfac).save(to: directory)
        try patch(file, "swift-influence-factors-1", "swift-influence-factors-9")
        expectMalformed(directory, "another format")
        try fitted(.ekfac).save(to: directory)
        try patch(file, "\"ekfac\"", "\"eigen\"")
        expectMalformed(directory, "an unknown strategy")
    }

    @Test func loadingFactorsThatLackWhatTheStrategyNeedsIsMalformed() throws {
        // Tensors renamed in the header, so that the file is valid safetensors without them.
        let directory = try temporaryDirectory("missing")
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent(InfluenceFactors.fileName)
        for (strategy, tensor) in [
            (EKFACStrategy() as any FactorCurvatureStrategy, "layers.1.lambda"), (DiagonalStrategy(), "layers.0.lambda"),
            (EKFACStrategy(), "layers.0.gradient_eigenvectors"), (KFACStrategy(), "layers.1.activation_eigenvalues"),
            (KFACStrategy(), "layers.0.gradient_eigenvalues"),
        ] {
            try fitted(strategy).save(to: directory)
            try patch(file, "\"\(tensor)\"", "\"\(tensor.dropLast())_\"")
            expectMalformed(directory, "\(strategy) without \(tensor)")
        }
    }

    @Test func loadingFactorsWhoseTensorsDoNotMatchTheirShapesIsMalformed() throws {
        // The metadata says [4, 9] for the first module while its tensors are for [4, 4].
        let directory = try temporaryDirectory("shapes")
        defer { try? FileManager.default.removeItem(at: directory) }
        for strategy in [KFACStrategy(), EKFACStrategy(), DiagonalStrategy()] as [any FactorCurvatureStrategy] {
            var factors = try fitted(strategy)
            factors.gradientShapes[0] = [4, 9]
            try factors.save(to: directory)
            expectMalformed(directory, "\(strategy) with shapes that do not fit its tensors")
        }
    }

    @Test func scoreComputerRefusesFactorsOfAModelWithOneWeightChanged() throws {
        let task = Fixtures.classificationTask(Float.self, seed: 73)
        let factors = try FactorFitter(task: task, modules: [], configuration: FitConfiguration(strategy: .ekfac)).fit()
        _ = try ScoreComputer(task: task, factors: factors, factorsPath: "f", configuration: ScoreConfiguration())
        let bias = task.model.linearLayers()[1].layer.bias!
        var values = bias.value.scalars
        values[2] += 1e-3
        bias.value = Tensor(shape: bias.shape, scalars: values)
        let error = #expect(throws: InfluenceError.self) {
            try ScoreComputer(task: task, factors: factors, factorsPath: "f", configuration: ScoreConfiguration())
        }
        if let error, case .factorsMismatch = error {} else { Issue.record("expected factorsMismatch, got \(String(describing: error))") }
    }

    @Test func scoreComputerRefusesFactorsOfOtherModules() throws {
        let task = Fixtures.classificationTask(Float.self, seed: 79)
        var factors = try FactorFitter(task: task, modules: ["layers.0"], configuration: FitConfiguration(strategy: .diagonal)).fit()
        factors.moduleNames = ["layers.0", "layers.7"]
        factors.gradientShapes.append([3, 5])
        factors.layers.append(factors.layers[0])
        let error = #expect(throws: InfluenceError.self) {
            try ScoreComputer(task: task, factors: factors, factorsPath: "f", configuration: ScoreConfiguration())
        }
        if let error, case .factorsMismatch = error {} else { Issue.record("expected factorsMismatch, got \(String(describing: error))") }
        #expect(throws: InfluenceError.self) {
            try factors.check(modelFingerprint: factors.modelFingerprint, moduleNames: ["layers.0"], path: "f")
        }
        try factors.check(modelFingerprint: factors.modelFingerprint, moduleNames: ["layers.0", "layers.7"], path: "f")
    }
}
