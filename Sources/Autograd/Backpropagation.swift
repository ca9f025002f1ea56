import TensorCore

/// Cotangents of `output` with respect to each of `inputs` (reverse mode).
///
/// ```
/// result[i] = (∂output/∂inputs[i])ᵀ · seed
/// ```
/// Only the part of the graph that lies between `output` and the requested inputs (or a value
/// with a hook) is visited: the backward pass skips frozen branches and stops below the lowest
/// requested value.
///
/// - Parameters:
///   - output: the value to differentiate; any shape.
///   - inputs: leaves or intermediate values of the graph of `output`. An input that `output` does
///     not depend on gets a zero cotangent.
///   - seed: the cotangent of `output`, of its shape; ones when nil. It may itself require a
///     gradient (this is how Jacobian-vector products are built from two reverse passes).
///   - createGraph: record the backward pass, so that the results can be differentiated again.
/// - Returns: one cotangent per input, of that input's shape.
public func gradients<Scalar>(
    of output: Variable<Scalar>, at inputs: [Variable<Scalar>], seed: Variable<Scalar>? = nil,
    createGraph: Bool = false
) -> [Variable<Scalar>] {
    let seed = seed ?? Variable(Tensor.ones(shape: output.shape))
    precondition(seed.shape == output.shape, "gradient seed shape \(seed.shape) differs from output shape \(output.shape)")
    guard let root = output.node else {
        return inputs.map { Variable(Tensor.zeros(shape: $0.shape)) }
    }
    if createGraph {
        return withGradients { backpropagate(root: root, seed: seed, inputs: inputs) }
    }
    return withoutGradients { backpropagate(root: root, seed: seed, inputs: inputs) }
}

/// Runs the backward pass of every value reachable from `output`, calling hooks only; for gradient
/// capture when no gradient is wanted back.
public func backward<Scalar>(from output: Variable<Scalar>, seed: Tensor<Scalar>? = nil, through stops: [Variable<Scalar>] = []) {
    _ = gradients(of: output, at: stops, seed: seed.map { Variable($0) })
}

private func backpropagate<Scalar>(root: GradientNode<Scalar>, seed: Variable<Scalar>, inputs: [Variable<Scalar>]) -> [Variable<Scalar>] {
    // Collect the nodes reachable from the root.
    var reachable: [ObjectIdentifier: GradientNode<Scalar>] = [:]
    var stack = [root]
    while let node = stack.popLast() {
        if reachable.updateValue(node, forKey: ObjectIdentifier(node)) != nil { continue }
        for case let input? in node.inputs where reachable[ObjectIdentifier(input)] == nil { stack.append(input) }
    }
    let ordered = reachable.values.sorted { $0.id < $1.id }

    // A node is needed when it is requested, has a hook, or feeds a needed node.
    let targets = Set(inputs.compactMap { $0.node.map(ObjectIdentifier.init) })
    var needed = Set<ObjectIdentifier>()
    for node in ordered {
        let key = ObjectIdentifier(node)
        if targets.contains(key) || !node.hooks.isEmpty
            || node.inputs.contains(where: { $0.map { needed.contains(ObjectIdentifier($0)) } ?? false })
        {
            needed.insert(key)
        }
    }

    var cotangents: [ObjectIdentifier: Variable<Scalar>] = [ObjectIdentifier(root): seed]
    var results: [ObjectIdentifier: Variable<Scalar>] = [:]
    for node in ordered.reversed() {
        let key = ObjectIdentifier(node)
        guard needed.contains(key), let cotangent = cotangents.removeValue(forKey: key) else { continue }
        for hook in node.hooks { hook.body(cotangent.value) }
        if targets.contains(key) { results[key] = cotangent }
        guard let rule = node.rule else { continue }
        let needs = node.inputs.map { $0.map { needed.contains(ObjectIdentifier($0)) } ?? false }
        if !needs.contains(true) { continue }
        let output = node.keptValue.map { Variable(value: $0, node: node) }
        let contributions = rule(BackwardContext(cotangent: cotangent, needs: needs, keptOutput: output))
        precondition(
            contributions.count == node.inputs.count,
            "backward rule of \(node.name) returned \(contributions.count) cotangents for \(node.inputs.count) inputs")
        for (input, contribution) in zip(node.inputs, contributions) {
            guard let input, let contribution, needed.contains(ObjectIdentifier(input)) else { continue }
            let inputKey = ObjectIdentifier(input)
            if let existing = cotangents[inputKey] {
                cotangents[inputKey] = existing + contribution
            } else {
                cotangents[inputKey] = contribution
            }
        }
    }
    return inputs.map { input in
        if let node = input.node, let g = results[ObjectIdentifier(node)] {
            precondition(g.shape == input.shape, "cotangent shape \(g.shape) differs from input shape \(input.shape)")
            return g
        }
        return Variable(Tensor.zeros(shape: input.shape))
    }
}
