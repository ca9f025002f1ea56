import Distributed
import Autograd
import NeuralNetworks
import TensorCore

/// Which curvature a ``CurvatureOperator`` applies.
public enum CurvatureKind: String, Sendable, CaseIterable {
    /// The Hessian of the training loss.
    case hessian
    /// The Gauss–Newton matrix Jᵀ (∇²_z L) J, with z the network's outputs: positive semi-definite
    /// for convex losses, and equal to the true Fisher for cross-entropy.
    case ggn
    /// The empirical Fisher (1/N) Σ_m ∇L(z_m) ∇L(z_m)ᵀ from the data's own labels (what pyDVL
    /// calls its Gauss–Newton mode): positive semi-definite, from per-example gradients.
    case fisher
}

/// The curvature of the mean training loss over the weights and biases of tracked Linear
/// layers, as a linear operator on per-layer blocks `[out, in (+1 for a bias)]` — the layout of
/// the per-example gradients of ``GradientCapture``:
///
/// ```
/// H = (1/N) Σ_m ∇²_θ L(z_m)        (or its Gauss–Newton part)
/// ```
/// Products come from the autograd engine: H v by differentiating ⟨∇L, v⟩; J v by the
/// double-vjp trick; Jᵀ u by one reverse pass. Only the tracked parameters are leaves, so the
/// other parameters are constants.
public final class CurvatureOperator<Task: InfluenceTask> {
    /// The task's scalar type, in which products are computed.
    public typealias Scalar = Task.Scalar
    let task: Task
    /// The names of the tracked Linear (or convolution) layers, in block order; other covered parameters follow in ``blockNames``.
    public let names: [String]
    let layers: [any TrackableLayer<Scalar>]
    /// Which curvature the products apply: the Hessian, the Gauss–Newton matrix or the empirical Fisher.
    public let kind: CurvatureKind
    /// Training examples per forward/backward pass of a product; a product sums its batches and divides by the example count.
    public let batchSize: Int
    /// The examples averaged over: the first `exampleCount` training examples.
    public let exampleCount: Int
    /// Reports (stage, done, total) during long work: the dense matrix ("curvature matrix") and
    /// the iterations of the solvers ("cg", "lissa", "lanczos").
    public var progress: ((String, Int, Int) -> Void)?
    /// The ranks that share each product's batches; every rank receives the whole product, so
    /// that the solvers run the same iterations on every rank.
    public var communicator: any Communicator = SingleProcess()
    /// Blocks of batches whose products are added pairwise (see ``FitConfiguration/reductionBlocks``).
    public var reductionBlocks = FitConfiguration.defaultReductionBlocks

    /// Trainable parameters outside the tracked Linear layers (LayerNorm, embeddings, …), one
    /// block `[1, count]` each; empty unless the operator covers every parameter.
    let extras: [(name: String, parameter: Parameter<Scalar>)]

    /// - Parameters:
    ///   - patterns: the tracked Linear layers (every Linear when empty).
    ///   - allParameters: cover every trainable parameter of the model: each Linear layer as a
    ///     `[out, in+1]` block, and each other parameter as a block of its own.
    public init(
        task: Task, modules patterns: [String], kind: CurvatureKind, batchSize: Int = 16, maximumExamples: Int? = nil,
        allParameters: Bool = false
    ) throws {
        precondition(batchSize > 0, "batch size must be positive")
        let found = task.model.trackableLayers(matching: allParameters ? [] : patterns)
        guard !found.isEmpty || allParameters else {
            throw InfluenceError.noTrackedModules(patterns: patterns, available: task.model.trackableLayers().map(\.name))
        }
        self.task = task
        names = found.map(\.name)
        layers = found.map(\.layer)
        if allParameters {
            let covered = Set(found.flatMap { [ObjectIdentifier($0.layer.weight)] + ($0.layer.bias.map { [ObjectIdentifier($0)] } ?? []) })
            extras = task.model.namedParameters().filter { $0.parameter.requiresGradient && !covered.contains(ObjectIdentifier($0.parameter)) }
        } else {
            extras = []
        }
        self.kind = kind
        self.batchSize = batchSize
        exampleCount = Swift.min(task.trainingExampleCount, maximumExamples ?? Int.max)
    }

    /// The same operator over the task behind ``AnyInfluenceTask``, as strategies take it.
    public func erased() throws -> CurvatureOperator<AnyInfluenceTask> where Task.Scalar == Float {
        let op = try CurvatureOperator<AnyInfluenceTask>(
            task: AnyInfluenceTask(task), modules: names, kind: kind, batchSize: batchSize,
            maximumExamples: exampleCount, allParameters: coversOtherParameters)
        op.progress = progress
        op.communicator = communicator
        op.reductionBlocks = reductionBlocks
        return op
    }

