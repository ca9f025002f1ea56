import Autograd
import Foundation
import Influence
import NeuralNetworks
import TensorCore
import Training

/// How the proximal Bregman response function is solved.
public struct ProximalBregmanConfiguration: Sendable, Equatable {
    /// The up-weighting ε of the training point (solved at +ε and −ε); nil for 1/N, one more copy
    /// of the point in the mean training loss.
    public var epsilon: Double?
    /// The proximity term λ/2 ‖θ − θˢ‖², λ equal to the influence damping.
    public var damping: Double
    /// Adam's first learning rate; nil to derive it from the first gradient (see ``ProximalBregmanResponse``).
    public var learningRate: Double?
    /// Adam steps per solve at most.
    public var maximumSteps: Int
    /// A solve has converged when ‖∇J(θ)‖ ≤ tolerance · ‖∇J(θˢ)‖.
    public var tolerance: Double
    /// Training rows per forward pass (the gradient of J is always over every row).
    public var batchSize: Int
    /// Adam's decay rates of the first and second moments.
    public var beta1: Double
    /// The second-moment decay rate (``beta1`` is the first's).
    public var beta2: Double

    /// A configuration; only the damping has no default.
    ///
    /// - Parameters:
    ///   - epsilon: the up-weighting ε; nil for 1/N.
    ///   - damping: λ of the proximity term; must be positive (checked by ``ProximalBregmanResponse/init(task:modules:configuration:)``).
    ///   - learningRate: Adam's first learning rate; nil to derive it from the first gradient.
    ///   - maximumSteps: Adam steps per solve at most.
    ///   - tolerance: the relative gradient norm at which a solve has converged.
    ///   - batchSize: training rows per forward pass.
    ///   - beta1: Adam's first-moment decay rate.
    ///   - beta2: Adam's second-moment decay rate.
    public init(
        epsilon: Double? = nil, damping: Double, learningRate: Double? = nil, maximumSteps: Int = 3000, tolerance: Double = 1e-3,
        batchSize: Int = 1024, beta1: Double = 0.99, beta2: Double = 0.999
    ) {
        self.epsilon = epsilon
        self.damping = damping
        self.learningRate = learningRate
        self.maximumSteps = maximumSteps
        self.tolerance = tolerance
        self.batchSize = batchSize
        self.beta1 = beta1
        self.beta2 = beta2
    }
}

/// One solve of the PBRF objective, and how converged it is.
public struct ProximalBregmanSolve: Sendable, Equatable, Codable {
    /// The training point up-weighted.
    public var point: Int
    /// Its signed up-weighting (+ε or −ε).
    public var epsilon: Double
    /// Adam steps taken, counting the steps that were undone.
    public var steps: Int
    /// ‖∇J(θ)‖ / ‖∇J(θˢ)‖ at the end.
    public var relativeGradientNorm: Double
    /// ‖θ − θˢ‖ / ‖θˢ‖ at the end.
    public var relativeDisplacement: Double
    /// Whether ``relativeGradientNorm`` reached the configuration's tolerance within the step limit.
    public var converged: Bool
    /// Whether the move is large enough for float32 to resolve it
    /// (``ProximalBregmanResponse/smallestRelativeDisplacement``), or the point's gradient vanishes.
    public var resolved: Bool
}

/// Why a PBRF computation cannot go on.
public struct ValidationError: Error, CustomStringConvertible, Equatable {
    /// What went wrong, for the user.
    public let description: String
    /// An error with the given message.
    public init(_ message: String) { description = message }
}

