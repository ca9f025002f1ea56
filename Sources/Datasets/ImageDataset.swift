import Foundation
import Formats
import TensorCore

/// Labelled feature vectors: images flattened to rows, or tabular data.
public struct LabeledDataset: Sendable {
    /// `[count, featureCount]`.
    public var features: Tensor<Float>
    /// The class index of each row, in `0..<classCount`.
    public var labels: [Int]
    /// The number of classes the labels index (from a CSV file: the number of class names, else one more than the largest label).
    public var classCount: Int
    /// The name of each class, when the labels were names (a CSV file's); nil for integer labels.
    public var classNames: [String]?
    /// The number of examples (rows).
    public var count: Int { labels.count }
    /// The number of features per example, `features.shape[1]`.
    public var featureCount: Int { features.shape[1] }

    /// Creates a data set from features and labels.
    ///
    /// - Parameters:
    ///   - features: `[count, featureCount]`; its rows must pair up with `labels` (checked with a precondition).
    ///   - labels: the class index of each row.
    ///   - classCount: the number of classes the labels index.
    ///   - classNames: the class names, when labels were names.
    public init(features: Tensor<Float>, labels: [Int], classCount: Int, classNames: [String]? = nil) {
        precondition(
            features.rank == 2 && features.shape[0] == labels.count,
            "features \(features.shape) do not match \(labels.count) labels")
        self.features = features
        self.labels = labels
        self.classCount = classCount
        self.classNames = classNames
    }

    /// The rows at `indices`, as a data set with the same classes.
    public func subset(_ indices: [Int]) -> LabeledDataset {
        LabeledDataset(
            features: features.indexSelect(along: 0, indices: indices), labels: indices.map { labels[$0] },
            classCount: classCount, classNames: classNames)
    }

    /// The rows at `indices`: features `[indices.count, featureCount]` and their labels.
    public func batch(_ indices: [Int]) -> (features: Tensor<Float>, labels: [Int]) {
        (features.indexSelect(along: 0, indices: indices), indices.map { labels[$0] })
    }

    /// The first `count` examples.
    public func prefix(_ count: Int) -> LabeledDataset {
        let n = Swift.min(count, self.count)
        return LabeledDataset(
            features: features.sliced(along: 0, 0..<n), labels: Array(labels.prefix(n)), classCount: classCount,
            classNames: classNames)
    }

    /// A CSV table with a label column; the other (or the listed) columns are features.
    ///
    /// With `classNames` (the classes a model was trained with) each label must be one of them
    /// and becomes its index there. Without, labels that are all integers are class indices;
    /// otherwise, when `discoversClassNames` (training), each distinct name becomes its index in
    /// the sorted list of names, which ``classNames`` then holds and the model records, so that
    /// every later file numbers the classes the same way; when not, a name is an error.
    public static func load(
        csv url: URL, labelColumn: String, featureColumns: [String]? = nil, classNames: [String]? = nil,
        discoversClassNames: Bool = false
    ) throws -> LabeledDataset {
        let table = try CSVTable(contentsOf: url)
        let labelIndex = try table.columnIndex(named: labelColumn)
        let encoding: CSVTable.LabelEncoding
        if let classNames {
            encoding = .classes(classNames)
        } else {
            let numeric = table.rows.allSatisfy { $0.indices.contains(labelIndex) && Int($0[labelIndex].trimmingCharacters(in: .whitespaces)) != nil }
            encoding = numeric || !discoversClassNames ? .integer : .categorical
        }
        let labeled = try table.labeledFeatures(labelColumn: labelColumn, featureColumns: featureColumns, labelEncoding: encoding)
        let classCount = labeled.classNames?.count ?? ((labeled.labels.max() ?? -1) + 1)
        return LabeledDataset(features: labeled.features, labels: labeled.labels, classCount: classCount, classNames: labeled.classNames)
    }
}

/// Feature rows with real-valued targets, for MLP regressors.
public struct RegressionDataset: Sendable {
    /// `[count, featureCount]`.
    public var features: Tensor<Float>
    /// `[count, targetCount]`.
    public var targets: Tensor<Float>
    /// The number of examples, `features.shape[0]`.
    public var count: Int { features.shape[0] }