    /// The names of the blocks: the tracked Linear layers, then the other parameters.
    public var blockNames: [String] { names + extras.map(\.name) }
    /// Whether the operator covers parameters outside Linear layers (their per-example gradients
    /// then come from one backward pass per example).
    public var coversOtherParameters: Bool { !extras.isEmpty }

    /// `[out, in (+1)]` per layer, then `[1, count]` per other parameter.
    public var shapes: [[Int]] {
        layers.map { [$0.outputCount, $0.inputCount + ($0.bias == nil ? 0 : 1)] } + extras.map { [1, $0.parameter.value.scalarCount] }
    }
    /// The number of parameters the operator acts on.
    public var dimension: Int { shapes.map { $0[0] * $0[1] }.reduce(0, +) }

    /// Runs `body` with the tracked weights and biases as the only leaves that require gradients.
    func withTrackedParameters<R>(_ body: ([Variable<Scalar>]) throws -> R) rethrows -> R {
        let saved = task.model.parameters.map(\.requiresGradient)
        task.model.freeze()
        for layer in layers {
            layer.weight.requiresGradient = true
            layer.bias?.requiresGradient = true
        }
        for extra in extras { extra.parameter.requiresGradient = true }
        defer { for (p, s) in zip(task.model.parameters, saved) { p.requiresGradient = s } }
        return try withGradients {
            try body(layers.flatMap { [$0.weight.variable] + ($0.bias.map { [$0.variable] } ?? []) } + extras.map(\.parameter.variable))
        }
    }

    /// Per-parameter tensors (weight `[out, in]`, bias `[out]`) from per-layer blocks.
    func split(_ blocks: [Tensor<Scalar>]) -> [Tensor<Scalar>] {
        precondition(blocks.map(\.shape) == shapes, "curvature blocks \(blocks.map(\.shape)) should be \(shapes)")
        return zip(layers, blocks).flatMap { layer, block -> [Tensor<Scalar>] in
            // A convolution's `[out, in, kh, kw]` is its block's `[out, in·kh·kw]` in row-major order.
            let weight = block.sliced(along: 1, 0..<layer.inputCount).reshaped(to: layer.weight.shape)
            guard layer.bias != nil else { return [weight] }
            return [weight, block.sliced(along: 1, layer.inputCount..<(layer.inputCount + 1)).reshaped(to: [layer.outputCount])]
        } + zip(extras, blocks.suffix(extras.count)).map { extra, block in block.reshaped(to: extra.parameter.value.shape) }
    }

    /// Per-layer blocks from per-parameter tensors.
    func join(_ parameters: [Tensor<Scalar>]) -> [Tensor<Scalar>] {
        var result: [Tensor<Scalar>] = [], k = 0
        for layer in layers {
            if layer.bias != nil {
                result.append(
                    Tensor.concatenated(
                        [
                            parameters[k].reshaped(to: [layer.outputCount, layer.inputCount]),
                            parameters[k + 1].reshaped(to: [layer.outputCount, 1]),
                        ], along: 1))
                k += 2
            } else {
                result.append(parameters[k].reshaped(to: [layer.outputCount, layer.inputCount]))
                k += 1
            }
        }
        return result + parameters[k...].map { $0.reshaped(to: [1, $0.scalarCount]) }
    }

    /// Per-example gradients of `loss` over the operator's blocks, `[examples, rows, columns]` per
    /// block (the layout of ``GradientCapture``), from one backward pass per example.
    public func perExampleGradients(_ indices: [Int], loss: ([Int]) -> TaskLoss<Scalar>) throws -> [Tensor<Scalar>] {
        let blocks = uncheckedPerExampleGradients(indices, loss: loss)
        for block in blocks where !block.isFinite {
            // Name the first example at fault; the scan runs only when something is wrong.
            let k = indices.indices.first { !block.sliced(along: 0, $0..<($0 + 1)).isFinite } ?? 0
            throw InfluenceError.nonFinite(what: "the gradient of example \(indices[k])")
        }
        return blocks
    }

    func uncheckedPerExampleGradients(_ indices: [Int], loss: ([Int]) -> TaskLoss<Scalar>) -> [Tensor<Scalar>] {
        var perBlock = [[Tensor<Scalar>]](repeating: [], count: shapes.count)
        for index in indices {
            let blocks = withTrackedParameters { parameters in join(gradients(of: loss([index]).loss, at: parameters).map(\.value)) }
            for (i, block) in blocks.enumerated() { perBlock[i].append(block) }
        }
        return perBlock.map { Tensor.stacked($0, along: 0) }
    }

    /// The capture of the tracked Linear layers (for the empirical Fisher's per-example gradients).
    private lazy var capture: GradientCapture<Scalar> = try! GradientCapture(model: task.model, patterns: names)

