import Foundation
import Formats
import TensorCore

/// The fitted curvature of each tracked layer, in Float64.
public struct LayerFactors: Sendable {
    /// A = E[ā āᵀ] over tokens, `[in+1, in+1]` (K-FAC, EK-FAC).
    public var activationCovariance: Tensor<Double>?
    /// S = E[g gᵀ] over tokens, `[out, out]` (K-FAC, EK-FAC).
    public var gradientCovariance: Tensor<Double>?
    /// Q_A (columns) and λ_A ascending.
    public var activationEigenvectors: Tensor<Double>?
    /// λ_A `[in (+1)]`, ascending (K-FAC, EK-FAC).
    public var activationEigenvalues: Tensor<Double>?
    /// Q_S (columns) and λ_S ascending.
    public var gradientEigenvectors: Tensor<Double>?
    /// λ_S `[out]`, ascending (K-FAC, EK-FAC).
    public var gradientEigenvalues: Tensor<Double>?
    /// Λ averaged over examples, `[out, in+1]`: in the Kronecker eigenbasis (EK-FAC) or the
    /// identity basis (diagonal).
    public var lambda: Tensor<Double>?
}

/// Factors of every tracked layer with what they were fitted on.
public struct InfluenceFactors: Sendable {
    /// The factor strategy the factors were fitted for; it decides which of them the preconditioner reads.
    public var strategy: any FactorCurvatureStrategy
    /// The tracked layers' module names, parallel to ``layers`` and ``gradientShapes``.
    public var moduleNames: [String]
    /// `[out, in+1]` per module.
    public var gradientShapes: [[Int]]
    /// The fitted factors of each tracked layer, in the order of ``moduleNames``.
    public var layers: [LayerFactors]
    /// Whether the fit used sampled labels (true Fisher) or the data's own (empirical Fisher); saved as `fisher`.
    public var labels: LabelSource
    /// The training examples fitted on (after any limit on their number); Λ is averaged over them.
    public var exampleCount: Int
    /// The real (non-padding) rows fitted on; the covariances are averaged over them (times a convolution's output positions).
    public var tokenCount: Int
    /// The ``ModelFingerprint`` of the model fitted, checked before scoring with the factors.
    public var modelFingerprint: String
    /// The precision the sums were accumulated in: `float32` or `float64`.
    public var accumulation: String

    /// The file ``save(to:)`` writes in its directory.
    public static let fileName = "factors.safetensors"
    static let format = "swift-influence-factors-1"

    /// Writes `factors.safetensors` (F64 tensors named `<module>.<factor>`, metadata JSON) atomically.
    public func save(to directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var tensors: [(name: String, payload: SafeTensorsPayload)] = []
        for (name, f) in zip(moduleNames, layers) {
            let items: [(String, Tensor<Double>?)] = [
                ("activation_covariance", f.activationCovariance), ("gradient_covariance", f.gradientCovariance),
                ("activation_eigenvectors", f.activationEigenvectors), ("activation_eigenvalues", f.activationEigenvalues),
                ("gradient_eigenvectors", f.gradientEigenvectors), ("gradient_eigenvalues", f.gradientEigenvalues),
                ("lambda", f.lambda),
            ]
            for (key, t) in items { if let t { tensors.append(("\(name).\(key)", .float64(t))) } }
        }
        let metadata: [String: String] = [
            "format": Self.format, "strategy": type(of: strategy).name, "modules": moduleNames.joined(separator: ","),
            "gradient_shapes": gradientShapes.map { $0.map(String.init).joined(separator: "x") }.joined(separator: ","),
            "fisher": labels.rawValue, "examples": String(exampleCount), "tokens": String(tokenCount),
            "model_fingerprint": modelFingerprint, "accumulation": accumulation, "eigendecomposition": "float64",
        ]
        try SafeTensorsFile.write(tensors, metadata: metadata, to: directory.appendingPathComponent(Self.fileName))
    }