/// The proximal Bregman response function (Bae et al. 2022; Grosse et al. 2023 §2.1): what
/// influence functions approximate for a network that is not trained to convergence.
///
/// For a training point z_m and the trained parameters θˢ,
///
///     θ_ε = argmin_θ J(θ),   J(θ) = (1/N) Σ_i D(h(θ, x_i), h(θˢ, x_i)) + ε L(z_m, θ) + (λ/2) ‖θ − θˢ‖²,
///
/// D(z, zˢ) = L(z) − L(zˢ) − ∇L(zˢ)ᵀ(z − zˢ) the Bregman divergence of the training loss in the
/// network's output space (for softmax cross-entropy the KL divergence between the two predictive
/// distributions, whatever the label; for squared error ‖z − zˢ‖²). J's Hessian at θˢ is the mean
/// Gauss–Newton matrix plus λI, which is why influence with damping λ estimates it to first order.
///
/// The PBRF score of z_m for a measurement f, in the sign convention of the scores (positive: z_m
/// supports the query), is −(f(θ_{+ε}) − f(θ_{−ε})) / (2ε): the symmetric difference cancels the
/// second-order term. Only the tracked Linear layers' weights and biases move (the parameters the
/// influence strategies cover); every other parameter stays at θˢ.
///
/// Each solve runs Adam from θˢ on the full gradient of J (every training row, in batches) until
/// ‖∇J(θ)‖ ≤ tolerance · ‖∇J(θˢ)‖ = tolerance · ε ‖∇L(z_m)‖ or the step limit. The learning rate
/// starts at the root-mean-square of the first gradient-descent step ε ∇L(z_m) / λ (the largest
/// move the proximity term allows), is halved whenever a step is undone and grows by 10 % after
/// one that is kept (see ``solve(point:epsilon:start:)`` for what undoes a step).
public final class ProximalBregmanResponse<Task: InfluenceTask> where Task.Scalar == Float {
    /// The task whose model is moved; its tracked layers' parameters are left at θˢ after each public call.
    public let task: Task
    /// How each solve runs: ε, λ, Adam's settings, the stopping rule and the batch size.
    public let configuration: ProximalBregmanConfiguration
    /// The names of the layers that move.
    public let moduleNames: [String]
    let parameters: [Parameter<Float>]
    let anchor: [Tensor<Float>]
    let batches: [[Int]]
    /// Per batch: the loss gradient in output space at θˢ, ∇L(zˢ).
    let references: [Tensor<Float>]
    /// ‖θˢ‖ over the moving parameters.
    let anchorNorm: Double
    /// The up-weighting used (the configuration's, or 1/N).
    public var epsilon: Double { configuration.epsilon ?? 1 / Double(task.trainingExampleCount) }

    /// The smallest relative move of the parameters float32 resolves to two digits.
    public static var smallestRelativeDisplacement: Double { 1e2 * Double(Float.ulpOfOne) }

    /// - Throws: ``ValidationError`` for a damping that is not positive, no training rows, or no tracked layer.
    public init(task: Task, modules patterns: [String], configuration: ProximalBregmanConfiguration) throws {
        guard configuration.damping > 0, configuration.damping.isFinite else {
            throw ValidationError("PBRF needs a positive damping λ (its proximity term), got \(configuration.damping)")
        }
        if let e = configuration.epsilon, !(e > 0 && e.isFinite) { throw ValidationError("PBRF needs a positive ε, got \(e)") }
        guard task.trainingExampleCount > 0 else { throw ValidationError("PBRF needs training rows; none were given") }
        let layers = task.model.trackableLayers(matching: patterns)
        guard !layers.isEmpty else {
            throw ValidationError(
                "no Linear layer matches \(patterns.joined(separator: ",")); layers: \(task.model.trackableLayers().map(\.name).joined(separator: ", "))")
        }
        self.task = task
        self.configuration = configuration
        moduleNames = layers.map(\.name)
        parameters = layers.flatMap { [$0.layer.weight] + ($0.layer.bias.map { [$0] } ?? []) }
        anchor = parameters.map(\.value)
        anchorNorm = Self.norm(anchor)
        let n = task.trainingExampleCount, size = Swift.max(1, configuration.batchSize)
        let batches = stride(from: 0, to: n, by: size).map { Array($0..<Swift.min(n, $0 + size)) }
        self.batches = batches
        references = withoutGradients {
            batches.map { batch in
                let (outputs, loss) = task.trainingOutputs(indices: batch)
                let z = Variable(outputs.value, requiresGradient: true)
                let value = withGradients { loss(z) }
                return gradients(of: value, at: [z])[0].value
            }
        }
    }

    /// f_q at the task's current parameters, for every query.
    public static func measurements(_ task: Task) -> [Double] {
        withoutGradients { (0..<task.queryCount).map { Double(task.queryMeasurement(indices: [$0]).loss.value.scalar) } }
    }

    static func norm(_ tensors: [Tensor<Float>]) -> Double {
        tensors.reduce(0) { total, t in t.withUnsafeBufferPointer { p in p.reduce(total) { $0 + Double($1) * Double($1) } } }.squareRoot()
    }

