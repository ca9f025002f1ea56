import CBLAS
import CKernels
import Dispatch
import Foundation

/// The number of threads that tensor operations use, for OpenBLAS and for the elementwise kernels.
///
/// The initial value comes from the environment: `INFLUENCE_NUM_THREADS`, else
/// `OPENBLAS_NUM_THREADS`, else the number of active processors. Setting ``threadCount`` changes
/// both OpenBLAS (`openblas_set_num_threads`) and the kernels at once.
public enum Parallelism {
    nonisolated(unsafe) private static var _threadCount: Int = {
        let count = configuredThreadCount
        openblas_set_num_threads(Int32(count))
        return count
    }()

    /// The thread count the environment asks for (`INFLUENCE_NUM_THREADS`, else
    /// `OPENBLAS_NUM_THREADS`, else the active processors), whatever ``threadCount`` is now. The
    /// ranks of an MPI job each take a share of it; work whose bits depend on OpenBLAS's thread
    /// count and that one rank does for all (eigendecompositions) runs on all of it, so that one
    /// process and many agree.
    public static let configuredThreadCount: Int = {
        let env = ProcessInfo.processInfo.environment
        let requested = env["INFLUENCE_NUM_THREADS"].flatMap(Int.init) ?? env["OPENBLAS_NUM_THREADS"].flatMap(Int.init)
        return Swift.max(1, requested ?? ProcessInfo.processInfo.activeProcessorCount)
    }()

    /// Runs `body` with ``threadCount`` set to `count`, then restores it.
    public static func withThreadCount<R>(_ count: Int, _ body: () throws -> R) rethrows -> R {
        let previous = threadCount
        if count != previous { threadCount = count }
        defer { if count != previous { threadCount = previous } }
        return try body()
    }

    /// Threads used by BLAS, LAPACK and the elementwise kernels.
    public static var threadCount: Int {
        get { _threadCount }
        set {
            precondition(newValue >= 1, "threadCount must be at least 1, got \(newValue)")
            blasLock.lock()
            defer { blasLock.unlock() }
            _threadCount = newValue
            openblas_set_num_threads(Int32(newValue))
            blasThreadsInEffect = newValue
        }
    }

    /// Restarts the current executable once with the OpenBLAS settings it needs, which the library
    /// reads only when it loads — so an executable calls this first thing in `main`. A value the
    /// user set is left alone.
    ///
    /// - `OPENBLAS_THREAD_TIMEOUT=4`: between BLAS calls OpenBLAS's idle threads spin (calling
    ///   `sched_yield`) for 2²⁸ cycles by default before sleeping; on a two-core machine they then
    ///   compete with the elementwise kernels that run between matrix products (about a seventh of
    ///   an influence scoring pass).
    /// - `OPENBLAS_CORETYPE`, when OpenBLAS's own detection chose slower kernels than the CPU runs
    ///   (see ``preferredBLASCore(detected:cpuInformation:)``).
    public static func relaunchWithShortBLASSpinIfNeeded() {
        var changed = false
        if getenv("OPENBLAS_THREAD_TIMEOUT") == nil {
            setenv("OPENBLAS_THREAD_TIMEOUT", "4", 1)
            changed = true
        }
        if getenv("OPENBLAS_CORETYPE") == nil, let information = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
            let core = preferredBLASCore(detected: blasCoreName, cpuInformation: information)
        {
            setenv("OPENBLAS_CORETYPE", core, 1)
            changed = true
        }
        if changed { execv("/proc/self/exe", CommandLine.unsafeArgv) }
        // If exec fails the process simply goes on with OpenBLAS's defaults.
    }

    /// The instruction set of the single-precision elementwise and softmax kernels in this process:
    /// `avx2+fma` on a CPU with both, else `baseline` (x86-64's SSE2). `INFLUENCE_KERNELS=baseline`
    /// in the environment picks the baseline kernels on any CPU, so that results are the same
    /// bits across machines.
    public static var elementwiseKernels: String { String(cString: ck_instruction_set()) }