    /// H v (or the Gauss–Newton product) for per-layer blocks `v`, averaged over the examples.
    public func apply(_ v: [Tensor<Scalar>]) -> [Tensor<Scalar>] { apply([v], examples: Array(0..<exampleCount))[0] }

    /// The product averaged over the given training examples only (a mini-batch estimate).
    public func apply(_ v: [Tensor<Scalar>], examples: [Int]) -> [Tensor<Scalar>] { apply([v], examples: examples)[0] }

    /// Products with several vectors in one pass over the examples: each batch's forward pass
    /// (and, for the Hessian, its first backward pass) serves every vector.
    public func apply(_ vectors: [[Tensor<Scalar>]], examples: [Int]) -> [[Tensor<Scalar>]] {
        precondition(!examples.isEmpty, "a curvature product needs at least one example")
        guard !vectors.isEmpty else { return [] }
        let parts = vectors.map(split)
        let starts = Array(stride(from: 0, to: examples.count, by: batchSize))
        // Batches summed per fixed block and the blocks in the canonical pairwise tree: the same
        // bits on any number of ranks, each of which sums its own blocks.
        let shards = WorkShards(batchCount: starts.count, blocks: reductionBlocks)
        typealias Sum = [[Tensor<Scalar>]]
        let add: (Sum, Sum) -> Sum = { l, r in zip(l, r).map { zip($0, $1).map { $0 + $1 } } }
        var tree = PairwiseSum<Sum>(leafCount: shards.blockCount, add: add)
        for block in shards.blocks(rank: communicator.rank, of: communicator.size) {
            var total: Sum? = nil
            for start in shards.batches(ofBlock: block).map({ starts[$0] }) {
                let batch = Array(examples[start..<Swift.min(examples.count, start + batchSize)])
                let products: Sum
                switch kind {
                case .hessian: products = hessianProducts(parts, batch)
                case .ggn: products = gaussNewtonProducts(parts, batch)
                case .fisher: products = fisherProducts(vectors, batch).map(split)
                }
                total = total.map { add($0, products) } ?? products
            }
            tree.append(leaf: block, value: total!)
        }
        let sum: Sum
        if communicator.size > 1 {
            let shapes = parts[0].map(\.shape)
            do {
                sum = try tree.allReduce(
                    over: communicator, encode: { value, message in message.append(value.flatMap { $0 }) },
                    decode: { reader in
                        let flat = try reader.tensors(Scalar.self)
                        guard flat.count == shapes.count * vectors.count, flat.map(\.shape) == Array(repeating: shapes, count: vectors.count).flatMap({ $0 })
                        else {
                            throw CommunicatorError("a rank sent curvature products of the wrong shapes")
                        }
                        return stride(from: 0, to: flat.count, by: shapes.count).map { Array(flat[$0..<($0 + shapes.count)]) }
                    })
            } catch {
                // A transport failure leaves the job unable to agree on a product: end every rank.
                communicator.abort(message: "Error: curvature products across ranks failed: \(error)", code: 1)
                preconditionFailure("\(error)")
            }
        } else {
            sum = tree.root!
        }
        let scale = 1 / Scalar(examples.count)
        return sum.map { join($0.map { $0 * scale }) }
    }

    /// Products with the columns of `x` `[dimension, k]` over the row-major concatenation of the
    /// blocks, in one pass over the examples (all of them when `examples` is nil).
    public func apply(columns x: Tensor<Scalar>, examples: [Int]? = nil) -> Tensor<Scalar> {
        precondition(x.rank == 2 && x.shape[0] == dimension, "columns \(x.shape) should be [\(dimension), k]")
        let vectors = (0..<x.shape[1]).map { j in blocks(of: x.sliced(along: 1, j..<(j + 1)).reshaped(to: [dimension])) }
        let products = apply(vectors, examples: examples ?? Array(0..<exampleCount))
        return Tensor.stacked(products.map { Tensor.concatenated($0.map { $0.flattened() }, along: 0) }, along: 1)
    }

    /// Per-layer blocks of a flat vector `[dimension]`.
    func blocks(of x: Tensor<Scalar>) -> [Tensor<Scalar>] {
        var offset = 0
        return shapes.map { s in
            defer { offset += s[0] * s[1] }
            return x.sliced(along: 0, offset..<(offset + s[0] * s[1])).reshaped(to: s)
        }
    }

    /// ∇²(Σ_batch L) v for each v, by differentiating ⟨∇L, v⟩; the gradient graph is built once.
    func hessianProducts(_ vectors: [[Tensor<Scalar>]], _ batch: [Int]) -> [[Tensor<Scalar>]] {
        withTrackedParameters { parameters in
            var generator = SeededGenerator(seed: 0)
            let loss = task.trainingLoss(indices: batch, labels: .data, generator: &generator).loss
            let g = gradients(of: loss, at: parameters, createGraph: true)
            return vectors.map { v in
                var inner: Variable<Scalar>? = nil
                for (gi, vi) in zip(g, v) {
                    let term = (gi * Variable(vi)).sum()
                    inner = inner.map { $0 + term } ?? term
                }
                return gradients(of: inner!, at: parameters).map(\.value)
            }
        }
    }

