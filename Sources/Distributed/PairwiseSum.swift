/// A sum over `leafCount` ordered leaves in the canonical pairwise tree, built from any
/// contiguous runs of leaves: the same bits whichever way the leaves were shared out.
///
/// Level 0 holds the leaves; node j of level l + 1 is node 2j + node 2j + 1 of level l, or node 2j
/// alone when it has no right sibling. A process that sums a contiguous run of leaves keeps the
/// nodes of the run that are complete — at most about two per level — and merges siblings as soon
/// as both are present; runs from other processes are appended as their nodes, in leaf order, and
/// merge the same way. Since every addition is one of the canonical tree's, the root does not
/// depend on how the leaves were split.
public struct PairwiseSum<Value> {
    /// A node of the canonical tree: its level, its index in the level, and its value.
    public struct Node {
        /// The node's level: 0 for a leaf, one more per addition above it.
        public var level: Int
        /// The node's index in its level; it covers leaves `index << level` up to (not including) `(index + 1) << level`,
        /// capped at the leaf count.
        public var index: Int
        /// The sum of the leaves the node covers.
        public var value: Value

        /// A node of the tree; ``PairwiseSum/append(_:)`` checks that it fits.
        public init(level: Int, index: Int, value: Value) {
            self.level = level
            self.index = index
            self.value = value
        }
    }

    /// The number of leaves (blocks) of the whole sum, at least 1.
    public let leafCount: Int
    let add: (Value, Value) -> Value
    /// The nodes held, in leaf order.
    public private(set) var nodes: [Node] = []

    /// - Parameter add: the sum of two nodes' values (left, right); it is given each pair once.
    public init(leafCount: Int, add: @escaping (Value, Value) -> Value) {
        precondition(leafCount >= 1, "a sum needs a leaf")
        self.leafCount = leafCount
        self.add = add
    }

    /// Nodes on level `level`.
    func width(_ level: Int) -> Int {
        var n = leafCount
        for _ in 0..<level { n = (n + 1) / 2 }
        return n
    }

    /// The first leaf after node `index` of `level`.
    func end(level: Int, index: Int) -> Int { Swift.min(leafCount, (index + 1) << level) }

    /// The first leaf the nodes held do not cover.
    public var nextLeaf: Int { nodes.last.map { end(level: $0.level, index: $0.index) } ?? 0 }

    /// Whether every leaf is in: one node, the root.
    public var isComplete: Bool { root != nil }

    /// Appends leaf `index`, which must follow the leaves held (any leaf when none are).
    public mutating func append(leaf index: Int, value: Value) {
        append(Node(level: 0, index: index, value: value))
    }

    /// Whether ``append(_:)`` takes `node`: a node of the tree that starts where the nodes held end
    /// (any node of the tree when none are held). Nodes read from files or other ranks are checked with it.
    public func accepts(level: Int, index: Int) -> Bool {
        guard level >= 0, level < Int.bitWidth - 1, index >= 0, index < width(level) else { return false }
        return nodes.isEmpty || nextLeaf == index << level
    }

    /// Appends a node of the canonical tree that starts where the nodes held end (any node when
    /// none are held), then merges what can be merged.
    public mutating func append(_ node: Node) {
        precondition(accepts(level: node.level, index: node.index), "node \(node.index) of level \(node.level) does not follow the nodes held")
        nodes.append(node)
        while true {
            let last = nodes[nodes.count - 1]
            // A node with no right sibling rises unchanged (no addition).
            if last.index % 2 == 0 && last.index + 1 >= width(last.level) && width(last.level) > 1 {
                nodes[nodes.count - 1] = Node(level: last.level + 1, index: last.index / 2, value: last.value)
                continue
            }
            guard nodes.count >= 2 else { break }
            let left = nodes[nodes.count - 2]
            guard left.level == last.level, left.index % 2 == 0, left.index + 1 == last.index else { break }
            nodes.removeLast(2)
            nodes.append(Node(level: last.level + 1, index: left.index / 2, value: add(left.value, last.value)))
        }
    }

    /// The sum of every leaf, once all are in.
    public var root: Value? {
        guard nodes.count == 1, width(nodes[0].level) == 1 else { return nil }
        return nodes[0].value
    }
}

extension PairwiseSum {
    /// Completes the tree across ranks: in round k, rank r + 2^k sends its nodes to rank r (r a
    /// multiple of 2^(k+1)), which holds ranks r..<r + 2^k and appends them — every addition one
    /// of the canonical tree's — so that rank 0 ends with the whole tree after log₂(ranks)
    /// rounds, each rank's nodes sent once. Returns the bytes this rank received, and leaves
    /// `self` holding the whole tree on rank 0 (on the other ranks, what they held when they sent).
    ///
    /// - Parameters:
    ///   - encode: appends a node's value to a message.
    ///   - decode: reads a value `encode` wrote; it throws for a value of the wrong shape.
    /// - Throws: ``CommunicatorError`` when the transport fails or a rank sends nodes out of order.
    @discardableResult
    public mutating func reduce(
        over communicator: any Communicator, encode: (Value, inout TensorMessage) -> Void,
        decode: (inout TensorMessage.Reader) throws -> Value
    ) throws -> Int {
        var received = 0
        var step = 1
        let rank = communicator.rank
        while step < communicator.size {
            if rank % (2 * step) == step {
                var message = TensorMessage()
                message.append([nodes.count])
                for node in nodes {
                    message.append([node.level, node.index])
                    encode(node.value, &message)
                }
                try communicator.send(message.bytes, to: rank - step)
                return received
            }
            if rank + step < communicator.size {
                let bytes = try communicator.receive(from: rank + step)
                received += bytes.count
                var reader = TensorMessage.Reader(bytes)
                for _ in 0..<(try reader.integers().first ?? 0) {
                    let header = try reader.integers()
                    guard header.count == 2, accepts(level: header[0], index: header[1]) else {
                        throw CommunicatorError("rank \(rank + step) sent partial sums out of order")
                    }
                    append(Node(level: header[0], index: header[1], value: try decode(&reader)))
                }
            }
            step *= 2
        }
        return received
    }

    /// ``reduce(over:encode:decode:)``, then rank 0's root on every rank.
    public mutating func allReduce(
        over communicator: any Communicator, encode: (Value, inout TensorMessage) -> Void,
        decode: (inout TensorMessage.Reader) throws -> Value
    ) throws -> Value {
        try reduce(over: communicator, encode: encode, decode: decode)
        var message = TensorMessage()
        if communicator.isRoot {
            guard let root else { throw CommunicatorError("the partial sums do not cover every block") }
            encode(root, &message)
        }
        let bytes = try communicator.broadcast(message.bytes, root: 0)
        if communicator.isRoot, let root { return root }
        var reader = TensorMessage.Reader(bytes)
        return try decode(&reader)
    }
}
