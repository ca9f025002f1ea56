import Autograd
import Foundation
import Influence
import NeuralNetworks
import TensorCore
import Testing
import Training
import Validation

/// Solves P x = b for a small dense symmetric positive definite P (Gaussian elimination, Float64).
private func solve(_ p: [[Double]], _ b: [Double]) -> [Double] {
    var a = p, x = b
    let n = b.count
    for i in 0..<n {
        for r in (i + 1)..<n {
            let f = a[r][i] / a[i][i]
            for c in i..<n { a[r][c] -= f * a[i][c] }
            x[r] -= f * x[i]
        }
    }
    for i in stride(from: n - 1, through: 0, by: -1) {
        for c in (i + 1)..<n { x[i] -= a[i][c] * x[c] }
        x[i] /= a[i][i]
    }
    return x
}

private func randomTensor(_ shape: [Int], seed: UInt64) -> Tensor<Float> {
    var g = SeededGenerator(seed: seed)
    return Tensor<Float>.randomNormal(shape: shape, using: &g)
}

@Suite struct ProximalBregmanResponseTests {
    /// For a linear model with squared error the PBRF objective is exactly quadratic, and the
    /// symmetric difference leaves −∇f_qᵀ(G + λI)⁻¹∇L_m up to O(ε²): a closed form in Float64.
    @Test func linearRegressionMatchesTheClosedForm() throws {
        let (n, d, k, queries) = (40, 3, 2, 3)
        let x = randomTensor([n, d], seed: 1), y = randomTensor([n, k], seed: 2)
        let xq = randomTensor([queries, d], seed: 3), yq = randomTensor([queries, k], seed: 4)
        let model = MultilayerPerceptron<Float>(sizes: [d, k], seed: 5)
        let task = RegressionTask(model: model, trainingFeatures: x, trainingTargets: y, queryFeatures: xq, queryTargets: yq)
        let lambda = 0.05
        let pbrf = try ProximalBregmanResponse(
            task: task, modules: [], configuration: ProximalBregmanConfiguration(damping: lambda, maximumSteps: 20_000, tolerance: 1e-5))

        // Closed form: per output j, the block (W_j, b_j) has curvature P = (2/N) Σ x̄ x̄ᵀ + λI and
        // the gradient of Σ_j (z_j − y_j)² is 2 (z_j − y_j) x̄.
        let w = model.layers.elements[0].weight.value, b = model.layers.elements[0].bias!.value
        func bar(_ t: Tensor<Float>, _ i: Int) -> [Double] { (0..<d).map { Double(t[i, $0]) } + [1] }
        func residual(_ t: Tensor<Float>, _ targets: Tensor<Float>, _ i: Int) -> [Double] {
            (0..<k).map { j in (0..<d).reduce(Double(b[j])) { $0 + Double(w[j, $1]) * Double(t[i, $1]) } - Double(targets[i, j]) }
        }
        var p = [[Double]](repeating: [Double](repeating: 0, count: d + 1), count: d + 1)
        for i in 0..<n {
            let v = bar(x, i)
            for r in 0...d { for c in 0...d { p[r][c] += 2 * v[r] * v[c] / Double(n) } }
        }
        for r in 0...d { p[r][r] += lambda }
        var pairs: [(Double, Double)] = []
        for m in [0, 7, 19, 33] {
            let (scores, solves) = try pbrf.scores(of: m)
            let converged = solves.allSatisfy { $0.converged }
            #expect(converged, "\(solves)")
            // The PBRF of this ε exactly: J is quadratic, with curvature P + 2ε x̄_m x̄_mᵀ per output
            // and gradient 2ε r_mj x̄_m at θˢ; f_q is quadratic too.
            let e = solves[0].epsilon
            let vm = bar(x, m), rm = residual(x, y, m)
            func moved(_ epsilon: Double) -> [[Double]] {
                var pe = p
                for r in 0...d { for c in 0...d { pe[r][c] += 2 * epsilon * vm[r] * vm[c] } }
                return (0..<k).map { j in solve(pe, vm.map { -2 * epsilon * rm[j] * $0 }) }
            }
            let (plus, minus) = (moved(e), moved(-e))
            // Influence with the exact curvature, the first-order limit.
            let solved = solve(p, vm)
            for q in 0..<queries {
                let rq = residual(xq, yq, q), vq = bar(xq, q)
                func f(_ delta: [[Double]]) -> Double {
                    (0..<k).reduce(0) { total, j in
                        let r = rq[j] + zip(delta[j], vq).reduce(0) { $0 + $1.0 * $1.1 }
                        return total + r * r
                    }
                }
                let expected = -(f(plus) - f(minus)) / (2 * e)
                #expect(abs(scores[q] - expected) <= 5e-3 * abs(expected) + 1e-5, "point \(m) query \(q): PBRF \(scores[q]) vs closed form \(expected)")
                let influence = (0..<k).reduce(0.0) { $0 + 4 * rq[$1] * rm[$1] } * zip(vq, solved).reduce(0) { $0 + $1.0 * $1.1 }
                pairs.append((scores[q], influence))
            }
        }
        // At ε = 1/N the response differs from its first-order limit by O(ε²) (the point's own
        // curvature ε ∇²L_m enters J), a few per cent here; the two still agree closely.
        let r = pearson(pairs.map(\.0), pairs.map(\.1))
        #expect(r > 0.99, "PBRF against exact influence: Pearson \(r)")
        // The parameters are back at θˢ.
        #expect(model.layers.elements[0].weight.value == w)
    }

