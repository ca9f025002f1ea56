import TensorCore

/// How each preconditioned query gradient P_q `[out, in (+1)]` is kept while the training data
/// streams past (Grosse et al. 2023, §3.2.2): whole, or as a rank-r truncated SVD
///
/// ```
/// P_q ≈ (U diag(S)) Vᵀ,   U diag(S): [out, r],   Vᵀ: [r, in]
/// ```
/// which takes r·(out + in) numbers instead of out·in, so that many more queries share one pass
/// over the training data. The truncation is the best of its rank in Frobenius norm
/// (Eckart–Young), so nothing beats the exact SVD at a given rank.
public enum QueryRank: Sendable, Equatable, CustomStringConvertible {
    /// The whole gradient (no truncation).
    case full
    /// Rank r in every tracked layer; r must not exceed min(out, in) of any layer.
    case fixed(Int)
    /// Per layer and query, the smallest rank whose singular values keep this fraction E of
    /// ‖P_q‖²_F = Σ σ_i²: the smallest r with Σ_{i<r} σ_i² ≥ E Σ σ_i². E in (0, 1].
    case energy(Double)

    /// `full`, `rank r` or `energy E`, as messages and resume keys spell it.
    public var description: String {
        switch self {
        case .full: return "full"
        case let .fixed(r): return "rank \(r)"
        case let .energy(e): return "energy \(e)"
        }
    }
}

/// How the truncated SVD of a query gradient is computed.
public enum TruncatedSVD: Sendable, Equatable, CustomStringConvertible {
    /// The exact singular triplets through the Gram matrix: for P `[m, n]`, the symmetric
    /// eigendecomposition (LAPACK syevd) of PᵀP (or PPᵀ when m < n, the smaller of the two),
    /// formed and solved in double precision; σ_i = √λ_i, and the leading r triplets: the optimal
    /// truncation. The eigenvalues carry σ_i² to double precision, so the triplets kept are as
    /// accurate as float32 holds them for every σ_i above 10⁻⁶·σ_max, and it is 3–5 times faster
    /// than LAPACK's gesdd on the shapes of MLP layers (`influence-bench svd`).
    case exact
    /// Halko, Martinsson & Tropp (2011): Y = (P Pᵀ)^q P Ω for a Gaussian Ω of r + p columns
    /// (p = oversampling, q = power iterations, each re-orthonormalised by QR), Q = qr(Y),
    /// the SVD of the small Qᵀ P, and the leading r triplets. Only with a fixed rank.
    case randomized(oversampling: Int, powerIterations: Int)

    /// `exact` or `randomized/p/q` (oversampling, power iterations), as resume keys spell it.
    public var description: String {
        switch self {
        case .exact: return "exact"
        case let .randomized(p, q): return "randomized/\(p)/\(q)"
        }
    }
}

/// The rank-r factors of the preconditioned gradients of one tracked layer for a chunk of
/// queries, side by side: columns `offsets[j]..<offsets[j + 1]` belong to query j.
public struct LowRankQueries: Sendable {
    /// U diag(S) of every query, `[out, R]` with R = Σ_j r_j.
    public var left: Tensor<Float>
    /// V of every query, `[in, R]`.
    public var right: Tensor<Float>
    /// Column offsets of the queries, `[queries + 1]`.
    public var offsets: [Int]

    /// Factors laid side by side as they are: `left` `[out, R]`, `right` `[in, R]`, `offsets` `[queries + 1]` with `offsets.last == R`.
    public init(left: Tensor<Float>, right: Tensor<Float>, offsets: [Int]) {
        self.left = left
        self.right = right
        self.offsets = offsets
    }

    /// The number of queries whose factors are held.
    public var queryCount: Int { offsets.count - 1 }
    /// R = Σ_j r_j, the number of columns of ``left`` and ``right``.
    public var totalRank: Int { offsets.last! }
    /// Bytes held: R·(out + in) Floats.
    public var bytes: Int { 4 * totalRank * (left.shape[0] + right.shape[0]) }

