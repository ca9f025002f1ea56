// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "swift-influence",
    products: [
        .library(name: "TensorCore", targets: ["TensorCore"]),
        .library(name: "Autograd", targets: ["Autograd"]),
        .library(name: "Formats", targets: ["Formats"]),
        .library(name: "Tokenizers", targets: ["Tokenizers"]),
        .library(name: "Datasets", targets: ["Datasets"]),
        .library(name: "NeuralNetworks", targets: ["NeuralNetworks"]),
        .library(name: "Training", targets: ["Training"]),
        .library(name: "ModelIO", targets: ["ModelIO"]),
        .library(name: "Distributed", targets: ["Distributed"]),
        .library(name: "MPITransport", targets: ["MPITransport"]),
        .library(name: "Influence", targets: ["Influence"]),
        .library(name: "Retrieval", targets: ["Retrieval"]),
        .library(name: "Reports", targets: ["Reports"]),
        .library(name: "Validation", targets: ["Validation"]),
        .library(name: "Workflows", targets: ["Workflows"]),
        .executable(name: "influence", targets: ["InfluenceCLI"]),
        .executable(name: "influence-bench", targets: ["InfluenceBench"]),
    ],
    targets: [
        // C libraries from Debian.
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CLAPACKE", pkgConfig: "lapacke", providers: [.apt(["liblapacke-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CPlatform"),
        .systemLibrary(name: "CMPI", pkgConfig: "ompi-c", providers: [.apt(["libopenmpi-dev"])]),
        // Elementwise and row kernels in C, built for AVX2 + FMA and for baseline x86-64, chosen at run time.
        .target(name: "CKernels", exclude: ["kernels.inc"]),

        // Numerics.
        .target(name: "TensorCore", dependencies: ["CBLAS", "CLAPACKE", "CPlatform", "CKernels"], exclude: ["README.md"]),
        .target(name: "Autograd", dependencies: ["TensorCore"], exclude: ["README.md"]),

        // Files and data.
        .target(name: "Formats", dependencies: ["TensorCore", "CZlib"], exclude: ["README.md"]),
        .target(name: "Tokenizers", dependencies: [], exclude: ["README.md"]),
        .target(name: "Datasets", dependencies: ["TensorCore", "Formats", "Tokenizers"], exclude: ["README.md"]),

        // Models and training.
        .target(name: "NeuralNetworks", dependencies: ["TensorCore", "Autograd"], exclude: ["README.md"]),
        .target(name: "Training", dependencies: ["TensorCore", "Autograd", "NeuralNetworks", "Formats", "Datasets"], exclude: ["README.md"]),
        .target(name: "ModelIO", dependencies: ["TensorCore", "Autograd", "NeuralNetworks", "Formats", "Tokenizers"], exclude: ["README.md"]),

        // More than one process: the communicator protocol and the rank-independent reduction; MPI as one conformer.
        .target(name: "Distributed", dependencies: ["TensorCore"], exclude: ["README.md"]),
        .target(name: "MPITransport", dependencies: ["CMPI", "Distributed"]),

        // Influence functions.
        .target(
            name: "Influence",
            dependencies: ["TensorCore", "Autograd", "NeuralNetworks", "Formats", "Datasets", "Distributed"],
            exclude: ["README.md"]),

        // TF-IDF candidate retrieval: the inverted index and the candidate files.
        .target(name: "Retrieval", dependencies: ["Formats"], exclude: ["README.md"]),

        // Reports: self-contained HTML and JSON from score files, and the analyses they show.
        .target(name: "Reports", dependencies: ["TensorCore", "Formats"], exclude: ["README.md"]),
        // Ground truth for influence: PBRF, the linear datamodeling score, mislabel detection.
        .target(
            name: "Validation", dependencies: ["TensorCore", "Autograd", "NeuralNetworks", "Training", "Influence", "Reports"],
            exclude: ["README.md"]),

        // What each subcommand does, as library code: loading tasks, fit, scores, training, the demo.
        .target(
            name: "Workflows",
            dependencies: [
                "TensorCore", "Autograd", "Formats", "Tokenizers", "Datasets", "NeuralNetworks", "Training", "ModelIO", "Influence", "Retrieval", "Reports",
                "Validation", "Distributed",
            ],
            exclude: ["README.md"]),

        // Executables.
        .executableTarget(
            name: "InfluenceCLI",
            dependencies: [
                "TensorCore", "Autograd", "Formats", "Tokenizers", "Datasets", "NeuralNetworks", "Training", "ModelIO", "Influence",
                "Retrieval", "Reports", "Workflows", "Distributed", "MPITransport",
            ]),
        .executableTarget(
            name: "InfluenceBench",
            dependencies: ["TensorCore", "Autograd", "NeuralNetworks", "Training", "Influence", "Datasets", "Retrieval"]),

        // Tests.
        .target(name: "_TestSupport", dependencies: ["TensorCore", "Autograd"]),
        .testTarget(name: "TensorCoreTests", dependencies: ["TensorCore", "_TestSupport"]),
        .testTarget(name: "AutogradTests", dependencies: ["Autograd", "TensorCore", "_TestSupport"]),
        .testTarget(name: "FormatsTests", dependencies: ["Formats", "TensorCore", "_TestSupport"]),
        .testTarget(name: "TokenizersTests", dependencies: ["Tokenizers", "_TestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "DatasetsTests", dependencies: ["Datasets", "Formats", "Tokenizers", "TensorCore", "_TestSupport"]),
        .testTarget(name: "NeuralNetworksTests", dependencies: ["NeuralNetworks", "Autograd", "TensorCore", "_TestSupport"]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "NeuralNetworks", "Autograd", "TensorCore", "Formats", "_TestSupport"]),
        .testTarget(
            name: "ModelIOTests",
            dependencies: ["ModelIO", "NeuralNetworks", "Autograd", "TensorCore", "Formats", "Tokenizers", "_TestSupport"],
            resources: [.copy("Fixtures")]),
        .testTarget(name: "DistributedTests", dependencies: ["Distributed", "TensorCore"]),
        .testTarget(name: "InfluenceTests", dependencies: ["Influence", "NeuralNetworks", "Autograd", "TensorCore", "Datasets", "_TestSupport"]),
        .testTarget(name: "RetrievalTests", dependencies: ["Retrieval", "_TestSupport"]),
        .testTarget(name: "ValidationTests", dependencies: ["Validation", "Influence", "NeuralNetworks", "Autograd", "TensorCore", "_TestSupport"]),
        .testTarget(name: "ReportsTests", dependencies: ["Reports", "Formats", "TensorCore"]),
        .testTarget(name: "InfluenceCLITests", dependencies: ["_TestSupport", "Formats", "TensorCore"]),
    ],
    swiftLanguageModes: [.v5]
)

// The libFuzzer harness over every parser a user feeds; scripts/fuzz builds it with the fuzzer and
// address sanitizers. Absent from ordinary builds, which have no libFuzzer to link.
if Context.environment["INFLUENCE_FUZZ"] == "1" {
    package.targets.append(
        .executableTarget(
            name: "InfluenceFuzz", dependencies: ["Formats", "Tokenizers", "Datasets", "ModelIO", "Influence", "Training", "TensorCore"],
            path: "Fuzz/Sources", swiftSettings: [.unsafeFlags(["-parse-as-library"])]))
    package.products.append(.executable(name: "influence-fuzz", targets: ["InfluenceFuzz"]))
}
