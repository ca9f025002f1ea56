import CKernels

/// The loops behind the elementwise and reduction operations.
///
/// Every function here is generic but only ever called from the `Float` and `Double` conformances
/// of ``TensorScalar``, where whole-module optimisation specialises it: the closures passed to the
/// `@inline(__always)` loop helpers become straight-line code that the compiler vectorises.
enum Kernels {
    /// Elements per thread below which splitting work costs more than it saves.
    static let grain = 1 << 15

    /// A pointer to T that is known to be a pointer to Float (after a `T.self == Float.self` check).
    @inline(__always) static func floats<T>(_ p: UnsafePointer<T>) -> UnsafePointer<Float> {
        UnsafeRawPointer(p).assumingMemoryBound(to: Float.self)
    }
    @inline(__always) static func floats<T>(_ p: UnsafeMutablePointer<T>) -> UnsafeMutablePointer<Float> {
        UnsafeMutableRawPointer(p).assumingMemoryBound(to: Float.self)
    }

    /// The single-precision kernels of the CKernels target, which run with AVX2 and FMA when the
    /// CPU has them (the Swift code is compiled for baseline x86-64).
    enum FloatKernels {
        static func unary(_ op: UnaryOperation) -> ((UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void)? {
            switch op {
            case .exp: return { ck_exp_f32($0, $1, $2) }
            case .tanh: return { ck_tanh_f32($0, $1, $2) }
            case .sigmoid: return { ck_sigmoid_f32($0, $1, $2) }
            case .geluTanh: return { ck_gelu_tanh_f32($0, $1, $2) }
            case .geluTanhDerivative: return { ck_gelu_tanh_derivative_f32($0, $1, $2) }
            default: return nil
            }
        }
    }

    // MARK: Unary

    static func unary<T: TensorScalar>(_ op: UnaryOperation, _ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, count: Int) {
        let transcendental: Bool
        switch op {
        case .negate, .sqrt, .abs, .reciprocal, .square, .relu, .sign, .step, .isFinite: transcendental = false
        default: transcendental = true
        }
        let grain = transcendental ? grain / 8 : grain
        Parallelism.forEachChunk(count: count, minimumChunk: grain) { range in
            let x = x + range.lowerBound, y = y + range.lowerBound, n = range.count
            if T.self == Float.self, let kernel = FloatKernels.unary(op) {
                kernel(Self.floats(x), Self.floats(y), n)
                return
            }
            switch op {
            case .negate: map(x, y, n) { -$0 }
            case .exp: do { var i = 0; while i < n { y[i] = Fn<T>.exp(x[i]); i &+= 1 } }
            case .log: map(x, y, n) { T.log($0) }
            case .tanh: do { var i = 0; while i < n { y[i] = Fn<T>.tanh(x[i]); i &+= 1 } }
            case .sqrt: map(x, y, n) { $0.squareRoot() }
            case .abs: map(x, y, n) { Swift.abs($0) }
            case .reciprocal: map(x, y, n) { 1 / $0 }
            case .square: map(x, y, n) { $0 * $0 }
            case .relu: map(x, y, n) { $0 > 0 ? $0 : 0 }
            case .sigmoid: do { var i = 0; while i < n { y[i] = Fn<T>.sigmoid(x[i]); i &+= 1 } }
            case .sign: map(x, y, n) { $0 > 0 ? 1 : ($0 < 0 ? -1 : 0) }
            case .step: map(x, y, n) { $0 > 0 ? 1 : 0 }
            case .isFinite: map(x, y, n) { $0.isFinite ? 1 : 0 }
            case .erf: map(x, y, n) { T.erf($0) }
            case .gelu: map(x, y, n) { v in v * Gelu<T>.cdf(v) }
            case .geluTanh: do { var i = 0; while i < n { y[i] = Fn<T>.geluTanh(x[i]); i &+= 1 } }
            case .geluDerivative: map(x, y, n) { v in Gelu<T>.cdf(v) + v * Gelu<T>.pdf(v) }
            case .geluTanhDerivative: do { var i = 0; while i < n { y[i] = Fn<T>.geluTanhDerivative(x[i]); i &+= 1 } }
            case .geluSecondDerivative: map(x, y, n) { v in Gelu<T>.pdf(v) * (2 - v * v) }
            case .geluTanhSecondDerivative: do { var i = 0; while i < n { y[i] = Fn<T>.geluTanhSecondDerivative(x[i]); i &+= 1 } }
            }
        }
    }

