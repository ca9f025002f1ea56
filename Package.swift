// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "swift-influence",
    products: [
        .library(name: "TensorCore", targets: ["TensorCore"]),
        .library(name: "Autograd", targets: ["Autograd"]),
        .executable(name: "influence-bench", targets: ["InfluenceBench"]),
    ],
    targets: [
        .systemLibrary(
            name: "CBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),
        .systemLibrary(
            name: "CLAPACKE",
            pkgConfig: "lapacke",
            providers: [.apt(["liblapacke-dev"])]
        ),
        .target(name: "TensorCore", dependencies: ["CBLAS", "CLAPACKE"]),
        .target(name: "Autograd", dependencies: ["TensorCore"]),
        .target(name: "_TestSupport", dependencies: ["TensorCore", "Autograd"]),
        .executableTarget(name: "InfluenceBench", dependencies: ["TensorCore", "Autograd"]),
        .testTarget(name: "TensorCoreTests", dependencies: ["TensorCore", "_TestSupport"]),
        .testTarget(name: "AutogradTests", dependencies: ["Autograd", "TensorCore", "_TestSupport"]),
    ],
    swiftLanguageModes: [.v5]
)
