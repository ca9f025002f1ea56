import Datasets
import Foundation
import _TestSupport
import Formats
import Testing
import TensorCore

/// Reference values read from the Debian files with Python's gzip and struct, independently of
/// the Swift IDX reader:
///
/// ```python
/// import gzip
/// for p in ["train", "t10k"]:
///     labels = gzip.open(f"/usr/share/datasets/fashion-mnist/{p}-labels-idx1-ubyte.gz").read()[8:]
///     images = gzip.open(f"/usr/share/datasets/fashion-mnist/{p}-images-idx3-ubyte.gz").read()[16:]
///     print(list(labels[:20]), sum(images[:784]), sum(1 for b in images[:784] if b), sum(images[:784 * 1000]))
/// ```
enum FashionMNISTReference {
    static let firstTrainLabels = [9, 0, 0, 3, 0, 2, 7, 2, 5, 5, 0, 9, 5, 5, 7, 9, 1, 0, 6, 4]
    static let firstTestLabels = [9, 2, 1, 1, 6, 1, 4, 6, 5, 7, 4, 5, 7, 3, 4, 1, 2, 4, 8, 0]
    /// Σ of the 784 bytes of the first image, and its non-zero pixel count.
    static let firstTrainImageByteSum = 76_247, firstTrainImageNonZero = 433
    static let first1000TrainByteSum = 56_558_003
    static let firstTestImageByteSum = 33_456
}

@Suite("Labelled datasets: FashionMNIST and CSV")
struct ImageDatasetTests {
    @Test func fashionMNISTTrainPrefixHasScaledPixelsAndTheFileLabels() throws {
        let dataset = try FashionMNIST.load(.train, limit: 1000)
        #expect(dataset.features.shape == [1000, 784])
        #expect(dataset.count == 1000 && dataset.featureCount == 784 && dataset.classCount == 10)
        let pixels = dataset.features.scalars
        #expect(pixels.allSatisfy { $0 >= 0 && $0 <= 1 })
        #expect(pixels.max() == 1, "some pixel is 255")
        #expect(dataset.labels.allSatisfy { (0..<10).contains($0) })
        #expect(Array(dataset.labels.prefix(20)) == FashionMNISTReference.firstTrainLabels)

        // Pixels are bytes scaled by 1/255: each is within Float rounding of a multiple of 1/255,
        // and the bytes recovered from them sum to the file's byte sums.
        #expect(pixels.allSatisfy { abs($0 * 255 - ($0 * 255).rounded()) < 1e-3 })
        let bytes = pixels.map { Int(($0 * 255).rounded()) }
        #expect(bytes.prefix(784).reduce(0, +) == FashionMNISTReference.firstTrainImageByteSum)
        #expect(bytes.prefix(784).filter { $0 != 0 }.count == FashionMNISTReference.firstTrainImageNonZero)
        #expect(bytes.reduce(0, +) == FashionMNISTReference.first1000TrainByteSum)
    }

    @Test func fashionMNISTTestSplitHasTenThousandBalancedExamples() throws {
        let dataset = try FashionMNIST.load(.test)
        #expect(dataset.features.shape == [10_000, 784])
        let perClass = Dictionary(dataset.labels.map { ($0, 1) }, uniquingKeysWith: +)
        #expect(perClass == Dictionary(uniqueKeysWithValues: (0..<10).map { ($0, 1000) }))
        #expect(Array(dataset.labels.prefix(20)) == FashionMNISTReference.firstTestLabels)
        let first = dataset.features.sliced(along: 0, 0..<1).scalars.map { Int(($0 * 255).rounded()) }.reduce(0, +)
        #expect(first == FashionMNISTReference.firstTestImageByteSum)
        #expect(FashionMNIST.classNames.count == 10 && FashionMNIST.classNames[9] == "Ankle boot")
    }

    @Test func aLimitBeyondTheSplitGivesTheWholeSplit() throws {
        let dataset = try FashionMNIST.load(.test, limit: 1_000_000)
        #expect(dataset.count == 10_000)
    }

    @Test func aMissingDirectoryThrowsNamingTheFileAndThePackage() throws {
        let directory = try TemporaryDirectory()
        let error = #expect(throws: DatasetError.self) { try FashionMNIST.load(.train, directory: directory.url) }
        guard case let .missingFile(path)? = error else {
            Issue.record("expected missingFile, got \(String(describing: error))")
            return
        }
        #expect(path.hasPrefix(directory.file("train-images-idx3-ubyte.gz").path))
        #expect(path.contains("dataset-fashion-mnist"))
    }

    // MARK: LabeledDataset

    @Test func csvLoadsFeaturesAndIntegerLabels() throws {
        let directory = try TemporaryDirectory()
        let url = try directory.write("x1,label,x2\n0.5,0,1\n-2,2,3.25\n1e-3,1, 7 \n", to: "table.csv")
        let dataset = try LabeledDataset.load(csv: url, labelColumn: "label")
        #expect(dataset.features == Tensor<Float>(rows: [[0.5, 1], [-2, 3.25], [1e-3, 7]]))
        #expect(dataset.labels == [0, 2, 1])
        #expect(dataset.classCount == 3 && dataset.count == 3 && dataset.featureCount == 2)

        let chosen = try LabeledDataset.load(csv: url, labelColumn: "label", featureColumns: ["x2"])
        #expect(chosen.features == Tensor<Float>(rows: [[1], [3.25], [7]]))
    }

    @Test func csvErrorsNameTheFile() throws {
        let directory = try TemporaryDirectory()
        let url = try directory.write("a,label\n1,0\nx,1\n", to: "bad.csv")
        let error = #expect(throws: CSVError.self) { try LabeledDataset.load(csv: url, labelColumn: "label") }
        #expect(error.map { "\($0)".contains(url.path) } == true, "\(String(describing: error))")
        #expect(throws: CSVError.self) { try LabeledDataset.load(csv: url, labelColumn: "class") }
    }

    @Test func batchAndPrefixSelectRows() {
        let dataset = LabeledDataset(features: Tensor<Float>(rows: [[0, 1], [2, 3], [4, 5], [6, 7]]), labels: [3, 1, 4, 1], classCount: 5)
        let batch = dataset.batch([2, 0, 2])
        #expect(batch.features == Tensor<Float>(rows: [[4, 5], [0, 1], [4, 5]]))
        #expect(batch.labels == [4, 3, 4])
        let prefix = dataset.prefix(2)
        #expect(prefix.features == Tensor<Float>(rows: [[0, 1], [2, 3]]) && prefix.labels == [3, 1] && prefix.classCount == 5)
        #expect(dataset.prefix(10).count == 4)
    }
}
