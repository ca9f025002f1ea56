import Formats
import Foundation
import TensorCore
import Testing

/// `fit`, `scores` and `loss` on an MLP classifier with CSV data, against a hand-written
/// backpropagation of the one-hidden-layer ReLU network read from model.safetensors.
@Suite("influence fit, scores and loss on an MLP classifier", .serialized)
struct ClassifierInfluenceTests {
    /// Rows `a,b,c,label`: the label is "big" when a > b, else "small" (sorted names: big = 0, small = 1).
    func writeCSV(_ url: URL, rows: Int, seed: UInt64) throws -> (x: [[Double]], y: [Int]) {
        var state = seed
        func next() -> Double {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Double(state >> 11) / Double(1 << 53)
        }
        var lines = ["a,b,c,label"], x: [[Double]] = [], y: [Int] = []
        for _ in 0..<rows {
            let (a, b, c) = (next(), next(), next())
            lines.append("\(a),\(b),\(c),\(a > b ? "big" : "small")")
            x.append([a, b, c].map { Double(Float($0)) })
            y.append(a > b ? 0 : 1)
        }
        try lines.joined(separator: "\n").write(to: url, atomically: true, encoding: .utf8)
        return (x, y)
    }

    /// The network `sizes 3-h-2` in Double, with the logits, the per-example gradient in the
    /// scores' layout (layers.0 [h, 3 + 1] then layers.1 [2, h + 1], bias last) and the Jacobian
    /// of the logits.
    struct Network {
        let w1: Tensor<Double>, b1: Tensor<Double>, w2: Tensor<Double>, b2: Tensor<Double>
        init(_ directory: URL) throws {
            let file = try SafeTensorsFile(contentsOf: directory.appendingPathComponent("model.safetensors"))
            func load(_ name: String) throws -> Tensor<Double> { Tensor<Double>(try file.tensor(named: name, as: Float.self)) }
            (w1, b1, w2, b2) = (try load("layers.0.weight"), try load("layers.0.bias"), try load("layers.1.weight"), try load("layers.1.bias"))
        }
        var hidden: Int { w1.shape[0] }

        func forward(_ x: [Double]) -> (h: [Double], logits: [Double]) {
            let h = (0..<hidden).map { i in Swift.max(0, (0..<3).reduce(b1[i]) { $0 + w1[i, $1] * x[$1] }) }
            return (h, (0..<2).map { c in (0..<hidden).reduce(b2[c]) { $0 + w2[c, $1] * h[$1] } })
        }

        /// ∂(⟨seed, logits⟩)/∂θ.
        func backward(_ x: [Double], seed: [Double]) -> [Double] {
            let (h, _) = forward(x)
            var first = [Double](repeating: 0, count: hidden * 4), second = [Double](repeating: 0, count: 2 * (hidden + 1))
            for c in 0..<2 {
                for j in 0..<hidden { second[c * (hidden + 1) + j] = seed[c] * h[j] }
                second[c * (hidden + 1) + hidden] = seed[c]
            }
            for i in 0..<hidden where h[i] > 0 {
                let g = (0..<2).reduce(0.0) { $0 + w2[$1, i] * seed[$1] }
                for k in 0..<3 { first[i * 4 + k] = g * x[k] }
                first[i * 4 + 3] = g
            }
            return first + second
        }

        func probabilities(_ x: [Double]) -> [Double] {
            let z = forward(x).logits, m = z.max()!
            let e = z.map { Foundation.exp($0 - m) }, s = e.reduce(0, +)
            return e.map { $0 / s }
        }

        /// ∇ of −log softmax(f(x))_y.
        func gradient(_ x: [Double], _ y: Int) -> [Double] {
            let p = probabilities(x)
            return backward(x, seed: (0..<2).map { p[$0] - ($0 == y ? 1 : 0) })
        }
    }