    /// Elementwise functions as `@inline(__always)` functions rather than closures: a closure
    /// passed to a loop helper may stay an out-of-line call per element, which blocks
    /// vectorisation; these are forced inline into explicit loops.
    enum Fn<T: TensorScalar> {
        @inline(__always) static func exp(_ v: T) -> T { T.exp(v) }
        @inline(__always) static func tanh(_ v: T) -> T { T.tanh(v) }
        /// 1/(1 + e^{−x}) for x ≥ 0 and e^x/(1 + e^x) below: e^{−|x|} never overflows.
        @inline(__always) static func sigmoid(_ v: T) -> T {
            let e = T.exp(-Swift.abs(v))
            let s = 1 / (1 + e)
            return v >= 0 ? s : e * s
        }
        @inline(__always) static func geluTanh(_ v: T) -> T {
            let t = T.tanh(Gelu<T>.tanhScale * (v + Gelu<T>.cubic * v * v * v))
            return Gelu<T>.half * v * (1 + t)
        }
        @inline(__always) static func geluTanhDerivative(_ v: T) -> T {
            let u = Gelu<T>.tanhScale * (v + Gelu<T>.cubic * v * v * v)
            let t = T.tanh(u)
            let du = Gelu<T>.tanhScale * (1 + 3 * Gelu<T>.cubic * v * v)
            return Gelu<T>.half * (1 + t) + Gelu<T>.half * v * (1 - t * t) * du
        }
        @inline(__always) static func geluTanhSecondDerivative(_ v: T) -> T {
            // With u = s(x + c x³), t = tanh u, u' = s(1 + 3c x²), u'' = 6 s c x:
            // f'' = (1 − t²)·u' + ½x·(−2t(1 − t²)u'² + (1 − t²)u'').
            let u = Gelu<T>.tanhScale * (v + Gelu<T>.cubic * v * v * v)
            let t = T.tanh(u), s = 1 - t * t
            let du = Gelu<T>.tanhScale * (1 + 3 * Gelu<T>.cubic * v * v)
            let ddu = 6 * Gelu<T>.tanhScale * Gelu<T>.cubic * v
            return s * du + Gelu<T>.half * v * (-2 * t * s * du * du + s * ddu)
        }
    }

    /// Constants of the GELU family.
    enum Gelu<T: TensorScalar> {
        static var half: T { 0.5 }
        static var inverseSquareRoot2: T { T(0.70710678118654752440) }
        static var inverseSquareRoot2Pi: T { T(0.39894228040143267794) }
        /// √(2/π)
        static var tanhScale: T { T(0.79788456080286535588) }
        static var cubic: T { T(0.044715) }
        @inline(__always) static func cdf(_ x: T) -> T { half * (1 + T.erf(x * inverseSquareRoot2)) }
        @inline(__always) static func pdf(_ x: T) -> T { inverseSquareRoot2Pi * T.exp(-half * x * x) }
    }

    @inline(__always)
    private static func map<T>(_ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, _ n: Int, _ f: (T) -> T) {
        var i = 0
        while i < n { y[i] = f(x[i]); i &+= 1 }
    }

    // MARK: Binary with broadcasting