    /// On a small trained MLP classifier, influence with the exact Gauss–Newton matrix (the
    /// curvature of the PBRF objective at θˢ) correlates with the PBRF, and the gradient dot
    /// product less so.
    @Test func exactGaussNewtonInfluenceTracksThePBRFOfAnMLP() throws {
        let (n, d, classes) = (60, 4, 3)
        let x = randomTensor([n, d], seed: 11)
        let labels = (0..<n).map { i in (x[i, 0] + 0.5 * x[i, 1] > 0.3 ? 1 : 0) + (x[i, 2] > 0.8 ? 1 : 0) }
        let model = MultilayerPerceptron<Float>(sizes: [d, 8, classes], activation: .tanh, seed: 12)
        let adam = AdamW(parameters: model.trainableParameters, learningRate: 0.05, weightDecay: 0)
        for _ in 0..<200 {
            let loss = withGradients { Losses.crossEntropy(logits: model(Variable(x)), labels: labels) }
            adam.step(gradients: gradients(of: loss, at: model.trainableParameters.map(\.variable)).map(\.value))
        }
        let queries = Array(0..<4)
        let task = ClassificationTask(
            model: model, trainingFeatures: x, trainingLabels: labels,
            queryFeatures: x.indexSelect(along: 0, indices: queries.map { $0 * 7 + 3 }), queryLabels: queries.map { labels[$0 * 7 + 3] })
        let lambda = 0.01
        let pbrf = try ProximalBregmanResponse(
            task: task, modules: [], configuration: ProximalBregmanConfiguration(damping: lambda, maximumSteps: 4000, tolerance: 1e-4))
        let points = Array(stride(from: 0, to: n, by: 4))
        var truth: [[Double]] = Array(repeating: [], count: task.queryCount)
        for m in points {
            let (scores, solves) = try pbrf.scores(of: m)
            // Points whose move float32 cannot resolve have PBRF ≈ 0 and need not converge.
            let converged = solves.allSatisfy { !$0.resolved || $0.relativeGradientNorm < 1e-2 }
            #expect(converged, "\(solves)")
            for q in scores.indices { truth[q].append(scores[q]) }
        }
        func estimate(_ strategy: any OperatorCurvatureStrategy) throws -> [[Double]] {
            let op = try CurvatureOperator(task: task, modules: [], kind: .ggn, batchSize: 64)
            let computer = try ScoreComputer(
                task: task, curvature: op, strategy: strategy, damping: lambda,
                configuration: ScoreConfiguration(damping: .value(lambda), batchSize: 64))
            let s = try computer.compute().pairwise
            return (0..<task.queryCount).map { q in points.map { Double(s[q, $0]) } }
        }
        let exact = try estimate(ExactStrategy())
        let r = pearson(exact.flatMap { $0 }, truth.flatMap { $0 })
        #expect(r > 0.95, "exact GGN against PBRF: Pearson \(r)")
    }

    @Test func aMoveBelowFloatPrecisionIsFlaggedAndTheSmallestWorkableUpWeightingWorks() throws {
        let x = randomTensor([20, 3], seed: 21), y = randomTensor([20, 1], seed: 22)
        let model = MultilayerPerceptron<Float>(sizes: [3, 1], seed: 23)
        let task = RegressionTask(model: model, trainingFeatures: x, trainingTargets: y, queryFeatures: x, queryTargets: y)
        let pbrf = try ProximalBregmanResponse(task: task, modules: [], configuration: ProximalBregmanConfiguration(epsilon: 1e-9, damping: 0.1))
        let tiny = try pbrf.scores(of: 0).solves
        #expect(tiny.allSatisfy { !$0.resolved }, "ε = 1e-9 should leave the move unresolved: \(tiny)")
        // Ten times the smallest workable ε resolves and converges; a third of it does not resolve.
        let workable = try pbrf.smallestWorkableEpsilon(of: 0)
        let retry = try ProximalBregmanResponse(task: task, modules: [], configuration: ProximalBregmanConfiguration(epsilon: workable * 10, damping: 0.1))
        let solves = try retry.scores(of: 0).solves
        #expect(solves.allSatisfy { $0.converged && $0.resolved }, "\(solves)")
        let below = try ProximalBregmanResponse(task: task, modules: [], configuration: ProximalBregmanConfiguration(epsilon: workable / 3, damping: 0.1))
        let belowSolves = try below.scores(of: 0).solves
        #expect(belowSolves.contains { !$0.resolved }, "\(belowSolves)")
        #expect(throws: ValidationError.self) { try ProximalBregmanResponse(task: task, modules: [], configuration: ProximalBregmanConfiguration(damping: 0)) }
        #expect(throws: ValidationError.self) {
            try ProximalBregmanResponse(task: task, modules: ["nothing.*"], configuration: ProximalBregmanConfiguration(damping: 0.1))
        }
    }
}

private func pearson(_ a: [Double], _ b: [Double]) -> Double {
    let ma = a.reduce(0, +) / Double(a.count), mb = b.reduce(0, +) / Double(b.count)
    var sab = 0.0, saa = 0.0, sbb = 0.0
    for (u, v) in zip(a, b) {
        sab += (u - ma) * (v - mb)
        saa += (u - ma) * (u - ma)
        sbb += (v - mb) * (v - mb)
    }
    return sab / (saa * sbb).squareRoot()
}