    /// The factors of `gradients` `[q, out, in]`.
    ///
    /// - Throws: ``InfluenceError/notOffered(_:)`` for a fixed rank above min(out, in) of the
    ///   layer (naming the layer), or when LAPACK fails.
    public init(_ gradients: Tensor<Float>, rank: QueryRank, svd: TruncatedSVD, layer: String, seed: UInt64) throws {
        let (q, out, inputs) = (gradients.shape[0], gradients.shape[1], gradients.shape[2])
        let limit = Swift.min(out, inputs)
        var lefts: [Tensor<Float>] = [], rights: [Tensor<Float>] = []
        var offsets = [0]
        var generator = SeededGenerator(seed: seed)
        for j in 0..<q {
            let p = gradients.sliced(along: 0, j..<(j + 1)).reshaped(to: [out, inputs])
            let (u, s, vt): (Tensor<Float>, Tensor<Float>, Tensor<Float>)
            var r: Int
            switch rank {
            case .full:
                preconditionFailure("full-rank queries are kept dense")
            case let .fixed(wanted):
                guard wanted <= limit else {
                    throw InfluenceError.notOffered("--query-rank \(wanted) exceeds min(out, in) = \(limit) of \(layer) ([\(out), \(inputs)])")
                }
                r = wanted
                switch svd {
                case .exact: (u, s, vt) = try Self.gramSVD(p, rank: wanted)
                case let .randomized(oversampling, iterations):
                    (u, s, vt) = try Self.randomizedSVD(
                        p, rank: wanted, oversampling: oversampling, powerIterations: iterations,
                        using: &generator)
                }
            case let .energy(fraction):
                let values = try Self.gramEigenvalues(p)
                r = Self.rank(keeping: fraction, of: values)
                (u, s, vt) = try Self.gramSVD(p, rank: r, decomposition: values)
            }
            r = Swift.min(r, s.shape[0])
            let scaled = u.sliced(along: 1, 0..<r) * s.sliced(along: 0, 0..<r).reshaped(to: [1, r])  // U diag(S) [out, r]
            lefts.append(scaled)
            rights.append(vt.sliced(along: 0, 0..<r).transposed())  // V [in, r]
            offsets.append(offsets.last! + r)
        }
        left = Tensor.concatenated(lefts, along: 1)
        right = Tensor.concatenated(rights, along: 1)
        self.offsets = offsets
    }

    /// The factors of the queries `queries` (indices into this chunk), in that order.
    public func selecting(_ queries: [Int]) -> LowRankQueries {
        var columns: [Int] = [], offsets = [0]
        for j in queries {
            columns += Array(self.offsets[j]..<self.offsets[j + 1])
            offsets.append(columns.count)
        }
        return LowRankQueries(left: left.indexSelect(along: 1, indices: columns), right: right.indexSelect(along: 1, indices: columns), offsets: offsets)
    }

    /// The eigendecomposition of the Gram matrix of `p` `[m, n]` in double precision: of PᵀP
    /// when n ≤ m (its eigenvectors are the right singular vectors), else of PPᵀ.
    struct GramDecomposition {
        /// Every eigenvalue (σ²), descending.
        var squares: [Double]
        /// The eigenvectors, as columns in that order.
        var vectors: Tensor<Double>
        /// Whether the eigenvectors are the right singular vectors (PᵀP) rather than the left.
        var isRight: Bool
    }

    /// The Gram matrix of `p` in double precision, and whether it is PᵀP.
    static func gram(_ p: Tensor<Float>) -> (Tensor<Double>, isRight: Bool) {
        let (m, n) = (p.shape[0], p.shape[1])
        let d = Tensor<Double>(p)
        return (n <= m ? Tensor.matmul(d, d, transposeA: true) : Tensor.matmul(d, d, transposeB: true), n <= m)
    }

    /// Every eigenpair of the Gram matrix (dsyevd), for choosing a rank by energy: the rank such a
    /// choice keeps is usually a large part of the order, where computing every pair at once is
    /// cheaper than computing the eigenvalues first and the leading pairs after.
    static func gramEigenvalues(_ p: Tensor<Float>) throws -> GramDecomposition {
        let (g, isRight) = gram(p)
        let (values, vectors) = try g.symmetricEigendecomposition()
        let ascending = values.scalars
        let descending = Array(ascending.indices.reversed())
        let squares = descending.map { Swift.max(0, ascending[$0]) }
        return GramDecomposition(squares: squares, vectors: vectors.indexSelect(along: 1, indices: descending), isRight: isRight)
    }