    static func binary<T: TensorScalar>(
        _ op: BinaryOperation, _ plan: BroadcastPlan,
        _ a: UnsafePointer<T>, _ b: UnsafePointer<T>, _ out: UnsafeMutablePointer<T>
    ) {
        Parallelism.forEachChunk(count: plan.count, minimumChunk: grain) { range in
            switch op {
            case .add: zip(plan, range, a, b, out) { $0 + $1 }
            case .subtract: zip(plan, range, a, b, out) { $0 - $1 }
            case .multiply: zip(plan, range, a, b, out) { $0 * $1 }
            case .divide: zip(plan, range, a, b, out) { $0 / $1 }
            case .power: zip(plan, range, a, b, out) { T.pow($0, $1) }
            case .maximum: zip(plan, range, a, b, out) { $0.isNaN || $0 >= $1 ? $0 : $1 }
            case .minimum: zip(plan, range, a, b, out) { $0.isNaN || $0 <= $1 ? $0 : $1 }
            case .equal: zip(plan, range, a, b, out) { $0 == $1 ? 1 : 0 }
            case .notEqual: zip(plan, range, a, b, out) { $0 != $1 ? 1 : 0 }
            case .less: zip(plan, range, a, b, out) { $0 < $1 ? 1 : 0 }
            case .lessEqual: zip(plan, range, a, b, out) { $0 <= $1 ? 1 : 0 }
            case .greater: zip(plan, range, a, b, out) { $0 > $1 ? 1 : 0 }
            case .greaterEqual: zip(plan, range, a, b, out) { $0 >= $1 ? 1 : 0 }
            }
        }
    }

    static func select<T: TensorScalar>(
        _ plan: BroadcastPlan, _ condition: UnsafePointer<T>,
        _ a: UnsafePointer<T>, _ b: UnsafePointer<T>, _ out: UnsafeMutablePointer<T>
    ) {
        // `condition` has the output's shape; `a` and `b` are broadcast as described by `plan`.
        Parallelism.forEachChunk(count: plan.count, minimumChunk: grain) { range in
            var index = range.lowerBound
            forEachRun(plan, range) { aOffset, bOffset, run in
                let sa = plan.aStrides.last!, sb = plan.bStrides.last!
                for i in 0..<run {
                    out[index + i] = condition[index + i] != 0 ? a[aOffset + i * sa] : b[bOffset + i * sb]
                }
                index += run
            }
        }
    }

    /// Calls `body(aOffset, bOffset, runLength)` for each run of consecutive output elements in
    /// `range` along which both operands advance by their innermost stride.
    @inline(__always)
    private static func forEachRun(_ plan: BroadcastPlan, _ range: Range<Int>, _ body: (Int, Int, Int) -> Void) {
        let shape = plan.shape, rank = shape.count, inner = shape[rank - 1]
        var digits = [Int](repeating: 0, count: rank)
        var rest = range.lowerBound
        for d in stride(from: rank - 1, through: 0, by: -1) {
            digits[d] = rest % shape[d]
            rest /= shape[d]
        }
        var index = range.lowerBound
        while index < range.upperBound {
            var aOffset = 0, bOffset = 0
            for d in 0..<rank {
                aOffset &+= digits[d] &* plan.aStrides[d]
                bOffset &+= digits[d] &* plan.bStrides[d]
            }
            let run = Swift.min(inner - digits[rank - 1], range.upperBound - index)
            body(aOffset, bOffset, run)
            index += run
            digits[rank - 1] += run
            var d = rank - 1
            while d > 0 && digits[d] == shape[d] {
                digits[d] = 0
                digits[d - 1] += 1
                d -= 1
            }
        }
    }

    @inline(__always)
    private static func zip<T>(
        _ plan: BroadcastPlan, _ range: Range<Int>, _ a: UnsafePointer<T>, _ b: UnsafePointer<T>,
        _ out: UnsafeMutablePointer<T>, _ f: (T, T) -> T
    ) {
        let sa = plan.aStrides.last!, sb = plan.bStrides.last!
        var o = out + range.lowerBound
        forEachRun(plan, range) { aOffset, bOffset, n in
            let pa = a + aOffset, pb = b + bOffset
            var i = 0
            if sa == 1 && sb == 1 {
                while i < n { o[i] = f(pa[i], pb[i]); i &+= 1 }
            } else if sa == 1 && sb == 0 {
                let vb = pb[0]
                while i < n { o[i] = f(pa[i], vb); i &+= 1 }
            } else if sa == 0 && sb == 1 {
                let va = pa[0]
                while i < n { o[i] = f(va, pb[i]); i &+= 1 }
            } else {
                while i < n { o[i] = f(pa[i &* sa], pb[i &* sb]); i &+= 1 }
            }
            o += n
        }
    }

