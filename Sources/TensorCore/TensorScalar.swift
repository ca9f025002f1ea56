import CBLAS
import CLAPACKE
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A floating-point element type that a ``Tensor`` can hold: `Float` or `Double`.
///
/// The protocol is the single point where generic tensor code meets concrete machine code. Its
/// requirements are the BLAS and LAPACK routines (the `s` or `d` variant) and the elementwise and
/// reduction kernels, each of which runs a whole loop. Generic code elsewhere, including code in
/// other modules that is never specialised, therefore pays one witness-table call per *tensor
/// operation*, never one per element.
public protocol TensorScalar: BinaryFloatingPoint, Sendable, LosslessStringConvertible
where RawSignificand: FixedWidthInteger {
    /// The name used in messages and file formats (`"F32"`, `"F64"`).
    static var typeName: String { get }

    // MARK: Scalar functions (used by kernels and by small scalar code paths)
    static func exp(_ x: Self) -> Self
    static func log(_ x: Self) -> Self
    static func tanh(_ x: Self) -> Self
    static func pow(_ x: Self, _ y: Self) -> Self
    static func erf(_ x: Self) -> Self

    // MARK: BLAS (row-major; transposes are passed through, never materialised)
    static func gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Self, a: UnsafePointer<Self>, lda: Int, b: UnsafePointer<Self>, ldb: Int,
        beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int)
    static func gemv(
        transpose: Bool, m: Int, n: Int, alpha: Self, a: UnsafePointer<Self>, lda: Int,
        x: UnsafePointer<Self>, beta: Self, y: UnsafeMutablePointer<Self>)
    static func dot(count: Int, _ x: UnsafePointer<Self>, _ y: UnsafePointer<Self>) -> Self

    // MARK: LAPACK (through LAPACKE: row-major, except potrs below); each returns LAPACK's `info`
    static func syevd(n: Int, a: UnsafeMutablePointer<Self>, w: UnsafeMutablePointer<Self>) -> Int32
    static func potrf(n: Int, a: UnsafeMutablePointer<Self>) -> Int32
    /// Solves with the row-major lower Cholesky factor `a` (= the column-major upper factor) for
    /// the right-hand sides stored one after another in `b` (`[rightHandSides, n]` row-major, i.e.
    /// column-major `[n, rightHandSides]`): no transposition and no NaN scan of the factor.
    static func potrs(n: Int, rightHandSides: Int, a: UnsafePointer<Self>, b: UnsafeMutablePointer<Self>) -> Int32
    static func gesdd(
        m: Int, n: Int, a: UnsafeMutablePointer<Self>, s: UnsafeMutablePointer<Self>,
        u: UnsafeMutablePointer<Self>, vt: UnsafeMutablePointer<Self>
    ) -> Int32
    static func geqrf(m: Int, n: Int, a: UnsafeMutablePointer<Self>, tau: UnsafeMutablePointer<Self>) -> Int32
    static func orgqr(m: Int, n: Int, k: Int, a: UnsafeMutablePointer<Self>, tau: UnsafePointer<Self>) -> Int32

    // MARK: Kernels (whole loops, see Kernels.swift)
    static func unaryKernel(_ op: UnaryOperation, _ x: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>, count: Int)
    static func binaryKernel(
        _ op: BinaryOperation, _ plan: BroadcastPlan,
        _ a: UnsafePointer<Self>, _ b: UnsafePointer<Self>, _ out: UnsafeMutablePointer<Self>)
    static func selectKernel(
        _ plan: BroadcastPlan, _ condition: UnsafePointer<Self>,
        _ a: UnsafePointer<Self>, _ b: UnsafePointer<Self>, _ out: UnsafeMutablePointer<Self>)
    static func reduceKernel(
        _ op: ReductionOperation, _ x: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>,
        outer: Int, count: Int, inner: Int)
    static func logSumExpKernel(_ x: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>, rows: Int, columns: Int)
    static func softmaxKernel(_ x: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>, rows: Int, columns: Int, log: Bool)
    static func scaleAddKernel(_ x: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>, alpha: Self, count: Int)
    static func fillKernel(_ y: UnsafeMutablePointer<Self>, value: Self, count: Int)
    /// Per row: `loss[r] = logsumexp(x[r]) − x[r, labels[r]]`.
    static func crossEntropyKernel(
        _ x: UnsafePointer<Self>, labels: UnsafePointer<Int>, _ loss: UnsafeMutablePointer<Self>,
        rows: Int, columns: Int)
    /// Per row: `y[r] = (softmax(x[r]) − onehot(labels[r])) · scale[r]`.
    static func crossEntropyGradientKernel(
        _ x: UnsafePointer<Self>, labels: UnsafePointer<Int>, scale: UnsafePointer<Self>,
        _ y: UnsafeMutablePointer<Self>, rows: Int, columns: Int)
    /// Fills with uniform numbers in [lower, upper), or with normal numbers (mean, standard
    /// deviation) when `normal`, drawn from `generator` in order.
    static func randomKernel(
        _ y: UnsafeMutablePointer<Self>, count: Int, normal: Bool, _ a: Self, _ b: Self,
        using generator: inout SeededGenerator)
    /// Writes `scale` with probability `keep` and 0 otherwise (a dropout mask).
    static func bernoulliKernel(
        _ y: UnsafeMutablePointer<Self>, count: Int, keep: Double, scale: Self,
        using generator: inout SeededGenerator)
}