    /// The leading `rank` singular triplets of `p` from its Gram matrix (see ``TruncatedSVD/exact``):
    /// `u` `[m, r]`, the singular values `[r]` in descending order, `vt` `[r, n]`. Without a
    /// decomposition, only the r leading eigenpairs of the Gram matrix are computed (dsyevr). A
    /// singular value of zero (a rank-deficient P) gets a zero singular vector on the side computed
    /// from P, which leaves U diag(S) Vᵀ exact.
    static func gramSVD(_ p: Tensor<Float>, rank: Int, decomposition: GramDecomposition? = nil) throws
        -> (Tensor<Float>, Tensor<Float>, Tensor<Float>)
    {
        let leading: [Double], kept: Tensor<Double>, isRight: Bool
        if let decomposition {
            let r = Swift.min(rank, decomposition.squares.count)
            (leading, kept, isRight) = (Array(decomposition.squares.prefix(r)), decomposition.vectors.sliced(along: 1, 0..<r), decomposition.isRight)
        } else {
            let (g, right) = gram(p)
            (leading, kept) = try g.largestSymmetricEigenpairs(Swift.min(rank, g.shape[0]))  // [n or m, r]
            isRight = right
        }
        let r = leading.count
        let sigma = leading.map { Swift.max(0, $0).squareRoot() }
        let d = Tensor<Double>(p)
        // The other side: P V / σ (or Pᵀ U / σ), zero where σ vanishes.
        let projected = isRight ? Tensor.matmul(d, kept) : Tensor.matmul(d, kept, transposeA: true)
        let floor = (sigma.first ?? 0) * 1e-12
        let inverse = Tensor<Double>(shape: [1, r], scalars: sigma.map { $0 > floor ? 1 / $0 : 0 })
        let other = projected * inverse
        let values = Tensor<Float>(shape: [r], scalars: sigma.map { Float($0) })
        return isRight
            ? (Tensor<Float>(other), values, Tensor<Float>(kept.transposed()))
            : (Tensor<Float>(kept), values, Tensor<Float>(other.transposed()))
    }

    /// The smallest r with Σ_{i<r} σ_i² ≥ E Σ σ_i² (at least 1).
    public static func rank(keeping fraction: Double, of singularValues: Tensor<Float>) -> Int {
        rank(keeping: fraction, ofSquares: singularValues.scalars.map { Double($0) * Double($0) })
    }

    /// The smallest r with Σ_{i<r} σ_i² ≥ E Σ σ_i² (at least 1), from the eigenvalues of the Gram matrix.
    static func rank(keeping fraction: Double, of decomposition: GramDecomposition) -> Int {
        rank(keeping: fraction, ofSquares: decomposition.squares)
    }

    static func rank(keeping fraction: Double, ofSquares squares: [Double]) -> Int {
        let total = squares.reduce(0, +)
        guard total > 0 else { return 1 }
        var kept = 0.0
        for (i, v) in squares.enumerated() {
            kept += v
            if kept >= fraction * total * (1 - 1e-12) { return i + 1 }
        }
        return squares.count
    }

    /// The leading `rank` singular triplets of `p` `[m, n]` by the randomized range finder.
    static func randomizedSVD(
        _ p: Tensor<Float>, rank: Int, oversampling: Int, powerIterations: Int,
        using generator: inout SeededGenerator
    ) throws -> (Tensor<Float>, Tensor<Float>, Tensor<Float>) {
        let (m, n) = (p.shape[0], p.shape[1])
        let l = Swift.min(Swift.min(m, n), rank + oversampling)
        let omega = Tensor<Float>.randomNormal(shape: [n, l], using: &generator)
        var y = try Tensor.matmul(p, omega).qrDecomposition().q  // [m, l]
        for _ in 0..<powerIterations {
            let z = try Tensor.matmul(p, y, transposeA: true).qrDecomposition().q  // [n, l]
            y = try Tensor.matmul(p, z).qrDecomposition().q  // [m, l]
        }
        let b = Tensor.matmul(y, p, transposeA: true)  // [l, n]
        let (ub, s, vt) = try b.singularValueDecomposition()
        return (Tensor.matmul(y, ub), s, vt)
    }

    /// Per example, Σ_q-columns of ⟨U_q Vᵀ_q, G_b⟩ through the per-example gradients
    /// G_b `[b, out, in]`: ⟨U diag(S), G_b V⟩ — b·out·in·R multiply-adds after forming G_b.
    /// Returns `[q, b]`.
    public func scores(perExampleGradients g: Tensor<Float>) -> Tensor<Float> {
        let (b, out, inputs) = (g.shape[0], g.shape[1], g.shape[2])
        let projected = Tensor.matmul(g.reshaped(to: [b * out, inputs]), right).reshaped(to: [b, out, totalRank])  // G_b V
        let columns = (projected * left.reshaped(to: [1, out, totalRank])).sum(alongAxes: [1])  // [b, R]
        return segmentSums(columns).transposed()
    }