    // MARK: Reductions

    /// `y[o, i] = op over c of x[o, c, i]` for x of shape [outer, count, inner].
    static func reduce<T: TensorScalar>(
        _ op: ReductionOperation, _ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>,
        outer: Int, count: Int, inner: Int
    ) {
        let work = outer * count * inner
        let rowsPerChunk = Swift.max(1, grain / Swift.max(1, count * inner))
        Parallelism.forEachChunk(count: outer, minimumChunk: work < grain ? outer : rowsPerChunk) { rows in
            for o in rows {
                let src = x + o * count * inner, dst = y + o * inner
                if inner == 1 {
                    switch op {
                    case .sum: dst[0] = sumContiguous(src, count)
                    case .max: dst[0] = fold(src, count) { $0.isNaN || $0 >= $1 ? $0 : $1 }
                    case .min: dst[0] = fold(src, count) { $0.isNaN || $0 <= $1 ? $0 : $1 }
                    }
                } else if count == 0 {
                    dst.update(repeating: op == .sum ? 0 : .nan, count: inner)
                } else {
                    dst.update(from: src, count: inner)
                    for c in 1..<Swift.max(1, count) {
                        let row = src + c * inner
                        switch op {
                        case .sum: accumulate(dst, row, inner) { $0 + $1 }
                        case .max: accumulate(dst, row, inner) { $0.isNaN || $0 >= $1 ? $0 : $1 }
                        case .min: accumulate(dst, row, inner) { $0.isNaN || $0 <= $1 ? $0 : $1 }
                        }
                    }
                }
            }
        }
    }

    @inline(__always)
    private static func accumulate<T>(_ dst: UnsafeMutablePointer<T>, _ src: UnsafePointer<T>, _ n: Int, _ f: (T, T) -> T) {
        var i = 0
        while i < n { dst[i] = f(dst[i], src[i]); i &+= 1 }
    }

    @inline(__always)
    private static func fold<T: TensorScalar>(_ x: UnsafePointer<T>, _ n: Int, _ f: (T, T) -> T) -> T {
        if n == 0 { return .nan }
        var r = x[0]
        var i = 1
        while i < n { r = f(r, x[i]); i &+= 1 }
        return r
    }

    /// A sum with eight independent accumulators: vectorisable, and more accurate than one.
    @inline(__always)
    static func sumContiguous<T: TensorScalar>(_ x: UnsafePointer<T>, _ n: Int) -> T {
        var s0: T = 0, s1: T = 0, s2: T = 0, s3: T = 0, s4: T = 0, s5: T = 0, s6: T = 0, s7: T = 0
        var i = 0
        while i + 8 <= n {
            s0 += x[i]; s1 += x[i + 1]; s2 += x[i + 2]; s3 += x[i + 3]
            s4 += x[i + 4]; s5 += x[i + 5]; s6 += x[i + 6]; s7 += x[i + 7]
            i &+= 8
        }
        while i < n { s0 += x[i]; i &+= 1 }
        return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
    }

    // MARK: Fills

    static func fill<T: TensorScalar>(_ y: UnsafeMutablePointer<T>, value: T, count: Int) {
        if value == 0 && value.sign == .plus {
            UnsafeMutableRawPointer(y).initializeMemory(as: UInt8.self, repeating: 0, count: count * MemoryLayout<T>.stride)
        } else {
            var i = 0
            while i < count { y[i] = value; i &+= 1 }
        }
    }

    static func random<T: TensorScalar>(
        _ y: UnsafeMutablePointer<T>, count: Int, normal: Bool, _ a: T, _ b: T,
        using generator: inout SeededGenerator
    ) {
        if normal {
            for i in 0..<count { y[i] = a + b * T(generator.nextNormal()) }
        } else {
            for i in 0..<count { y[i] = a + (b - a) * generator.nextUniform(T.self) }
        }
    }

