/// A dense, contiguous, row-major array of `Float` or `Double` with value semantics.
///
/// Copies share storage until one of them is mutated (copy-on-write). Shapes are spelled out as
/// arrays of dimension sizes; a scalar has shape `[]`. Every operation that can be handed to
/// BLAS or LAPACK is, and the remaining loops run in the kernels behind ``TensorScalar``.
///
/// ```swift
/// let x = Tensor<Float>(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
/// let y = (x * 2 + 1).sum(alongAxes: [1])      // [2]: [15, 33]
/// ```
public struct Tensor<Scalar: TensorScalar> {
    /// The size of each dimension, outermost first; `[]` for a scalar. The product is ``scalarCount``.
    public private(set) var shape: [Int]
    @usableFromInline var storage: TensorStorage<Scalar>

    /// Wraps storage whose element count matches `shape`.
    init(shape: [Int], storage: TensorStorage<Scalar>) {
        precondition(
            shape.reduce(1, *) == storage.count,
            "shape \(shape) needs \(shape.reduce(1, *)) elements, storage has \(storage.count)")
        self.shape = shape
        self.storage = storage
    }

    /// A tensor whose elements are not yet written; `body` must initialise all of them.
    public init(shape: [Int], unsafeUninitialized body: (UnsafeMutablePointer<Scalar>) throws -> Void) rethrows {
        Tensor.checkShape(shape)
        let storage = TensorStorage<Scalar>(uninitializedCount: shape.reduce(1, *))
        try body(storage.pointer)
        self.init(shape: shape, storage: storage)
    }

    /// A tensor of the given shape from its elements in row-major order.
    public init(shape: [Int], scalars: [Scalar]) {
        Tensor.checkShape(shape)
        precondition(
            shape.reduce(1, *) == scalars.count,
            "shape \(shape) needs \(shape.reduce(1, *)) scalars, got \(scalars.count)")
        let storage = TensorStorage<Scalar>(uninitializedCount: scalars.count)
        scalars.withUnsafeBufferPointer { storage.pointer.initialize(from: $0.baseAddress!, count: scalars.count) }
        self.init(shape: shape, storage: storage)
    }

    /// A rank-1 tensor.
    public init(_ scalars: [Scalar]) { self.init(shape: [scalars.count], scalars: scalars) }

    /// A rank-2 tensor from rows of equal length.
    public init(rows: [[Scalar]]) {
        let columns = rows.first?.count ?? 0
        precondition(rows.allSatisfy { $0.count == columns }, "rows have different lengths: \(rows.map(\.count))")
        self.init(shape: [rows.count, columns], scalars: rows.flatMap { $0 })
    }

    /// A scalar (rank-0) tensor.
    public init(_ value: Scalar) { self.init(shape: [], scalars: [value]) }

    /// Every element equal to `value`.
    public init(repeating value: Scalar, shape: [Int]) {
        Tensor.checkShape(shape)
        self.init(shape: shape, storage: TensorStorage(repeating: value, count: shape.reduce(1, *)))
    }

    /// Converts from another scalar type (a shared storage when the types are the same).
    public init<Other: TensorScalar>(_ other: Tensor<Other>) {
        if let same = other as? Tensor<Scalar> { self = same; return }
        self.init(shape: other.shape) { out in
            let n = other.scalarCount
            let src = UnsafeRawPointer(other.storage.pointer)
            // Concrete loops: this initialiser is called from unspecialised generic code.
            if Other.self == Float.self && Scalar.self == Double.self {
                Conversion.widen(src.assumingMemoryBound(to: Float.self), UnsafeMutableRawPointer(out).assumingMemoryBound(to: Double.self), n)
            } else if Other.self == Double.self && Scalar.self == Float.self {
                Conversion.narrow(src.assumingMemoryBound(to: Double.self), UnsafeMutableRawPointer(out).assumingMemoryBound(to: Float.self), n)
            } else {
                let typed = other.storage.pointer
                for i in 0..<n { out[i] = Scalar(typed[i]) }
            }
        }
    }

    static func checkShape(_ shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "shape \(shape) has a negative dimension")
    }

    // MARK: Properties

    /// The number of dimensions, `shape.count` (0 for a scalar).
    public var rank: Int { shape.count }
    /// The number of elements, the product of ``shape`` (1 for a scalar, 0 when a dimension is 0).
    public var scalarCount: Int { storage.count }
    /// The elements in row-major order.
    public var scalars: [Scalar] { Array(UnsafeBufferPointer(start: storage.pointer, count: storage.count)) }
    /// The single element of a tensor with one element.
    public var scalar: Scalar {
        precondition(scalarCount == 1, "scalar needs exactly one element, shape is \(shape)")
        return storage.pointer[0]
    }

    /// Reads the elements without copying.
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Scalar>) throws -> R) rethrows -> R {
        try withExtendedLifetime(storage) { try body(UnsafeBufferPointer(start: storage.pointer, count: storage.count)) }
    }

    /// Writes the elements in place, copying the storage first if another tensor shares it.
    public mutating func withUnsafeMutableBufferPointer<R>(_ body: (UnsafeMutableBufferPointer<Scalar>) throws -> R) rethrows -> R {
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
        return try body(UnsafeMutableBufferPointer(start: storage.pointer, count: storage.count))
    }

    /// The element at a full multi-index.
    public subscript(index: Int...) -> Scalar {
        get { storage.pointer[flatIndex(index)] }
        set {
            let i = flatIndex(index)
            withUnsafeMutableBufferPointer { $0[i] = newValue }
        }
    }

    func flatIndex(_ index: [Int]) -> Int {
        precondition(index.count == rank, "index \(index) has \(index.count) components, tensor has shape \(shape)")
        var flat = 0
        for (i, d) in zip(index, shape) {
            precondition(i >= 0 && i < d, "index \(index) is out of range for shape \(shape)")
            flat = flat * d + i
        }
        return flat
    }

    /// Row-major strides in elements.
    public static func strides(of shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var s = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) { strides[i] = s; s *= shape[i] }
        return strides
    }

    /// True when every element is finite (no NaN, no infinity).
    public var isFinite: Bool {
        withUnsafeBufferPointer { buffer in buffer.allSatisfy { $0.isFinite } }
    }
}

extension Tensor: @unchecked Sendable {}

extension Tensor: Equatable {
    /// Equal shapes and equal elements.
    public static func == (lhs: Tensor, rhs: Tensor) -> Bool {
        lhs.shape == rhs.shape && (lhs.storage === rhs.storage || lhs.scalars == rhs.scalars)
    }
}

extension Tensor: CustomStringConvertible {
    /// The elements as nested bracketed lists, one level per dimension; a tensor of more than 1000 elements prints only its scalar type and shape.
    public var description: String {
        func render(_ dim: Int, _ offset: Int) -> String {
            if dim == rank { return "\(storage.pointer[offset])" }
            let stride = shape[(dim + 1)...].reduce(1, *)
            let items = (0..<shape[dim]).map { render(dim + 1, offset + $0 * stride) }
            return "[" + items.joined(separator: ", ") + "]"
        }
        if scalarCount > 1000 { return "Tensor<\(Scalar.self)>(shape: \(shape))" }
        return render(0, 0)
    }
}

enum Conversion {
    static func widen(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Double>, _ n: Int) {
        for i in 0..<n { y[i] = Double(x[i]) }
    }
    static func narrow(_ x: UnsafePointer<Double>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0..<n { y[i] = Float(x[i]) }
    }
}