    /// Runs the baseline elementwise kernels (true) or the CPU's best (false) on the calling thread
    /// from now on (work split across threads is not affected); tests compare the two.
    public static func useBaselineKernels(_ baseline: Bool) { ck_force_baseline(baseline ? 1 : 0) }

    /// The kernels OpenBLAS runs in this process (`SkylakeX`, `Haswell`, `Prescott`, …).
    public static var blasCoreName: String { openblas_get_corename().map { String(cString: $0) } ?? "unknown" }

    /// The kernels to ask OpenBLAS for when the ones it `detected` are slower than the CPU
    /// described by `cpuInformation` (the text of /proc/cpuinfo) runs, or nil when its choice
    /// stands.
    ///
    /// OpenBLAS 0.3.21 (Debian 12) does not know recent Intel models and falls back to `Prescott`
    /// (SSE3 kernels): on an AVX-512 Xeon that is a fifth of the sgemm throughput of its
    /// `SkylakeX` kernels. An Intel CPU with AVX-512 F, BW, DQ and VL gets `SkylakeX` unless
    /// OpenBLAS already chose AVX-512 kernels; any CPU with AVX2 and FMA whose detected kernels
    /// are older than AVX2 gets `Haswell`.
    public static func preferredBLASCore(detected: String, cpuInformation: String) -> String? {
        var vendor = "", flags = Set<Substring>()
        for line in cpuInformation.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let key = parts[0].trimmingCharacters(in: .whitespaces), value = parts[1].trimmingCharacters(in: .whitespaces)
            if key == "vendor_id" && vendor.isEmpty { vendor = value }
            if key == "flags" && flags.isEmpty { flags = Set(value.split(separator: " ")) }
        }
        let avx512: Set<String> = ["SkylakeX", "Cooperlake", "SapphireRapids"]
        let avx2: Set<String> = avx512.union(["Haswell", "Zen"])
        if vendor == "GenuineIntel", ["avx512f", "avx512bw", "avx512dq", "avx512vl"].allSatisfy({ flags.contains(Substring($0)) }) {
            return avx512.contains(detected) ? nil : "SkylakeX"
        }
        if flags.contains("avx2") && flags.contains("fma") && !avx2.contains(detected) { return "Haswell" }
        return nil
    }

    /// The number of threads OpenBLAS reports it uses for a product too large to run on one
    /// thread. It is read under the lock that serialises BLAS calls: between calls OpenBLAS's
    /// process-wide count may be 1, set for a small product on another thread.
    public static var blasThreadCount: Int {
        withBLAS(singleThreaded: false) { Int(openblas_get_num_threads()) }
    }

    /// Matrix products with fewer multiply-adds than this run on one BLAS thread: waking
    /// OpenBLAS's other threads costs more than they save (about a third of the time of the
    /// curvature products of a small MLP). `INFLUENCE_SMALL_GEMM` overrides it.
    nonisolated(unsafe) public static var smallProductThreshold = Int(ProcessInfo.processInfo.environment["INFLUENCE_SMALL_GEMM"] ?? "") ?? (1 << 21)

    /// Whether a product of m·n·k multiply-adds should run on one BLAS thread.
    @inline(__always) static func isSmallProduct(_ multiplyAdds: Int) -> Bool { _threadCount > 1 && multiplyAdds < smallProductThreshold }

    private static let blasLock = NSLock()
    nonisolated(unsafe) private static var blasThreadsInEffect = 0

    /// Runs a BLAS or LAPACK call with OpenBLAS on one thread (`singleThreaded`) or on
    /// ``threadCount`` threads (reading it first also brings the environment's setting to OpenBLAS
    /// before its first call). OpenBLAS's results depend on its thread count, which is a process
    /// global, so calls are serialised: a product's thread count — and so its exact result — then
    /// depends on its size only, even when several threads use tensors at once.
    @inline(__always) static func withBLAS<R>(singleThreaded: Bool, _ body: () -> R) -> R {
        blasLock.lock()
        defer { blasLock.unlock() }
        let wanted = singleThreaded ? 1 : _threadCount
        if wanted != blasThreadsInEffect {
            openblas_set_num_threads(Int32(wanted))
            blasThreadsInEffect = wanted
        }
        return body()
    }

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
