/// The heap block behind a ``Tensor``: `count` elements, 64-byte aligned for SIMD and BLAS.
///
/// Tensors share a storage until one of them is mutated (copy-on-write, see ``Tensor/withUnsafeMutableBufferPointer(_:)``).
public final class TensorStorage<Scalar: TensorScalar> {
    public let count: Int
    public let pointer: UnsafeMutablePointer<Scalar>

    /// Allocates uninitialised storage; callers must write every element before reading.
    init(uninitializedCount count: Int) {
        self.count = count
        let raw = UnsafeMutableRawPointer.allocate(
            byteCount: Swift.max(1, count) * MemoryLayout<Scalar>.stride, alignment: 64)
        pointer = raw.bindMemory(to: Scalar.self, capacity: Swift.max(1, count))
    }

    convenience init(repeating value: Scalar, count: Int) {
        self.init(uninitializedCount: count)
        pointer.initialize(repeating: value, count: count)
    }

    func copy() -> TensorStorage {
        let result = TensorStorage(uninitializedCount: count)
        result.pointer.initialize(from: pointer, count: count)
        return result
    }

    deinit {
        UnsafeMutableRawPointer(pointer).deallocate()
    }
}