@inline(__always) private func trans(_ t: Bool) -> CBLAS_TRANSPOSE { t ? CblasTrans : CblasNoTrans }

extension Float: TensorScalar {
    /// `"F32"`, the name of Float tensors in messages and file formats.
    public static var typeName: String { "F32" }
    /// The vectorisable ``FastMath/exp(_:)`` (relative error < 2·10⁻⁷).
    @inline(__always) public static func exp(_ x: Float) -> Float { FastMath.exp(x) }
    /// The natural logarithm from the C library.
    @inline(__always) public static func log(_ x: Float) -> Float { logf(x) }
    /// The vectorisable ``FastMath/tanh(_:)`` (relative error < 2·10⁻⁶).
    @inline(__always) public static func tanh(_ x: Float) -> Float { FastMath.tanh(x) }
    /// `x` raised to `y` from the C library.
    @inline(__always) public static func pow(_ x: Float, _ y: Float) -> Float { powf(x, y) }
    /// The error function from the C library.
    @inline(__always) public static func erf(_ x: Float) -> Float { erff(x) }

    /// `c = alpha · op(a) · op(b) + beta · c` for row-major matrices (`cblas_sgemm`), `op` transposing when asked.
    ///
    /// - Parameters:
    ///   - transposeA: Whether `op(a)` is `aᵀ`; `a` is then stored `[k, m]`, else `[m, k]`.
    ///   - transposeB: Whether `op(b)` is `bᵀ`; `b` is then stored `[n, k]`, else `[k, n]`.
    ///   - m: Rows of `op(a)` and `c`.
    ///   - n: Columns of `op(b)` and `c`.
    ///   - k: The contracted dimension.
    ///   - lda: The row stride of `a` in elements (≥ its stored column count); likewise `ldb` and `ldc`.
    ///   - c: The `[m, n]` result, read when `beta` ≠ 0.
    public static func gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Float, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        cblas_sgemm(
            CblasRowMajor, trans(transposeA), trans(transposeB), blasint(m), blasint(n), blasint(k),
            alpha, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
    }
    /// `y = alpha · op(a) · x + beta · y` for a row-major `[m, n]` matrix `a` (`cblas_sgemv`, unit vector strides).
    ///
    /// - Parameters:
    ///   - transpose: Whether `op(a)` is `aᵀ`: then `x` has `m` elements and `y` has `n`, else `x` has `n` and `y` has `m`.
    ///   - lda: The row stride of `a` in elements.
    public static func gemv(
        transpose: Bool, m: Int, n: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
        x: UnsafePointer<Float>, beta: Float, y: UnsafeMutablePointer<Float>
    ) {
        cblas_sgemv(CblasRowMajor, trans(transpose), blasint(m), blasint(n), alpha, a, blasint(lda), x, 1, beta, y, 1)
    }
    /// The inner product of `count` contiguous elements of `x` and `y` (`cblas_sdot`).
    public static func dot(count: Int, _ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>) -> Float {
        cblas_sdot(blasint(count), x, 1, y, 1)
    }
    /// Eigendecomposition of the symmetric row-major `[n, n]` matrix `a` by divide and conquer (`LAPACKE_ssyevd`, upper triangle read).
    ///
    /// On return `w` holds the `n` eigenvalues in ascending order and the columns of `a` the matching orthonormal eigenvectors.
    /// - Returns: LAPACK's `info`: 0 on success, < 0 for an illegal argument, > 0 when the algorithm did not converge.
    public static func syevd(n: Int, a: UnsafeMutablePointer<Float>, w: UnsafeMutablePointer<Float>) -> Int32 {
        LAPACKE_ssyevd(LAPACK_ROW_MAJOR, CChar(UInt8(ascii: "V")), CChar(UInt8(ascii: "U")), Int32(n), a, Int32(n), w)
    }
    /// Cholesky factorisation of the symmetric positive definite row-major `[n, n]` matrix `a` in place (`LAPACKE_spotrf`).
    ///
    /// The lower triangle of `a` is overwritten with `L`, `a = L·Lᵀ`; the strict upper triangle is left as it was.
    /// - Returns: LAPACK's `info`: 0 on success, `i` > 0 when the leading minor of order `i` is not positive.
    public static func potrf(n: Int, a: UnsafeMutablePointer<Float>) -> Int32 {
        LAPACKE_spotrf(LAPACK_ROW_MAJOR, CChar(UInt8(ascii: "L")), Int32(n), a, Int32(n))
    }
    /// Solves `a·x = b` in place in `b` given the lower Cholesky factor of ``potrf(n:a:)`` (`LAPACKE_spotrs_work`, column-major upper).
    ///
    /// - Returns: LAPACK's `info`: 0 on success, < 0 for an illegal argument.
    public static func potrs(n: Int, rightHandSides: Int, a: UnsafePointer<Float>, b: UnsafeMutablePointer<Float>) -> Int32 {
        LAPACKE_spotrs_work(
            LAPACK_COL_MAJOR, CChar(UInt8(ascii: "U")), Int32(n), Int32(rightHandSides),
            a, Int32(n), b, Int32(n))
    }
    /// Thin singular value decomposition `a = u · diag(s) · vt` of a row-major `[m, n]` matrix by divide and conquer (`LAPACKE_sgesdd`, job `S`).
    ///
    /// `a` is destroyed. With `k = min(m, n)`: `s` receives the `k` singular values in descending order, `u` the `[m, k]` left vectors and `vt` the `[k, n]`
    /// right vectors transposed, all row-major.
    /// - Returns: LAPACK's `info`: 0 on success, > 0 when the algorithm did not converge.
    public static func gesdd(
        m: Int, n: Int, a: UnsafeMutablePointer<Float>, s: UnsafeMutablePointer<Float>,
        u: UnsafeMutablePointer<Float>, vt: UnsafeMutablePointer<Float>
    ) -> Int32 {
        let k = Swift.min(m, n)
        return LAPACKE_sgesdd(
            LAPACK_ROW_MAJOR, CChar(UInt8(ascii: "S")), Int32(m), Int32(n), a, Int32(n),
            s, u, Int32(k), vt, Int32(n))
    }
    /// QR factorisation of a row-major `[m, n]` matrix in place (`LAPACKE_sgeqrf`).
    ///
    /// `R` is left in the upper triangle of `a`, the Householder reflectors below it and their `min(m, n)` scalars in `tau`;
    /// ``orgqr(m:n:k:a:tau:)`` forms `Q`.
    /// - Returns: LAPACK's `info`: 0 on success, < 0 for an illegal argument.
    public static func geqrf(m: Int, n: Int, a: UnsafeMutablePointer<Float>, tau: UnsafeMutablePointer<Float>) -> Int32 {
        LAPACKE_sgeqrf(LAPACK_ROW_MAJOR, Int32(m), Int32(n), a, Int32(n), tau)
    }
    /// Overwrites `a` (`[m, n]` row-major, `m` ≥ `n` ≥ `k`) with the first `n` columns of `Q` (`LAPACKE_sorgqr`).
    ///
    /// `a` and `tau` hold the `k` reflectors left by ``geqrf(m:n:a:tau:)``.
    /// - Returns: LAPACK's `info`: 0 on success, < 0 for an illegal argument.
    public static func orgqr(m: Int, n: Int, k: Int, a: UnsafeMutablePointer<Float>, tau: UnsafePointer<Float>) -> Int32 {
        LAPACKE_sorgqr(LAPACK_ROW_MAJOR, Int32(m), Int32(n), Int32(k), a, Int32(n), tau)
    }