    /// Makes the moving parameters the only ones that record gradients while `body` runs.
    func withMovingParameters<R>(_ body: ([Variable<Float>]) throws -> R) rethrows -> R {
        let saved = task.model.parameters.map(\.requiresGradient)
        task.model.freeze()
        for p in parameters { p.requiresGradient = true }
        defer { for (p, s) in zip(task.model.parameters, saved) { p.requiresGradient = s } }
        return try withGradients { try body(parameters.map(\.variable)) }
    }

    /// ∇J(θ) at the current parameters, for the up-weighting `epsilon` of `point`.
    ///
    /// J's value is never formed: in float32 the divergence is a difference of nearly equal
    /// losses summed over every row, whose rounding exceeds the changes a solve makes near its
    /// end. Steps are judged by the change of J instead (see ``solve(point:epsilon:start:)``).
    func gradient(point: Int, epsilon: Double) -> [Tensor<Float>] {
        withMovingParameters { variables in
            let n = Double(task.trainingExampleCount)
            var total = parameters.map { Tensor<Float>.zeros(shape: $0.shape) }
            for (batch, reference) in zip(batches, references) {
                let (outputs, loss) = task.trainingOutputs(indices: batch)
                // ∇_z D(z, zˢ) = ∇L(z) − ∇L(zˢ), from a graph over the outputs alone, then one pass
                // back through the model seeded with it: no output-sized product or sum in the graph.
                let z = Variable(outputs.value, requiresGradient: true)
                let outputGradient = gradients(of: loss(z), at: [z])[0].value - reference
                for (k, g) in gradients(of: outputs, at: variables, seed: Variable(outputGradient)).enumerated() {
                    total[k].add(g.value, scaledBy: Float(1 / n))
                }
            }
            var generator = SeededGenerator(seed: 0)
            let pointLoss = task.trainingLoss(indices: [point], labels: .data, generator: &generator).loss
            for (k, g) in gradients(of: pointLoss, at: variables).enumerated() { total[k].add(g.value, scaledBy: Float(epsilon)) }
            for k in parameters.indices { total[k].add(parameters[k].value - anchor[k], scaledBy: Float(configuration.damping)) }
            return total
        }
    }

    static func dot(_ a: [Tensor<Float>], _ b: [Tensor<Float>]) -> Double {
        zip(a, b).reduce(0) { total, pair in
            pair.0.withUnsafeBufferPointer { x in
                pair.1.withUnsafeBufferPointer { y in
                    var s = total
                    for i in x.indices { s += Double(x[i]) * Double(y[i]) }
                    return s
                }
            }
        }
    }