    /// Creates a data set; the two tensors must have the same number of rows (checked with a precondition).
    ///
    /// - Parameters:
    ///   - features: `[count, featureCount]`.
    ///   - targets: `[count, targetCount]`.
    public init(features: Tensor<Float>, targets: Tensor<Float>) {
        precondition(features.shape[0] == targets.shape[0], "\(features.shape[0]) feature rows but \(targets.shape[0]) target rows")
        self.features = features
        self.targets = targets
    }

    /// The rows at `indices`.
    public func rows(_ indices: [Int]) -> RegressionDataset {
        RegressionDataset(features: features.indexSelect(along: 0, indices: indices), targets: targets.indexSelect(along: 0, indices: indices))
    }

    /// The first `n` examples (all of them when `n` is larger than ``count``).
    public func prefix(_ n: Int) -> RegressionDataset { rows(Array(0..<Swift.min(n, count))) }

    /// A CSV file: the target columns, and every other column (or `featureColumns`) as features.
    public static func load(csv url: URL, targetColumns: [String], featureColumns: [String]? = nil) throws -> RegressionDataset {
        let table = try CSVTable(contentsOf: url)
        let names = featureColumns ?? table.columnNames.filter { !targetColumns.contains($0) }
        return RegressionDataset(features: try table.numericColumns(names), targets: try table.numericColumns(targetColumns))
    }
}

/// FashionMNIST from Debian's `dataset-fashion-mnist` (IDX files, gzip-compressed): 28 × 28
/// grey images scaled to [0, 1] and flattened to 784 features, ten classes.
public enum FashionMNIST {
    /// Where Debian's `dataset-fashion-mnist` package installs the gzip-compressed IDX files.
    public static let defaultDirectory = URL(fileURLWithPath: "/usr/share/datasets/fashion-mnist")
    /// The names of the ten classes, indexed by label.
    public static let classNames = [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ]

    /// The training split (60,000 examples, `train-*` files) or the test split (10,000, `t10k-*` files).
    public enum Split: String, Sendable { case train, test }

    /// Loads a split, optionally only its first `limit` examples.
    public static func load(_ split: Split, directory: URL = defaultDirectory, limit: Int? = nil) throws -> LabeledDataset {
        let prefix = split == .train ? "train" : "t10k"
        let imagesURL = directory.appendingPathComponent("\(prefix)-images-idx3-ubyte.gz")
        let labelsURL = directory.appendingPathComponent("\(prefix)-labels-idx1-ubyte.gz")
        for url in [imagesURL, labelsURL] where !FileManager.default.fileExists(atPath: url.path) {
            throw DatasetError.missingFile(path: url.path + " (install the Debian package dataset-fashion-mnist; scripts/setup does)")
        }
        // With a limit only the first images are decompressed (the training split is 47 MB of pixels).
        let images = try limit.map { try IDXFile(contentsOf: imagesURL, maximumItems: $0) } ?? IDXFile(contentsOf: imagesURL)
        let labels = try limit.map { try IDXFile(contentsOf: labelsURL, maximumItems: $0) } ?? IDXFile(contentsOf: labelsURL)
        guard images.shape.count == 3, labels.shape.count == 1, images.shape[0] == labels.shape[0] else {
            throw DatasetError.malformedRow(
                path: imagesURL.path, line: 0,
                reason: "images \(images.shape) and labels \(labels.shape) do not pair up")
        }
        let n = Swift.min(limit ?? images.shape[0], images.shape[0])
        let pixels = images.shape[1] * images.shape[2]
        let all = images.tensor(as: Float.self).reshaped(to: [images.shape[0], pixels])
        let features = (n == images.shape[0] ? all : all.sliced(along: 0, 0..<n)) * (1 / Float(255))
        let classes = try labels.integers()
        return LabeledDataset(features: features, labels: Array(classes.prefix(n)), classCount: 10)
    }
}