    /// Writes `y[i] = op(x[i])` for `count` contiguous elements on several threads.
    ///
    /// exp, tanh, sigmoid, geluTanh and its derivative run in the AVX2/FMA loops of CKernels when the CPU has them.
    public static func unaryKernel(_ op: UnaryOperation, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        Kernels.unary(op, x, y, count: count)
    }
    /// Writes `out = op(a, b)` over the `plan.count` output elements, reading `a` and `b` through the broadcast strides of `plan`.
    public static func binaryKernel(
        _ op: BinaryOperation, _ plan: BroadcastPlan, _ a: UnsafePointer<Float>,
        _ b: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>
    ) {
        Kernels.binary(op, plan, a, b, out)
    }
    /// Writes `out[i] = condition[i] != 0 ? a : b`, `condition` laid out like the output and `a`, `b` read through the strides of `plan`.
    public static func selectKernel(
        _ plan: BroadcastPlan, _ condition: UnsafePointer<Float>, _ a: UnsafePointer<Float>,
        _ b: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>
    ) {
        Kernels.select(plan, condition, a, b, out)
    }
    /// Reduces the middle axis of `x` viewed as `[outer, count, inner]` into `y` of `[outer, inner]`.
    ///
    /// An empty axis (`count` = 0) sums to 0 and has NaN as its maximum and minimum; a NaN wins a maximum or minimum.
    public static func reduceKernel(
        _ op: ReductionOperation, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
        outer: Int, count: Int, inner: Int
    ) {
        Kernels.reduce(op, x, y, outer: outer, count: count, inner: inner)
    }
    /// Writes `y[r] = log Σ_c exp(x[r, c])` for each of `rows` rows of a `[rows, columns]` matrix, shifted by the row maximum for stability.
    public static func logSumExpKernel(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows: Int, columns: Int) {
        Kernels.logSumExp(x, y, rows: rows, columns: columns)
    }
    /// Writes the softmax of each row of a `[rows, columns]` matrix into `y` (same layout), or the log-softmax `x − logsumexp(x)` when `log`.
    public static func softmaxKernel(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows: Int, columns: Int, log: Bool) {
        Kernels.softmax(x, y, rows: rows, columns: columns, log: log)
    }
    /// Writes `loss[r] = logsumexp(x[r]) − x[r, labels[r]]` for each row of `[rows, columns]` logits; labels are not range-checked here.
    public static func crossEntropyKernel(
        _ x: UnsafePointer<Float>, labels: UnsafePointer<Int>, _ loss: UnsafeMutablePointer<Float>,
        rows: Int, columns: Int
    ) {
        Kernels.crossEntropy(x, labels: labels, loss, rows: rows, columns: columns)
    }
    /// Writes `y[r] = (softmax(x[r]) − onehot(labels[r])) · scale[r]` for each row of `[rows, columns]` logits into `y` (same layout).
    public static func crossEntropyGradientKernel(
        _ x: UnsafePointer<Float>, labels: UnsafePointer<Int>, scale: UnsafePointer<Float>,
        _ y: UnsafeMutablePointer<Float>, rows: Int, columns: Int
    ) {
        Kernels.crossEntropyGradient(x, labels: labels, scale: scale, y, rows: rows, columns: columns)
    }
    /// Sets `count` elements to `value` (a byte clear for +0).
    public static func fillKernel(_ y: UnsafeMutablePointer<Float>, value: Float, count: Int) {
        Kernels.fill(y, value: value, count: count)
    }
    /// Fills `count` elements in order from `generator`: `a + (b − a)·U[0, 1)` when uniform, `a + b·N(0, 1)` (mean `a`, standard deviation `b`) when `normal`.
    public static func randomKernel(
        _ y: UnsafeMutablePointer<Float>, count: Int, normal: Bool, _ a: Float, _ b: Float,
        using generator: inout SeededGenerator
    ) {
        Kernels.random(y, count: count, normal: normal, a, b, using: &generator)
    }
    /// Fills `count` elements with `scale` with probability `keep` and 0 otherwise, one 53-bit draw from `generator` per element.
    public static func bernoulliKernel(
        _ y: UnsafeMutablePointer<Float>, count: Int, keep: Double, scale: Float,
        using generator: inout SeededGenerator
    ) {
        Kernels.bernoulli(y, count: count, keep: keep, scale: scale, using: &generator)
    }
    /// `y += alpha · x` over `count` contiguous elements (`cblas_saxpy`).
    public static func scaleAddKernel(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, alpha: Float, count: Int) {
        cblas_saxpy(blasint(count), alpha, x, 1, y, 1)
    }
}