    /// Solves for θ_ε from `start` (θˢ when nil), leaves the parameters there and says how
    /// converged the solve is.
    ///
    /// A step from θ to θ' changes J by ½⟨∇J(θ) + ∇J(θ'), θ' − θ⟩ up to the third order (exactly
    /// for a quadratic); θ' − θ of two nearby float32 values is exact, so the estimate is as
    /// precise as the gradients. A step that raises J, multiplies ‖∇J‖ by more than 10 or leaves
    /// the ball of radius 3ε‖∇L(z_m)‖/λ around θˢ is undone and the learning rate halved.
    func solve(point: Int, epsilon: Double, start: [Tensor<Float>]? = nil) -> ProximalBregmanSolve {
        for (k, p) in parameters.enumerated() { p.value = start?[k] ?? anchor[k] }
        var gradient = self.gradient(point: point, epsilon: epsilon)
        // ∇J(θˢ) = ε ∇L(z_m): the divergence and the proximity term are flat there.
        let initialNorm: Double = {
            guard start != nil else { return Self.norm(gradient) }
            let current = parameters.map(\.value)
            for (p, a) in zip(parameters, anchor) { p.value = a }
            defer { for (p, c) in zip(parameters, current) { p.value = c } }
            return Self.norm(self.gradient(point: point, epsilon: epsilon))
        }()
        var relative = initialNorm > 0 ? Self.norm(gradient) / initialNorm : 0
        let count = Double(parameters.reduce(0) { $0 + $1.value.scalarCount })
        var rate = configuration.learningRate ?? Swift.max(initialNorm / configuration.damping / count.squareRoot(), 1e-12)
        if start != nil && configuration.learningRate == nil { rate *= relative }
        // No step needs to move a coordinate by more than the parameters' own scale.
        let largest = Swift.max(10 * anchorNorm / count.squareRoot(), rate)
        // The quadratic model's response is at most ε‖∇L(z_m)‖/λ long; a step beyond three times that
        // has left the neighbourhood of θˢ the PBRF is about (the −ε objective is unbounded below
        // for a cross-entropy far from θˢ).
        let reach = 3 * initialNorm / configuration.damping
        let adam = AdamW(parameters: parameters, learningRate: rate, beta1: configuration.beta1, beta2: configuration.beta2, weightDecay: 0)
        var steps = 0
        while steps < configuration.maximumSteps && relative > configuration.tolerance {
            steps += 1
            let before = parameters.map(\.value)
            adam.learningRate = rate
            // Adam is blind to the gradient's scale but for its ε (10⁻⁸), which would dominate
            // gradients of order ε ∇L(z_m): it steps on the gradient relative to ∇J(θˢ).
            adam.step(gradients: gradient.map { $0 * Float(1 / initialNorm) })
            let next = self.gradient(point: point, epsilon: epsilon)
            let move = zip(parameters, before).map { $0.value - $1 }
            let change = 0.5 * (Self.dot(gradient, move) + Self.dot(next, move))
            if move.allSatisfy({ $0.magnitude().max().scalar == 0 }) {
                // A step below float32's resolution of the parameters: larger steps.
                rate = Swift.min(rate * 2, largest)
            } else if change.isFinite && change <= 0 && Self.norm(next) <= 10 * Self.norm(gradient)
                && Self.norm(zip(parameters, anchor).map { $0.value - $1 }) <= reach
            {
                gradient = next
                relative = Self.norm(gradient) / initialNorm
                rate = Swift.min(rate * 1.1, largest)
            } else {
                for (p, b) in zip(parameters, before) { p.value = b }
                rate /= 2
                if rate < 1e-30 { break }
            }
        }
        let displacement = Self.norm(zip(parameters, anchor).map { $0.value - $1 }) / Swift.max(anchorNorm, .leastNormalMagnitude)
        return ProximalBregmanSolve(
            point: point, epsilon: epsilon, steps: steps, relativeGradientNorm: relative,
            relativeDisplacement: displacement, converged: relative <= configuration.tolerance,
            resolved: initialNorm == 0 || displacement >= Self.smallestRelativeDisplacement)
    }

    /// The PBRF scores of training point `point` on every query, `[queries]`, with its two solves.
    /// The model's parameters are back at θˢ afterwards. A point whose move float32 cannot resolve
    /// (a well-fitted point with a tiny gradient, or too small an ε) is marked unresolved in its
    /// solves: its scores are rounding noise around a value near zero.
    public func scores(of point: Int) throws -> (scores: [Double], solves: [ProximalBregmanSolve]) {
        precondition(point >= 0 && point < task.trainingExampleCount, "training point \(point) out of range")
        defer { for (p, a) in zip(parameters, anchor) { p.value = a } }
        let e = epsilon
        let up = solve(point: point, epsilon: e)
        let plus = Self.measurements(task)
        // The mirror image of the +ε response is the −ε one to first order: a close start.
        let down = solve(point: point, epsilon: -e, start: zip(parameters, anchor).map { $1 - ($0.value - $1) })
        let minus = Self.measurements(task)
        return (zip(plus, minus).map { -($0 - $1) / (2 * e) }, [up, down])
    }

    /// The smallest ε whose move of the parameters float32 resolves for `point` (the move is
    /// linear in ε: solved at growing ε until it moves at all, then scaled).
    ///
    /// - Throws: ``ValidationError`` when even ε = 10²⁴ × the configured one leaves the parameters in place.
    public func smallestWorkableEpsilon(of point: Int) throws -> Double {
        defer { for (p, a) in zip(parameters, anchor) { p.value = a } }
        var probe = epsilon, moved = solve(point: point, epsilon: probe).relativeDisplacement
        for _ in 0..<8 where moved < Self.smallestRelativeDisplacement / 100 {
            probe *= 1e3
            moved = solve(point: point, epsilon: probe).relativeDisplacement
        }
        guard moved > 0 else {
            throw ValidationError(String(format: "training point %d does not move the parameters even at ε = %.3g; its loss gradient vanishes", point, probe))
        }
        return probe * Self.smallestRelativeDisplacement / moved
    }
}
