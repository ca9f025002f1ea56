/// The heap block behind a ``Tensor``: `count` elements, 64-byte aligned for SIMD and BLAS.
///
/// Tensors share a storage until one of them is mutated (copy-on-write, see ``Tensor/withUnsafeMutableBufferPointer(_:)``).
public final class TensorStorage<Scalar: TensorScalar> {
    public let count: Int
    public let pointer: UnsafeMutablePointer<Scalar>

    /// Allocates uninitialised storage; callers must write every element before reading.
    init(uninitializedCount count: Int) {
        MemoryConfiguration.prepare()
        self.count = count
        let raw = UnsafeMutableRawPointer.allocate(
            byteCount: Swift.max(1, count) * MemoryLayout<Scalar>.stride, alignment: 64)
        pointer = raw.bindMemory(to: Scalar.self, capacity: Swift.max(1, count))
    }

    convenience init(repeating value: Scalar, count: Int) {
        self.init(uninitializedCount: count)
        Scalar.fillKernel(pointer, value: value, count: count)
    }

    func copy() -> TensorStorage {
        let result = TensorStorage(uninitializedCount: count)
        UnsafeMutableRawPointer(result.pointer).copyMemory(from: pointer, byteCount: count * MemoryLayout<Scalar>.stride)
        return result
    }

    deinit {
        UnsafeMutableRawPointer(pointer).deallocate()
    }
}

#if canImport(Glibc)
import CPlatform
#endif

/// Keeps freed tensor memory in the process for reuse.
///
/// By default glibc serves large blocks with mmap, returns them to the kernel on free and maps
/// new ones on the next allocation, which the kernel must zero page by page: in a training loop
/// that allocates the same activation sizes every step, that zeroing cost about a tenth of the
/// time. With mmap off for malloc (`M_MMAP_MAX` = 0; the mmap threshold itself cannot exceed
/// 32 MB) and a high trim threshold, large blocks come from the heap and are reused.
enum MemoryConfiguration {
    nonisolated(unsafe) private static let configured: Bool = {
        #if canImport(Glibc)
        mallopt(M_MMAP_MAX, 0)
        mallopt(M_TRIM_THRESHOLD, Int32.max)
        #endif
        return true
    }()

    @inline(__always) static func prepare() { _ = configured }
}