extension Double: TensorScalar {
    /// `"F64"`, the name of Double tensors in messages and file formats.
    public static var typeName: String { "F64" }
    /// e^x from the C library.
    @inline(__always) public static func exp(_ x: Double) -> Double { Glibc.exp(x) }
    /// The natural logarithm from the C library.
    @inline(__always) public static func log(_ x: Double) -> Double { Glibc.log(x) }
    /// The hyperbolic tangent from the C library.
    @inline(__always) public static func tanh(_ x: Double) -> Double { Glibc.tanh(x) }
    /// `x` raised to `y` from the C library.
    @inline(__always) public static func pow(_ x: Double, _ y: Double) -> Double { Glibc.pow(x, y) }
    /// The error function from the C library.
    @inline(__always) public static func erf(_ x: Double) -> Double { Glibc.erf(x) }

    /// `c = alpha · op(a) · op(b) + beta · c` for row-major matrices (`cblas_dgemm`), `op` transposing when asked.
    ///
    /// - Parameters:
    ///   - transposeA: Whether `op(a)` is `aᵀ`; `a` is then stored `[k, m]`, else `[m, k]`.
    ///   - transposeB: Whether `op(b)` is `bᵀ`; `b` is then stored `[n, k]`, else `[k, n]`.
    ///   - m: Rows of `op(a)` and `c`.
    ///   - n: Columns of `op(b)` and `c`.
    ///   - k: The contracted dimension.
    ///   - lda: The row stride of `a` in elements (≥ its stored column count); likewise `ldb` and `ldc`.
    ///   - c: The `[m, n]` result, read when `beta` ≠ 0.
    public static func gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Double, a: UnsafePointer<Double>, lda: Int, b: UnsafePointer<Double>, ldb: Int,
        beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int
    ) {
        cblas_dgemm(
            CblasRowMajor, trans(transposeA), trans(transposeB), blasint(m), blasint(n), blasint(k),
            alpha, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
    }
    /// `y = alpha · op(a) · x + beta · y` for a row-major `[m, n]` matrix `a` (`cblas_dgemv`, unit vector strides).
    ///
    /// - Parameters:
    ///   - transpose: Whether `op(a)` is `aᵀ`: then `x` has `m` elements and `y` has `n`, else `x` has `n` and `y` has `m`.
    ///   - lda: The row stride of `a` in elements.
    public static func gemv(
        transpose: Bool, m: Int, n: Int, alpha: Double, a: UnsafePointer<Double>, lda: Int,
        x: UnsafePointer<Double>, beta: Double, y: UnsafeMutablePointer<Double>
    ) {
        cblas_dgemv(CblasRowMajor, trans(transpose), blasint(m), blasint(n), alpha, a, blasint(lda), x, 1, beta, y, 1)
    }
    /// The inner product of `count` contiguous elements of `x` and `y` (`cblas_ddot`).
    public static func dot(count: Int, _ x: UnsafePointer<Double>, _ y: UnsafePointer<Double>) -> Double {
        cblas_ddot(blasint(count), x, 1, y, 1)
    }
    /// Eigendecomposition of the symmetric row-major `[n, n]` matrix `a` by divide and conquer (`LAPACKE_dsyevd`, upper triangle read).
    ///
    /// On return `w` holds the `n` eigenvalues in ascending order and the columns of `a` the matching orthonormal eigenvectors.
    /// - Returns: LAPACK's `info`: 0 on success, < 0 for an illegal argument, > 0 when the algorithm did not converge.
    public static func syevd(n: Int, a: UnsafeMutablePointer<Double>, w: UnsafeMutablePointer<Double>) -> Int32 {
        LAPACKE_dsyevd(LAPACK_ROW_MAJOR, CChar(UInt8(ascii: "V")), CChar(UInt8(ascii: "U")), Int32(n), a, Int32(n), w)
    }
    /// Cholesky factorisation of the symmetric positive definite row-major `[n, n]` matrix `a` in place (`LAPACKE_dpotrf`).
    ///
    /// The lower triangle of `a` is overwritten with `L`, `a = L·Lᵀ`; the strict upper triangle is left as it was.
    /// - Returns: LAPACK's `info`: 0 on success, `i` > 0 when the leading minor of order `i` is not positive.
    public static func potrf(n: Int, a: UnsafeMutablePointer<Double>) -> Int32 {
        LAPACKE_dpotrf(LAPACK_ROW_MAJOR, CChar(UInt8(ascii: "L")), Int32(n), a, Int32(n))
    }
    /// Solves `a·x = b` in place in `b` given the lower Cholesky factor of ``potrf(n:a:)`` (`LAPACKE_dpotrs_work`, column-major upper).
    ///
    /// - Returns: LAPACK's `info`: 0 on success, < 0 for an illegal argument.
    public static func potrs(n: Int, rightHandSides: Int, a: UnsafePointer<Double>, b: UnsafeMutablePointer<Double>) -> Int32 {
        LAPACKE_dpotrs_work(
            LAPACK_COL_MAJOR, CChar(UInt8(ascii: "U")), Int32(n), Int32(rightHandSides),
            a, Int32(n), b, Int32(n))
    }
    /// Thin singular value decomposition `a = u · diag(s) · vt` of a row-major `[m, n]` matrix by divide and conquer (`LAPACKE_dgesdd`, job `S`).
    ///
    /// `a` is destroyed. With `k = min(m, n)`: `s` receives the `k` singular values in descending order, `u` the `[m, k]` left vectors and `vt` the `[k, n]`
    /// right vectors transposed, all row-major.
    /// - Returns: LAPACK's `info`: 0 on success, > 0 when the algorithm did not converge.
    public static func gesdd(
        m: Int, n: Int, a: UnsafeMutablePointer<Double>, s: UnsafeMutablePointer<Double>,
        u: UnsafeMutablePointer<Double>, vt: UnsafeMutablePointer<Double>
    ) -> Int32 {
        let k = Swift.min(m, n)
        return LAPACKE_dgesdd(
            LAPACK_ROW_MAJOR, CChar(UInt8(ascii: "S")), Int32(m), Int32(n), a, Int32(n),
            s, u, Int32(k), vt, Int32(n))
    }
    /// QR factorisation of a row-major `[m, n]` matrix in place (`LAPACKE_dgeqrf`).
    ///
    /// `R` is left in the upper triangle of `a`, the Householder reflectors below it and their `min(m, n)` scalars in `tau`;
    /// ``orgqr(m:n:k:a:tau:)`` forms `Q`.
    /// - Returns: LAPACK's `info`: 0 on success, < 0 for an illegal argument.
    public static func geqrf(m: Int, n: Int, a: UnsafeMutablePointer<Double>, tau: UnsafeMutablePointer<Double>) -> Int32 {
        LAPACKE_dgeqrf(LAPACK_ROW_MAJOR, Int32(m), Int32(n), a, Int32(n), tau)
    }
    /// Overwrites `a` (`[m, n]` row-major, `m` ≥ `n` ≥ `k`) with the first `n` columns of `Q` (`LAPACKE_dorgqr`).
    ///
    /// `a` and `tau` hold the `k` reflectors left by ``geqrf(m:n:a:tau:)``.
    /// - Returns: LAPACK's `info`: 0 on success, < 0 for an illegal argument.
    public static func orgqr(m: Int, n: Int, k: Int, a: UnsafeMutablePointer<Double>, tau: UnsafePointer<Double>) -> Int32 {
        LAPACKE_dorgqr(LAPACK_ROW_MAJOR, Int32(m), Int32(n), Int32(k), a, Int32(n), tau)
    }

    /// Writes `y[i] = op(x[i])` for `count` contiguous elements on several threads.
    public static func unaryKernel(_ op: UnaryOperation, _ x: UnsafePointer<Double>, _ y: UnsafeMutablePointer<Double>, count: Int) {
        Kernels.unary(op, x, y, count: count)
    }
    /// Writes `out = op(a, b)` over the `plan.count` output elements, reading `a` and `b` through the broadcast strides of `plan`.
    public static func binaryKernel(
        _ op: BinaryOperation, _ plan: BroadcastPlan, _ a: UnsafePointer<Double>,
        _ b: UnsafePointer<Double>, _ out: UnsafeMutablePointer<Double>
    ) {
        Kernels.binary(op, plan, a, b, out)
    }
    /// Writes `out[i] = condition[i] != 0 ? a : b`, `condition` laid out like the output and `a`, `b` read through the strides of `plan`.
    public static func selectKernel(
        _ plan: BroadcastPlan, _ condition: UnsafePointer<Double>, _ a: UnsafePointer<Double>,
        _ b: UnsafePointer<Double>, _ out: UnsafeMutablePointer<Double>
    ) {
        Kernels.select(plan, condition, a, b, out)
    }
    /// Reduces the middle axis of `x` viewed as `[outer, count, inner]` into `y` of `[outer, inner]`.
    ///
    /// An empty axis (`count` = 0) sums to 0 and has NaN as its maximum and minimum; a NaN wins a maximum or minimum.
    public static func reduceKernel(
        _ op: ReductionOperation, _ x: UnsafePointer<Double>, _ y: UnsafeMutablePointer<Double>,
        outer: Int, count: Int, inner: Int
    ) {
        Kernels.reduce(op, x, y, outer: outer, count: count, inner: inner)
    }
    /// Writes `y[r] = log Σ_c exp(x[r, c])` for each of `rows` rows of a `[rows, columns]` matrix, shifted by the row maximum for stability.
    public static func logSumExpKernel(_ x: UnsafePointer<Double>, _ y: UnsafeMutablePointer<Double>, rows: Int, columns: Int) {
        Kernels.logSumExp(x, y, rows: rows, columns: columns)
    }
    /// Writes the softmax of each row of a `[rows, columns]` matrix into `y` (same layout), or the log-softmax `x − logsumexp(x)` when `log`.
    public static func softmaxKernel(_ x: UnsafePointer<Double>, _ y: UnsafeMutablePointer<Double>, rows: Int, columns: Int, log: Bool) {
        Kernels.softmax(x, y, rows: rows, columns: columns, log: log)
    }
    /// Writes `loss[r] = logsumexp(x[r]) − x[r, labels[r]]` for each row of `[rows, columns]` logits; labels are not range-checked here.
    public static func crossEntropyKernel(
        _ x: UnsafePointer<Double>, labels: UnsafePointer<Int>, _ loss: UnsafeMutablePointer<Double>,
        rows: Int, columns: Int
    ) {
        Kernels.crossEntropy(x, labels: labels, loss, rows: rows, columns: columns)
    }
    /// Writes `y[r] = (softmax(x[r]) − onehot(labels[r])) · scale[r]` for each row of `[rows, columns]` logits into `y` (same layout).
    public static func crossEntropyGradientKernel(
        _ x: UnsafePointer<Double>, labels: UnsafePointer<Int>, scale: UnsafePointer<Double>,
        _ y: UnsafeMutablePointer<Double>, rows: Int, columns: Int
    ) {
        Kernels.crossEntropyGradient(x, labels: labels, scale: scale, y, rows: rows, columns: columns)
    }
    /// Sets `count` elements to `value` (a byte clear for +0).
    public static func fillKernel(_ y: UnsafeMutablePointer<Double>, value: Double, count: Int) {
        Kernels.fill(y, value: value, count: count)
    }
    /// Fills `count` elements in order from `generator`: `a + (b − a)·U[0, 1)` when uniform, `a + b·N(0, 1)` (mean `a`, standard deviation `b`) when `normal`.
    public static func randomKernel(
        _ y: UnsafeMutablePointer<Double>, count: Int, normal: Bool, _ a: Double, _ b: Double,
        using generator: inout SeededGenerator
    ) {
        Kernels.random(y, count: count, normal: normal, a, b, using: &generator)
    }
    /// Fills `count` elements with `scale` with probability `keep` and 0 otherwise, one 53-bit draw from `generator` per element.
    public static func bernoulliKernel(
        _ y: UnsafeMutablePointer<Double>, count: Int, keep: Double, scale: Double,
        using generator: inout SeededGenerator
    ) {
        Kernels.bernoulli(y, count: count, keep: keep, scale: scale, using: &generator)
    }
    /// `y += alpha · x` over `count` contiguous elements (`cblas_daxpy`).
    public static func scaleAddKernel(_ x: UnsafePointer<Double>, _ y: UnsafeMutablePointer<Double>, alpha: Double, count: Int) {
        cblas_daxpy(blasint(count), alpha, x, 1, y, 1)
    }
}
