import CBLAS
import Dispatch
import Foundation

/// The number of threads that tensor operations use, for OpenBLAS and for the elementwise kernels.
///
/// The initial value comes from the environment: `INFLUENCE_NUM_THREADS`, else
/// `OPENBLAS_NUM_THREADS`, else the number of active processors. Setting ``threadCount`` changes
/// both OpenBLAS (`openblas_set_num_threads`) and the kernels at once.
public enum Parallelism {
    nonisolated(unsafe) private static var _threadCount: Int = {
        let env = ProcessInfo.processInfo.environment
        let requested = env["INFLUENCE_NUM_THREADS"].flatMap(Int.init) ?? env["OPENBLAS_NUM_THREADS"].flatMap(Int.init)
        let count = Swift.max(1, requested ?? ProcessInfo.processInfo.activeProcessorCount)
        openblas_set_num_threads(Int32(count))
        return count
    }()

    /// Threads used by BLAS, LAPACK and the elementwise kernels.
    public static var threadCount: Int {
        get { _threadCount }
        set {
            precondition(newValue >= 1, "threadCount must be at least 1, got \(newValue)")
            _threadCount = newValue
            openblas_set_num_threads(Int32(newValue))
        }
    }

    /// The number of threads OpenBLAS reports it uses.
    public static var blasThreadCount: Int {
        _ = _threadCount
        return Int(openblas_get_num_threads())
    }

    /// Makes sure the environment settings reached OpenBLAS before its first call.
    @inline(__always) static func prepare() { _ = _threadCount }

    /// Splits `0..<count` into contiguous chunks of at least `minimumChunk` and runs `body` on them,
    /// concurrently when there is more than one chunk.
    static func forEachChunk(count: Int, minimumChunk: Int, _ body: (Range<Int>) -> Void) {
        let threads = _threadCount
        let chunks = Swift.min(threads, count / Swift.max(1, minimumChunk))
        if chunks <= 1 {
            if count > 0 { body(0..<count) }
            return
        }
        let size = (count + chunks - 1) / chunks
        withoutActuallyEscaping(body) { body in
            DispatchQueue.concurrentPerform(iterations: chunks) { c in
                let lo = c * size, hi = Swift.min(count, lo + size)
                if lo < hi { body(lo..<hi) }
            }
        }
    }
}