    static func bernoulli<T: TensorScalar>(
        _ y: UnsafeMutablePointer<T>, count: Int, keep: Double, scale: T,
        using generator: inout SeededGenerator
    ) {
        // Compare 53-bit integers rather than converting each draw to a float.
        let threshold = UInt64(keep * 9_007_199_254_740_992)
        for i in 0..<count { y[i] = (generator.next() >> 11) < threshold ? scale : 0 }
    }

    // MARK: Row-wise log-sum-exp and softmax over the last axis

    static func logSumExp<T: TensorScalar>(_ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, rows: Int, columns: Int) {
        Parallelism.forEachChunk(count: rows, minimumChunk: Swift.max(1, grain / 8 / Swift.max(1, columns))) { range in
            if T.self == Float.self {
                ck_log_sum_exp_f32(Self.floats(x + range.lowerBound * columns), Self.floats(y + range.lowerBound), range.count, columns)
                return
            }
            // Exponentials go to a scratch row in a vectorisable loop, then an eight-way sum.
            let scratch = UnsafeMutablePointer<T>.allocate(capacity: Swift.max(1, columns))
            defer { scratch.deallocate() }
            for r in range {
                let row = x + r * columns
                let m = fold(row, columns) { $0.isNaN || $0 >= $1 ? $0 : $1 }
                if !m.isFinite { y[r] = m == -.infinity ? -.infinity : m; continue }
                var c = 0
                while c < columns { scratch[c] = Fn<T>.exp(row[c] - m); c &+= 1 }
                y[r] = m + T.log(sumContiguous(scratch, columns))
            }
        }
    }

    static func crossEntropy<T: TensorScalar>(
        _ x: UnsafePointer<T>, labels: UnsafePointer<Int>, _ loss: UnsafeMutablePointer<T>,
        rows: Int, columns: Int
    ) {
        logSumExp(x, loss, rows: rows, columns: columns)
        for r in 0..<rows { loss[r] -= x[r * columns + labels[r]] }
    }

    static func crossEntropyGradient<T: TensorScalar>(
        _ x: UnsafePointer<T>, labels: UnsafePointer<Int>, scale: UnsafePointer<T>,
        _ y: UnsafeMutablePointer<T>, rows: Int, columns: Int
    ) {
        Parallelism.forEachChunk(count: rows, minimumChunk: Swift.max(1, grain / 8 / Swift.max(1, columns))) { range in
            if T.self == Float.self {
                let offset = range.lowerBound
                ck_cross_entropy_gradient_f32(
                    Self.floats(x + offset * columns), labels + offset, Self.floats(scale + offset),
                    Self.floats(y + offset * columns), range.count, columns)
                return
            }
            for r in range {
                let row = x + r * columns, out = y + r * columns
                let m = fold(row, columns) { $0.isNaN || $0 >= $1 ? $0 : $1 }
                var c = 0
                while c < columns { out[c] = Fn<T>.exp(row[c] - m); c &+= 1 }
                let factor = scale[r] / sumContiguous(out, columns)
                c = 0
                while c < columns { out[c] *= factor; c &+= 1 }
                out[labels[r]] -= scale[r]
            }
        }
    }

    static func softmax<T: TensorScalar>(_ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, rows: Int, columns: Int, log: Bool) {
        Parallelism.forEachChunk(count: rows, minimumChunk: Swift.max(1, grain / 8 / Swift.max(1, columns))) { range in
            if T.self == Float.self {
                let offset = range.lowerBound * columns
                ck_softmax_f32(Self.floats(x + offset), Self.floats(y + offset), range.count, columns, log ? 1 : 0)
                return
            }
            for r in range {
                let row = x + r * columns, out = y + r * columns
                let m = fold(row, columns) { $0.isNaN || $0 >= $1 ? $0 : $1 }
                for c in 0..<columns { out[c] = T.exp(row[c] - m) }
                let s = sumContiguous(out, columns)
                if log {
                    let shift = m + T.log(s)
                    for c in 0..<columns { out[c] = row[c] - shift }
                } else {
                    let inv = 1 / s
                    for c in 0..<columns { out[c] *= inv }
                }
            }
        }
    }
}