    /// Jᵀ (∇²_z L) J v for the batch's outputs z and each v; the forward pass is shared.
    func gaussNewtonProducts(_ vectors: [[Tensor<Scalar>]], _ batch: [Int]) -> [[Tensor<Scalar>]] {
        withTrackedParameters { parameters in
            let (z, loss) = task.trainingOutputs(indices: batch)
            // J v: u ↦ Jᵀu is linear, so the gradient of ⟨Jᵀu, v⟩ in u is J v.
            let u = Variable(Tensor<Scalar>.zeros(shape: z.shape), requiresGradient: true)
            let jtu = gradients(of: z, at: parameters, seed: u, createGraph: true)
            // ∇_z L at the outputs, with z as a fresh leaf, for the (∇²_z L)(J v) products.
            let leaf = Variable(z.value, requiresGradient: true)
            let gz = gradients(of: loss(leaf), at: [leaf], createGraph: true)[0]
            return vectors.map { v in
                var inner: Variable<Scalar>? = nil
                for (a, b) in zip(jtu, v) {
                    let term = (a * Variable(b)).sum()
                    inner = inner.map { $0 + term } ?? term
                }
                let jv = gradients(of: inner!, at: [u])[0].value
                let hjv = gradients(of: (gz * Variable(jv)).sum(), at: [leaf])[0].value
                return gradients(of: z, at: parameters, seed: Variable(hjv)).map(\.value)
            }
        }
    }

    /// Per-example gradients of the training loss (data labels) over the blocks, `[b, rows, columns]`:
    /// captured at the Linear layers, or one backward pass per example when other parameters are covered.
    func trainingGradients(_ batch: [Int]) -> [Tensor<Scalar>] {
        var generator = SeededGenerator(seed: 0)
        if coversOtherParameters {
            return uncheckedPerExampleGradients(batch) { self.task.trainingLoss(indices: $0, labels: .data, generator: &generator) }
        }
        let record = capture.record { task.trainingLoss(indices: batch, labels: .data, generator: &generator) }
        return record.layers.map { $0.perExampleGradients(examples: batch.count) }
    }

    /// Σ_batch g g^T v for each v (per-layer blocks), from the batch's per-example gradients.
    func fisherProducts(_ vectors: [[Tensor<Scalar>]], _ batch: [Int]) -> [[Tensor<Scalar>]] {
        let g = trainingGradients(batch).map { $0.reshaped(to: [batch.count, -1]) }  // [b, size] per block
        let stacked = g.indices.map { i in Tensor.stacked(vectors.map { $0[i].flattened() }, along: 1) }  // [size, k] per block
        var inner = Tensor.matmul(g[0], stacked[0])  // [b, k]
        for i in g.indices.dropFirst() { inner += Tensor.matmul(g[i], stacked[i]) }
        let products = g.map { Tensor.matmul($0, inner, transposeA: true) }  // [size, k] per block
        return vectors.indices.map { j in
            products.indices.map { i in products[i].sliced(along: 1, j..<(j + 1)).reshaped(to: vectors[j][i].shape) }
        }
    }

    /// How many unit vectors ``denseMatrix()`` pushes through one pass over the examples.
    public static var denseColumnGroup: Int { 32 }

    /// The dense matrix `[dimension, dimension]` over the row-major concatenation of the blocks,
    /// from one product per column: for small models (the exact strategy).
    public func denseMatrix() -> Tensor<Scalar> {
        let n = dimension
        if kind == .fisher {
            // (1/N) Σ GᵀG over batches of per-example gradients G [b, n].
            var total = Tensor<Scalar>.zeros(shape: [n, n])
            for start in stride(from: 0, to: exampleCount, by: batchSize) {
                let batch = Array(start..<Swift.min(exampleCount, start + batchSize))
                let g = Tensor.concatenated(trainingGradients(batch).map { $0.reshaped(to: [batch.count, -1]) }, along: 1)
                total.addMatrixProduct(g, g, transposeA: true)
                progress?("curvature matrix", batch.last! + 1, exampleCount)
            }
            return total * (1 / Scalar(exampleCount))
        }
        var groups: [Tensor<Scalar>] = []
        for start in stride(from: 0, to: n, by: Self.denseColumnGroup) {
            let count = Swift.min(Self.denseColumnGroup, n - start)
            var units = Tensor<Scalar>.zeros(shape: [n, count])
            for j in 0..<count { units[start + j, j] = 1 }
            groups.append(apply(columns: units))
            progress?("curvature matrix", start + count, n)
        }
        return Tensor.concatenated(groups, along: 1)
    }
}
