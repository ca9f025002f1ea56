import Synchronization

/// The bytes held by tensor storage in this process: now, and the most since ``resetPeak()`` —
/// what a memory plan measures a probe batch with.
public enum TensorMemory {
    private static let live = Atomic<Int>(0)
    private static let peak = Atomic<Int>(0)

    /// Bytes of tensor storage alive now.
    public static var liveBytes: Int { live.load(ordering: .relaxed) }
    /// The most bytes of tensor storage alive at once since the last ``resetPeak()``.
    public static var peakBytes: Int { peak.load(ordering: .relaxed) }
    /// Starts a new peak from what is alive now.
    public static func resetPeak() { peak.store(live.load(ordering: .relaxed), ordering: .relaxed) }

    @inline(__always) static func allocated(_ bytes: Int) {
        let now = live.wrappingAdd(bytes, ordering: .relaxed).newValue
        if bytes > 0 {
            var seen = peak.load(ordering: .relaxed)
            while now > seen {
                let (exchanged, original) = peak.compareExchange(expected: seen, desired: now, ordering: .relaxed)
                if exchanged { break }
                seen = original
            }
        }
    }

    /// The resident memory of this process now (`/proc/self/statm`), or nil where it cannot be read.
    public static var residentBytes: Int? {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return nil }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return nil }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// The most resident memory this process has had (`getrusage`'s maximum resident set).
    public static var peakResidentBytes: Int {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return usage.ru_maxrss * 1024
    }
}

/// The heap block behind a ``Tensor``: `count` elements, 64-byte aligned for SIMD and BLAS.
///
/// Tensors share a storage until one of them is mutated (copy-on-write, see ``Tensor/withUnsafeMutableBufferPointer(_:)``).
public final class TensorStorage<Scalar: TensorScalar> {
    /// The number of elements; the block holds room for at least one even when this is 0.
    public let count: Int
    /// The first element, 64-byte aligned; valid for ``count`` elements while this storage is alive.
    public let pointer: UnsafeMutablePointer<Scalar>

    /// Whether the block was mapped by ``MemoryConfiguration/mapLarge(byteCount:)`` (and is unmapped on release).
    private let isMapped: Bool

    /// Allocates uninitialised storage; callers must write every element before reading.
    init(uninitializedCount count: Int) {
        MemoryConfiguration.prepare()
        self.count = count
        let byteCount = Swift.max(1, count) * MemoryLayout<Scalar>.stride
        TensorMemory.allocated(byteCount)
        if let mapped = MemoryConfiguration.mapLarge(byteCount: byteCount) {
            isMapped = true
            pointer = mapped.bindMemory(to: Scalar.self, capacity: Swift.max(1, count))
        } else {
            isMapped = false
            let raw = UnsafeMutableRawPointer.allocate(byteCount: byteCount, alignment: 64)
            pointer = raw.bindMemory(to: Scalar.self, capacity: Swift.max(1, count))
        }
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
        TensorMemory.allocated(-Swift.max(1, count) * MemoryLayout<Scalar>.stride)
        if isMapped {
            MemoryConfiguration.unmapLarge(UnsafeMutableRawPointer(pointer), byteCount: Swift.max(1, count) * MemoryLayout<Scalar>.stride)
        } else {
            UnsafeMutableRawPointer(pointer).deallocate()
        }
    }
}

#if canImport(Glibc)
    import CPlatform
    import Glibc
#endif

/// Keeps freed tensor memory in the process for reuse.
///
/// By default glibc serves large blocks with mmap, returns them to the kernel on free and maps
/// new ones on the next allocation, which the kernel must zero page by page: in a training loop
/// that allocates the same activation sizes every step, that zeroing cost about a tenth of the
/// time. With mmap off for malloc (`M_MMAP_MAX` = 0; the mmap threshold itself cannot exceed
/// 32 MB) and a high trim threshold, large blocks come from the heap and are reused.
///
/// Blocks of ``largeBlockBytes`` (64 MiB) and more are mapped and unmapped directly instead: kept
/// on a heap that is never trimmed, blocks of that size — a chunk of preconditioned queries, a
/// concatenation of them — fragment it, and the resident memory of a long scoring run grew to
/// several times what was live. They are few per step, so zeroing their pages costs little
/// beside the work done on them.
enum MemoryConfiguration {
    /// The size from which tensor storage is mapped rather than taken from malloc's heap.
    static let largeBlockBytes = 64 << 20

    /// A private anonymous mapping of `byteCount` bytes (page aligned, so 64-byte aligned), or nil
    /// for a block below ``largeBlockBytes`` or when the kernel refuses (malloc then tries).
    static func mapLarge(byteCount: Int) -> UnsafeMutableRawPointer? {
        #if canImport(Glibc)
            guard byteCount >= largeBlockBytes else { return nil }
            let address = mmap(nil, byteCount, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
            guard let address, address != MAP_FAILED else { return nil }
            return address
        #else
            return nil
        #endif
    }

    static func unmapLarge(_ pointer: UnsafeMutableRawPointer, byteCount: Int) {
        #if canImport(Glibc)
            munmap(pointer, byteCount)
        #endif
    }

    private static let configured: Bool = {
        #if canImport(Glibc)
            mallopt(M_MMAP_MAX, 0)
            mallopt(M_TRIM_THRESHOLD, Int32.max)
        #endif
        return true
    }()

    @inline(__always) static func prepare() { _ = configured }
}