    @Test func exactGaussNewtonScoresAndLossesMatchAHandWrittenNetwork() throws {
        let dir = Influence.temporaryDirectory()
        let trainCSV = dir.appendingPathComponent("train.csv"), queryCSV = dir.appendingPathComponent("queries.csv")
        let train = try writeCSV(trainCSV, rows: 60, seed: 7), queries = try writeCSV(queryCSV, rows: 4, seed: 99)
        let model = dir.appendingPathComponent("model")
        let trained = try Influence.run([
            "train", "--model-type", "mlp", "--data", trainCSV.path, "--hidden", "5", "--steps", "60",
            "--learning-rate", "0.05", "--validation-fraction", "0", "--validation-interval", "0", "--out", model.path,
        ])
        try #require(trained.exitCode == 0, "\(trained.standardError)")
        let net = try Network(model)

        // loss: −log softmax(f(x))_y per row.
        let loss = try Influence.run(["loss", "--model", model.path, "--data", queryCSV.path])
        #expect(loss.exitCode == 0, "\(loss.standardError)")
        let rows = loss.standardOutput.split(separator: "\n").map { try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        #expect(rows.count == 4)
        for (i, row) in rows.enumerated() {
            let expected = -Foundation.log(net.probabilities(queries.x[i])[queries.y[i]])
            #expect(abs((row["loss"] as! Double) - expected) < 1e-5 * Swift.max(1, expected), "row \(i): \(row) vs \(expected)")
            #expect(row["label"] as? Int == queries.y[i])
        }

        // scores --strategy exact --curvature ggn: g_qᵀ (G + λI)⁻¹ g_m with G = (1/N) Σ Jᵀ (diag p − ppᵀ) J.
        let lambda = 0.05
        let out = dir.appendingPathComponent("scores")
        let r = try Influence.run([
            "scores", "--model", model.path, "--strategy", "exact", "--curvature", "ggn", "--damping", "\(lambda)",
            "--train", trainCSV.path, "--queries", queryCSV.path, "--out", out.path,
        ])
        try #require(r.exitCode == 0, "\(r.standardError)")
        let n = 4 * net.hidden + 2 * (net.hidden + 1)
        var g = Tensor<Double>.identity(n) * lambda
        for x in train.x {
            let p = net.probabilities(x)
            let jacobian = (0..<2).map { c in Tensor(shape: [n], scalars: net.backward(x, seed: (0..<2).map { $0 == c ? 1.0 : 0.0 })) }
            for a in 0..<2 {
                for b in 0..<2 {
                    let weight = ((a == b ? p[a] : 0) - p[a] * p[b]) / Double(train.x.count)
                    g += Tensor.outer(jacobian[a], jacobian[b]) * weight
                }
            }
        }
        let queryGradients = Tensor(shape: [4, n], scalars: (0..<4).flatMap { net.gradient(queries.x[$0], queries.y[$0]) })
        let trainGradients = Tensor(shape: [60, n], scalars: (0..<60).flatMap { net.gradient(train.x[$0], train.y[$0]) })
        let solved = try Tensor.choleskySolve(factor: try g.choleskyFactor(), queryGradients.transposed())
        let expected = Tensor.matmul(solved, trainGradients.transposed(), transposeA: true)
        let observed = Tensor<Double>(
            try SafeTensorsFile(contentsOf: out.appendingPathComponent("pairwise_scores.safetensors"))
                .tensor(named: "all_modules", as: Float.self))
        #expect(observed.shape == [4, 60])
        let scale = expected.magnitude().max().scalar
        #expect((observed - expected).magnitude().max().scalar <= 1e-4 * scale, "max |Δ| \((observed - expected).magnitude().max().scalar) of \(scale)")

        // EK-FAC on the same data runs through fit and scores, and the summary names the labels.
        let factors = dir.appendingPathComponent("factors"), ekfac = dir.appendingPathComponent("ekfac")
        let fit = try Influence.run(["fit", "--model", model.path, "--data", trainCSV.path, "--strategy", "ekfac", "--out", factors.path])
        #expect(fit.exitCode == 0 && fit.standardOutput.contains("for 2 modules on 60 examples"), "\(fit.standardOutput)\(fit.standardError)")
        let s = try Influence.run([
            "scores", "--model", model.path, "--factors", factors.path, "--train", trainCSV.path,
            "--queries", queryCSV.path, "--max-queries", "2", "--out", ekfac.path,
        ])
        #expect(s.exitCode == 0, "\(s.standardError)")
        let summary = try String(contentsOf: ekfac.appendingPathComponent("summary.json"), encoding: .utf8)
        // The class names recorded at training (big is 0, small is 1).
        #expect(summary.contains("\"text\":\"big (label 0)\"") || summary.contains("\"text\":\"small (label 1)\""), "\(summary.prefix(300))")
        let ekfacScores = try SafeTensorsFile(contentsOf: ekfac.appendingPathComponent("pairwise_scores.safetensors")).tensor(
            named: "all_modules", as: Float.self)
        #expect(ekfacScores.shape == [2, 60])
    }

    @Test func dataThatDoesNotFitTheModelIsNamed() throws {
        let dir = Influence.temporaryDirectory()
        let trainCSV = dir.appendingPathComponent("train.csv")
        _ = try writeCSV(trainCSV, rows: 20, seed: 3)
        let model = dir.appendingPathComponent("model")
        #expect(
            try Influence.run([
                "train", "--model-type", "mlp", "--data", trainCSV.path, "--hidden", "3", "--steps", "2",
                "--validation-fraction", "0", "--validation-interval", "0", "--out", model.path,
            ]).exitCode == 0)
        let wide = dir.appendingPathComponent("wide.csv")
        try "a,b,c,d,label\n1,2,3,4,big\n".write(to: wide, atomically: true, encoding: .utf8)
        let manyClasses = dir.appendingPathComponent("classes.csv")
        try "a,b,c,label\n1,2,3,big\n1,2,3,huge\n".write(to: manyClasses, atomically: true, encoding: .utf8)
        let integers = dir.appendingPathComponent("integers.csv")
        try "a,b,c,label\n1,2,3,0\n".write(to: integers, atomically: true, encoding: .utf8)
        for (data, message) in [
            (wide.path, "wide.csv has 4 feature columns; the model takes 3 inputs"),
            (manyClasses.path, "classes.csv:3: row 2, column 'label': label 'huge' is not one of the model's classes (big, small)"),
            (integers.path, "integers.csv:2: row 1, column 'label': label '0' is not one of the model's classes (big, small)"),
            (dir.appendingPathComponent("none.csv").path, "none.csv does not exist"),
            ("fashion-mnist:train", "has 784 feature columns; the model takes 3 inputs"),
        ] {
            let r = try Influence.run(["fit", "--model", model.path, "--data", data, "--strategy", "diagonal", "--out", dir.appendingPathComponent("f").path])
            #expect(r.exitCode == 1 && r.standardError.contains(message), "\(data): \(r.standardError)")
            #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("f/factors.safetensors").path))
        }
    }
}