    /// Reads factors written by ``save(to:)``.
    ///
    /// - Throws: ``InfluenceError/malformedFactors(path:reason:)`` when the file is missing, its
    ///   metadata is not that of swift-influence factors, or a tensor the strategy's preconditioner
    ///   reads is absent or does not fit the module's `[out, in]` gradient shape.
    public static func load(from directory: URL) throws -> InfluenceFactors {
        let url = directory.appendingPathComponent(fileName)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw InfluenceError.malformedFactors(path: directory.path, reason: "\(fileName) is missing; run `influence fit` first")
        }
        let file = try SafeTensorsFile(contentsOf: url)
        let m = file.metadata
        guard m["format"] == format, let strategyName = m["strategy"],
            let strategy = CurvatureStrategies.factorStrategy(named: strategyName),
            let modules = m["modules"], let shapesText = m["gradient_shapes"], let labels = m["fisher"].flatMap(LabelSource.init),
            let examples = m["examples"].flatMap(Int.init), let tokens = m["tokens"].flatMap(Int.init),
            let fingerprint = m["model_fingerprint"]
        else {
            throw InfluenceError.malformedFactors(path: url.path, reason: "the metadata is not that of swift-influence factors")
        }
        let names = modules.split(separator: ",").map(String.init)
        let shapes = shapesText.split(separator: ",").map { $0.split(separator: "x").compactMap { Int($0) } }
        guard shapes.count == names.count, shapes.allSatisfy({ $0.count == 2 }) else {
            throw InfluenceError.malformedFactors(path: url.path, reason: "gradient_shapes does not list one [out, in] per module")
        }
        var layers: [LayerFactors] = []
        for (name, shape) in zip(names, shapes) {
            func read(_ key: String) throws -> Tensor<Double>? {
                file.contains(tensorNamed: "\(name).\(key)") ? try file.tensor(named: "\(name).\(key)", as: Double.self) : nil
            }
            let f = LayerFactors(
                activationCovariance: try read("activation_covariance"), gradientCovariance: try read("gradient_covariance"),
                activationEigenvectors: try read("activation_eigenvectors"), activationEigenvalues: try read("activation_eigenvalues"),
                gradientEigenvectors: try read("gradient_eigenvectors"), gradientEigenvalues: try read("gradient_eigenvalues"),
                lambda: try read("lambda"))
            // What the preconditioner of this strategy reads, with the shape it must have: a
            // missing or misshapen tensor is an error here rather than a crash when scoring.
            let (out, inputs) = (shape[0], shape[1])
            let tensors: [String: Tensor<Double>?] = [
                "activation_eigenvectors": f.activationEigenvectors, "gradient_eigenvectors": f.gradientEigenvectors,
                "activation_eigenvalues": f.activationEigenvalues, "gradient_eigenvalues": f.gradientEigenvalues, "lambda": f.lambda,
            ]
            let needed = type(of: strategy).requiredFactors(out: out, inputs: inputs).map { (key: $0.key, tensor: tensors[$0.key] ?? nil, shape: $0.shape) }
            for item in needed {
                guard let tensor = item.tensor else {
                    throw InfluenceError.malformedFactors(path: url.path, reason: "module \(name) lacks its \(item.key)")
                }
                guard tensor.shape == item.shape else {
                    throw InfluenceError.malformedFactors(
                        path: url.path,
                        reason: "\(name).\(item.key) has shape \(tensor.shape), "
                            + "expected \(item.shape) for a gradient of shape [\(out), \(inputs)]")
                }
            }
            layers.append(f)
        }
        return InfluenceFactors(
            strategy: strategy, moduleNames: names, gradientShapes: shapes, layers: layers, labels: labels,
            exampleCount: examples, tokenCount: tokens, modelFingerprint: fingerprint,
            accumulation: m["accumulation"] ?? "float32")
    }

    /// Checks that these factors belong to this model and these modules.
    public func check(modelFingerprint: String, moduleNames: [String], path: String) throws {
        if modelFingerprint != self.modelFingerprint {
            throw InfluenceError.factorsMismatch(
                path: path, reason: "they were fitted on another model (fingerprint \(self.modelFingerprint), this model \(modelFingerprint))")
        }
        if moduleNames != self.moduleNames {
            throw InfluenceError.factorsMismatch(
                path: path, reason: "they cover modules \(self.moduleNames.joined(separator: ",")), not \(moduleNames.joined(separator: ","))")
        }
    }
}
