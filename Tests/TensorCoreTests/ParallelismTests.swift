import Testing
import TensorCore
import _TestSupport

/// These tests change the process-wide thread count, so they run one at a time and each restores
/// the original count. Other suites may run meanwhile; their results do not depend on the count.
@Suite("Parallelism", .serialized)
struct ParallelismTests {
    @Test func threadCountRoundTripsAndReachesBLAS() {
        let original = Parallelism.threadCount
        defer { Parallelism.threadCount = original }
        #expect(original >= 1)
        for count in [1, 2, 3, 1] {
            Parallelism.threadCount = count
            #expect(Parallelism.threadCount == count)
            #expect(Parallelism.blasThreadCount == count, "OpenBLAS should follow threadCount = \(count)")
        }
    }

    @Test func restoringTheOriginalCountRestoresBLAS() {
        let original = Parallelism.threadCount
        Parallelism.threadCount = original == 1 ? 2 : 1
        Parallelism.threadCount = original
        #expect(Parallelism.threadCount == original)
        #expect(Parallelism.blasThreadCount == original)
    }

    /// The same inputs give bit-identical results on one thread and on two for the kernels that
    /// split work by elements (elementwise, broadcast, reductions, softmax, permute).
    @Test func kernelResultsAreIdenticalWithOneAndTwoThreads() {
        let original = Parallelism.threadCount
        defer { Parallelism.threadCount = original }
        // 301 rows, so that two threads split the broadcast in the middle of a row.
        let a: Tensor<Float> = randomTensor([301, 400], seed: 1)
        let b: Tensor<Float> = randomTensor([400], seed: 2)

        func compute() -> [Tensor<Float>] {
            [
                a * b + a.exp(), a.sum(alongAxes: [0]), a.max(alongAxes: [1]), a.softmax(), a.transposed(),
                a.permuted([1, 0]).reshaped(to: [20, 20, 301]).permuted([2, 0, 1]),
            ]
        }
        Parallelism.threadCount = 1
        let single = compute()
        Parallelism.threadCount = 2
        let double = compute()
        let names = ["elementwise", "sum", "max", "softmax", "transpose", "permute"]
        for (name, (s, d)) in zip(names, zip(single, double)) {
            let c = compare(d, s, tolerance: 0, "\(name) with 2 threads vs 1")
            #expect(c.passed, "\(c)")
        }
    }

    /// OpenBLAS gemm splits the product differently with one and two threads, so the last bits may
    /// differ (measured: about 1e-7 relative in Float). Both must agree with a Double triple loop to
    /// 1e-6, and repeated runs at the same count must be bit-identical.
    @Test func matmulAgreesAcrossThreadCounts() {
        let original = Parallelism.threadCount
        defer { Parallelism.threadCount = original }
        let a: Tensor<Float> = randomTensor([300, 400], seed: 3)
        let c: Tensor<Float> = randomTensor([400, 200], seed: 4)
        let expected = naiveMatmul(a, c)
        for threads in [1, 2] {
            Parallelism.threadCount = threads
            let first = Tensor.matmul(a, c), second = Tensor.matmul(a, c)
            var r = compare(first, expected, tolerance: 1e-6, "matmul on \(threads) thread(s) vs naive")
            #expect(r.passed, "\(r)")
            r = compare(second, first, tolerance: 0, "repeated matmul on \(threads) thread(s)")
            #expect(r.passed, "\(r)")
        }
    }

    /// Elementwise results on two threads still equal a scalar loop bit for bit.
    @Test func twoThreadElementwiseMatchesScalarLoop() {
        let original = Parallelism.threadCount
        defer { Parallelism.threadCount = original }
        Parallelism.threadCount = 2
        let x: Tensor<Double> = randomTensor([1 << 17], seed: 4)
        let y: Tensor<Double> = randomTensor([1 << 17], seed: 5)
        let sx = x.scalars, sy = y.scalars
        #expect((x * y - x).scalars == zip(sx, sy).map { $0 * $1 - $0 })
        #expect(x.tanh().scalars == sx.map { Double.tanh($0) })
    }

    @Test func zeroThreadsTraps() async {
        await #expect(processExitsWith: .failure) {
            Parallelism.threadCount = 0
        }
    }
}

@Suite("OpenBLAS kernels for the CPU at hand")
struct BLASCoreTests {
    static func cpu(vendor: String, flags: String) -> String {
        "processor\t: 0\nvendor_id\t: \(vendor)\nmodel name\t: test\nflags\t\t: \(flags)\n\nprocessor\t: 1\nvendor_id\t: \(vendor)\nflags\t\t: sse\n"
    }

    @Test func aGenericFallbackOnAnAVX512XeonGetsTheSkylakeXKernels() {
        let xeon = Self.cpu(vendor: "GenuineIntel", flags: "fpu sse2 avx avx2 fma avx512f avx512dq avx512bw avx512vl avx512_bf16")
        #expect(Parallelism.preferredBLASCore(detected: "Prescott", cpuInformation: xeon) == "SkylakeX")
        #expect(Parallelism.preferredBLASCore(detected: "Haswell", cpuInformation: xeon) == "SkylakeX")
        #expect(Parallelism.preferredBLASCore(detected: "SkylakeX", cpuInformation: xeon) == nil)
        #expect(Parallelism.preferredBLASCore(detected: "Cooperlake", cpuInformation: xeon) == nil)
    }

    @Test func avx2MachinesGetHaswellOnlyWhenDetectionFellBelowIt() {
        let epyc = Self.cpu(vendor: "AuthenticAMD", flags: "fpu sse2 avx avx2 fma avx512f avx512dq avx512bw avx512vl")
        #expect(Parallelism.preferredBLASCore(detected: "Zen", cpuInformation: epyc) == nil, "OpenBLAS's choice for AMD stands")
        #expect(Parallelism.preferredBLASCore(detected: "Prescott", cpuInformation: epyc) == "Haswell")
        let old = Self.cpu(vendor: "GenuineIntel", flags: "fpu sse2 avx")
        #expect(Parallelism.preferredBLASCore(detected: "Sandybridge", cpuInformation: old) == nil, "no AVX2: nothing better to ask for")
    }

    @Test func theKernelsInUseAreReported() {
        #expect(!Parallelism.blasCoreName.isEmpty)
    }
}