    /// Per example, ⟨P_q, G_b⟩ with each P_q = U diag(S) Vᵀ rebuilt for the batch, a slice of
    /// queries at a time (at most `sliceBytes` of rebuilt gradients held): R·out·in multiply-adds
    /// to rebuild, then q·b·out·in for the products. Returns `[q, b]`. Slices stay under the
    /// 64 MiB from which tensor blocks are mapped afresh (zeroed pages on every call): the heap
    /// reuses the smaller ones.
    public func scoresByReconstruction(perExampleGradients g: Tensor<Float>, sliceBytes: Int = 1 << 25) -> Tensor<Float> {
        let (b, out, inputs) = (g.shape[0], g.shape[1], g.shape[2])
        let flat = g.reshaped(to: [b, out * inputs])
        let slice = Swift.max(1, sliceBytes / Swift.max(1, 4 * out * inputs))
        var parts: [Tensor<Float>] = []
        for start in stride(from: 0, to: queryCount, by: slice) {
            let queries = start..<Swift.min(queryCount, start + slice)
            let rebuilt = Tensor.stacked(
                queries.map { j in
                    let columns = offsets[j]..<offsets[j + 1]
                    return Tensor.matmul(left.sliced(along: 1, columns), right.sliced(along: 1, columns), transposeB: true).reshaped(to: [out * inputs])
                }, along: 0)  // [s, out·in]
            parts.append(Tensor.matmul(rebuilt, flat, transposeB: true))  // [s, b]
        }
        return Tensor.concatenated(parts, along: 0)
    }

    /// Per row (token), the score g_tᵀ (U diag(S)) Vᵀ ā_t of every query: `[rows, q]`, from the
    /// output gradients `[rows, out]` and inputs `[rows, in]` — rows·R·(out + in) multiply-adds.
    public func tokenScores(outputGradients g: Tensor<Float>, activations a: Tensor<Float>) -> Tensor<Float> {
        segmentSums(Tensor.matmul(g, left) * Tensor.matmul(a, right))
    }

    /// Sums the columns of each query: `[rows, R]` → `[rows, q]`.
    func segmentSums(_ x: Tensor<Float>) -> Tensor<Float> {
        let rows = x.shape[0], total = totalRank, q = queryCount
        return Tensor<Float>(shape: [rows, q]) { out in
            x.withUnsafeBufferPointer { src in
                for r in 0..<rows {
                    let row = r * total
                    for j in 0..<q {
                        var sum: Float = 0
                        for c in offsets[j]..<offsets[j + 1] { sum += src[row + c] }
                        out[r * q + j] = sum
                    }
                }
            }
        }
    }
}

extension Tensor where Scalar == Float {
    /// Bytes of the whole (dense) gradients of one query over blocks of these shapes.
    static func denseQueryBytes(_ shapes: [[Int]]) -> Int { 4 * shapes.map { $0[0] * $0[1] }.reduce(0, +) }
}

extension LowRankQueries {
    /// The contractions of low-rank queries with a batch of training examples.
    public enum Contraction: Sendable, Equatable {
        /// ⟨U diag(S), G_b V⟩ through the per-example gradients G_b.
        case perExampleGradients
        /// Σ_t (g_tᵀ U diag(S)) ⊙ (Vᵀ ā_t), token by token (gives per-token scores).
        case tokens
        /// P_q rebuilt for the batch, then ⟨P_q, G_b⟩ as for dense queries.
        case reconstruction
    }

    /// Multiply-adds of scoring a batch of b examples of T rows against q queries of total rank R,
    /// for a layer `[out, in]`, by each contraction — the cost model that picks one:
    ///
    /// ```
    /// perExampleGradients:  bT·out·in + b·out·in·R + b·out·R
    /// tokens:               bT·R·(out + in) + bT·R
    /// reconstruction:       R·out·in + bT·out·in + q·b·out·in
    /// ```
    public static func cost(examples b: Int, rowsPerExample t: Int, out: Int, inputs: Int, queries q: Int, totalRank r: Int) -> [Contraction: Int] {
        [
            .perExampleGradients: b * t * out * inputs + b * out * inputs * r + b * out * r,
            .tokens: b * t * r * (out + inputs) + b * t * r,
            .reconstruction: r * out * inputs + b * t * out * inputs + q * b * out * inputs,
        ]
    }

    /// The cheapest contraction for a batch (``Contraction/tokens`` when per-token scores are asked for).
    public static func cheapest(
        examples b: Int, rowsPerExample t: Int, out: Int, inputs: Int, queries q: Int, totalRank r: Int,
        perToken: Bool
    ) -> Contraction {
        if perToken { return .tokens }
        let costs = cost(examples: b, rowsPerExample: t, out: out, inputs: inputs, queries: q, totalRank: r)
        return [Contraction.tokens, .reconstruction, .perExampleGradients].min { costs[$0]! < costs[$1]! }!
    }
}
