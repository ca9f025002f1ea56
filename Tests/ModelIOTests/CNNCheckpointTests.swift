import Autograd
import Foundation
import Formats
import ModelIO
import NeuralNetworks
import Testing
import TensorCore
import _TestSupport

/// The PyTorch reference of scripts/fixtures/make_cnn_fixtures.py: a small CNN whose every stride,
/// padding and dilation differs between height and width, with logits and gradients of a
/// summed cross-entropy on four images.
@Suite("CNN checkpoints against PyTorch")
struct CNNCheckpointTests {
    static let name = "cnn-small"

    static func classifier(_ directory: URL) throws -> (FeatureClassifier<Float>, SequentialNetwork<Float>) {
        let loaded = try ModelDirectory.load(from: directory, as: Float.self)
        guard case let .imageClassifier(network, _) = loaded.kind else { throw ModelIOError.malformedConfiguration(path: directory.path, reason: "not a CNN") }
        return (try #require(loaded.classifier), network)
    }

    @Test func logitsAndGradientsMatchPyTorch() throws {
        let reference = try FamilyFixtures.reference(Self.name)
        let (classifier, network) = try Self.classifier(FamilyFixtures.directory(Self.name))
        #expect(classifier.inputShape == [2, 9, 10] && classifier.classCount == 5)
        let input = try reference.tensor(named: "input", as: Float.self)
        let labels = try reference.integers(named: "labels")
        let x = Variable(input.reshaped(to: [4, 180]), requiresGradient: true)
        let logits = classifier.forward(x)
        #expect(relativeError(logits.value, try reference.tensor(named: "logits", as: Float.self)) < 1e-5)
        let loss = Losses.crossEntropy(logits: logits, labels: labels) * Float(labels.count)
        #expect(abs(loss.value.scalar - (try reference.tensor(named: "loss", as: Float.self)).scalar) < 1e-4)
        let named = network.namedParameters()
        let referenceNames = reference.tensorNames.filter { $0.hasPrefix("grad.") && $0 != "grad.input" }
        #expect(Set(referenceNames) == Set(named.map { "grad." + $0.name }))
        let g = gradients(of: loss, at: [x] + named.map(\.parameter.variable))
        #expect(relativeError(g[0].value.reshaped(to: [4, 2, 9, 10]), try reference.tensor(named: "grad.input", as: Float.self)) < 1e-4)
        for ((name, parameter), gradient) in zip(named, g.dropFirst()) {
            #expect(parameter.shape == gradient.shape)
            let e = relativeError(gradient.value, try reference.tensor(named: "grad." + name, as: Float.self))
            #expect(e < 1e-4, "\(name): relative error \(e)")
        }
    }

    @Test func aSavedCNNLoadsBackIdentically() throws {
        let (_, network) = try Self.classifier(FamilyFixtures.directory(Self.name))
        let configuration = try CNNConfiguration(HuggingFaceConfiguration(directory: FamilyFixtures.directory(Self.name)))
        let out = Fixtures.temporaryDirectory().appendingPathComponent("saved")
        try ModelDirectory.save(network, configuration: configuration, to: out)
        let (again, reloaded) = try Self.classifier(out)
        let x = Variable(try FamilyFixtures.reference(Self.name).tensor(named: "input", as: Float.self).reshaped(to: [4, 180]))
        #expect(again.forward(x).value == network(x).value)
        #expect(reloaded.steps == network.steps)
        // The size check before allocation counts what the network holds.
        #expect(configuration.parameterCount == Double(network.parameters.map(\.value.scalarCount).reduce(0, +)))
    }

    @Test func weightsInAnotherLayoutAreRefusedNamingTheShapes() throws {
        let directory = try FamilyFixtures.copy(Self.name)
        let url = directory.appendingPathComponent("model.safetensors")
        let file = try SafeTensorsFile(contentsOf: url)
        // The first convolution stored channels-last, [out, kh, kw, in], as TensorFlow keeps it.
        let tensors: [(name: String, payload: SafeTensorsPayload)] = try file.tensorNames.map { name in
            let t = try file.tensor(named: name, as: Float.self)
            return (name, .float32(name == "layers.0.weight" ? t.permuted([0, 2, 3, 1]) : t))
        }
        try SafeTensorsFile.write(tensors, to: url)
        #expect {
            _ = try ModelDirectory.load(from: directory, as: Float.self)
        } throws: { error in
            "\(error)".contains("layers.0.weight has shape [4, 3, 2, 2], the configuration implies [4, 2, 3, 2]")
        }
    }

    @Test(
        arguments: [
            ("groups", { @Sendable (o: inout [String: Any]) in o["layers"] = Self.layers(o) { $0[0]["groups"] = 2 } }, "only groups = 1"),
            ("padding mode", { @Sendable (o: inout [String: Any]) in o["layers"] = Self.layers(o) { $0[0]["padding_mode"] = "reflect" } }, "padding_mode"),
            (
                "unknown step", { @Sendable (o: inout [String: Any]) in o["layers"] = Self.layers(o) { $0[1]["type"] = "batch_norm" } },
                "unknown type 'batch_norm'"
            ),
            ("unknown key", { @Sendable (o: inout [String: Any]) in o["layers"] = Self.layers(o) { $0[2]["ceil_mode"] = true } }, "layers[2].ceil_mode"),
            ("kernel too large", { @Sendable (o: inout [String: Any]) in o["input_shape"] = [2, 9, 2] }, "layers[0]: conv2d with kernel 3×2"),
            (
                "no class scores", { @Sendable (o: inout [String: Any]) in o["layers"] = Self.layers(o) { $0.removeLast(4) } },
                "the last step must give one score per class"
            ),
            ("linear on images", { @Sendable (o: inout [String: Any]) in o["layers"] = Self.layers(o) { $0.remove(at: 6) } }, "put a flatten step before it"),
            ("class names", { @Sendable (o: inout [String: Any]) in o["class_names"] = ["a", "b"] }, "one distinct name per output (5)"),
            ("input shape", { @Sendable (o: inout [String: Any]) in o["input_shape"] = [9, 10] }, "input_shape must be [channels, height, width]"),
            (
                "input shape with junk", { @Sendable (o: inout [String: Any]) in o["input_shape"] = (o["input_shape"] as! [Any]) + [2.5] },
                "input_shape must be [channels, height, width]"
            ),
            (
                "kernel with junk", { @Sendable (o: inout [String: Any]) in o["layers"] = Self.layers(o) { $0[0]["kernel_size"] = [3, 3, "x"] } },
                "kernel_size must be an integer or a pair of integers"
            ),
        ] as [(String, @Sendable (inout [String: Any]) -> Void, String)])
    func unsupportedConfigurationsAreRefusedByName(_ what: String, _ change: @Sendable (inout [String: Any]) -> Void, _ expected: String) throws {
        let directory = try FamilyFixtures.copy(Self.name)
        try FamilyFixtures.editConfiguration(directory, change)
        #expect {
            _ = try ModelDirectory.load(from: directory, as: Float.self)
        } throws: { error in
            let message = "\(error)"
            return message.contains(expected) && message.contains("config.json")
        }
    }

    static func layers(_ o: [String: Any], _ change: (inout [[String: Any]]) -> Void) -> [[String: Any]] {
        var list = o["layers"] as! [[String: Any]]
        change(&list)
        return list
    }
}
