import Datasets
import Foundation
import Influence
import ModelIO
import NeuralNetworks
import TensorCore
import Tokenizers

/// Where the model and the data of an influence task come from, as `fit`, `scores` and `loss`
/// take them.
///
/// A language model's data are JSON Lines files (`{"text"}` or `{"input_ids"}`; queries also
/// `{"prompt", "completion"}`); an MLP classifier's are CSV files with a label column, or
/// `fashion-mnist:train` / `fashion-mnist:test`.
public struct TaskInputs: Sendable {
    /// The model directory (config.json, weights and, for a language model, tokenizer.json).
    public var model: URL
    /// The training rows: a JSON Lines file, a CSV file, or `fashion-mnist:train` / `fashion-mnist:test`.
    public var train: String
    /// The queries, in the same form as the training rows; nil for none.
    public var queries: String?
    /// The label column of CSV data.
    public var labelColumn: String
    /// Keep the first this many training rows.
    public var maximumExamples: Int?
    /// Keep the first this many queries.
    public var maximumQueries: Int?

    /// Creates inputs.
    ///
    /// - Parameters:
    ///   - model: the model directory.
    ///   - train: the training rows.
    ///   - queries: the queries; nil for none.
    ///   - labelColumn: the label column of CSV data.
    ///   - maximumExamples: keep the first this many training rows (documents, for a language model).
    ///   - maximumQueries: keep the first this many queries.
    public init(
        model: URL, train: String, queries: String? = nil, labelColumn: String = "label", maximumExamples: Int? = nil,
        maximumQueries: Int? = nil
    ) {
        self.model = model
        self.train = train
        self.queries = queries
        self.labelColumn = labelColumn
        self.maximumExamples = maximumExamples
        self.maximumQueries = maximumQueries
    }
}

/// An influence task with what describes its rows to a person.
public struct LoadedTask {
    /// The influence task: the model with its training rows (documents cut into chunks) and queries.
    public let task: any InfluenceTask<Float>
    /// The model as loaded from its directory, with its tokenizer.
    public let model: LoadedModel<Float>
    /// The text of each training row (of each chunk, for a document cut into several).
    public let trainTexts: [String]
    /// The text of each query (empty for rows given as ids).
    public let queryTexts: [String]
    /// The training documents of a language model and the rows they became; nil for an MLP.
    public var documents: DocumentChunks? = nil
    /// The other fields of each training document's row (`source`, `language`, ...).
    public var documentMetadata: [[String: String]] = []
    /// The text of each training document (of each row, for an MLP).
    public var documentTexts: [String] = []
    /// The queries as read: prompt and completion texts, other fields.
    public var queryRows: QueryDataset = QueryDataset()

    /// The task of a language model of any family: its model behind `AnyCausalLanguageModel`.
    ///
    /// Workflows call the generic engine with the task as this concrete type (or
    /// `ClassificationTask<Float>`) rather than as an opened existential, so that the engine runs
    /// as compiled — specialised — for it: generic code run on an opened existential looks up
    /// generic metadata at every tensor operation, two to three times slower on small models.
    public typealias LanguageTask = LanguageModelingTask<AnyCausalLanguageModel<Float>>
}

/// Loading model directories and their data as influence tasks.
public enum TaskLoader {
    /// Loads the model of `inputs` and its training (and query) rows as an influence task: next-token
    /// prediction for a language model of any family, classification for an MLP or CNN classifier,
    /// regression for an MLP regressor.
    public static func load(_ inputs: TaskInputs) throws -> LoadedTask {
        let loaded = try ModelDirectory.load(from: inputs.model, as: Float.self)
        switch loaded.kind {
        case let .languageModel(model):
            return try languageModelingTask(ModelRegistry.erased(model), loaded, inputs)
        case let .multilayerPerceptron(network, configuration) where configuration.task == "regression":
            return try regressionTask(network, configuration, loaded, inputs)
        case let .multilayerPerceptron(_, configuration) where configuration.task != "classification":
            throw WorkflowError("\(inputs.model.path) is an MLP for \(configuration.task); influence takes classifiers, regressors and language models")
        case .multilayerPerceptron, .imageClassifier:
            return try classificationTask(loaded.classifier!, loaded, inputs)
        }
    }

    /// Loads a task that must be of type `T` (TracIn loads one per checkpoint, all of one kind).
    public static func load<T: InfluenceTask>(_: T.Type, _ inputs: TaskInputs) throws -> T {
        guard let task = try load(inputs).task as? T else {
            throw WorkflowError("\(inputs.model.path) is not the same kind of model as the others")
        }
        return task
    }

    static func languageModelingTask<Model: CausalLanguageModel>(_ model: Model, _ loaded: LoadedModel<Float>, _ inputs: TaskInputs) throws
        -> LoadedTask where Model.Scalar == Float
    {
        let tokenizer = loaded.tokenizer
        var training = try TextDataset.load(jsonLines: URL(fileURLWithPath: inputs.train), tokenizer: tokenizer, vocabularySize: model.vocabularySize)
        if let limit = inputs.maximumExamples, training.count > limit {
            training = TextDataset(
                sequences: Array(training.sequences.prefix(limit)), texts: Array(training.texts.prefix(limit)),
                metadata: Array(training.metadata.prefix(limit)))
        }
        // Documents longer than the context become several rows (DocumentChunks).
        let ids = training.metadata.enumerated().map { $1["id"] ?? String($0) }
        let documents = DocumentChunks(training.sequences, ids: ids, length: Swift.max(2, model.contextLength))
        let rowTexts = documents.sequences.indices.map { row -> String in
            let d = documents.documentOfRow[row]
            guard documents.rowRanges[d].count > 1 else { return training.texts[d] }
            return tokenizer.map { $0.decode(documents.sequences[row]) } ?? ""
        }
        var queries = QueryDataset()
        if let path = inputs.queries {
            queries = try QueryDataset.load(
                jsonLines: URL(fileURLWithPath: path), tokenizer: tokenizer, contextLength: model.contextLength,
                vocabularySize: model.vocabularySize)
        }
        if let limit = inputs.maximumQueries, queries.count > limit { queries = queries.prefix(limit) }
        let task = LanguageModelingTask(
            model: model, training: documents.sequences, queries: queries.sequences,
            queryPromptLengths: queries.promptLengths)
        return LoadedTask(
            task: task, model: loaded, trainTexts: rowTexts, queryTexts: queries.texts, documents: documents,
            documentMetadata: training.metadata, documentTexts: training.texts, queryRows: queries)
    }

    /// A classifier of any family (an MLP, a CNN) with labeled rows: a CSV file or FashionMNIST.
    static func classificationTask(_ classifier: FeatureClassifier<Float>, _ loaded: LoadedModel<Float>, _ inputs: TaskInputs) throws -> LoadedTask {
        let (count, classes) = (classifier.inputCount, classifier.classCount)
        let training = try labeledRows(
            inputs.train, labelColumn: inputs.labelColumn, limit: inputs.maximumExamples, inputShape: classifier.inputShape,
            classCount: classes, classNames: classifier.classNames)
        var query: (rows: LabeledDataset, texts: [String])? = nil
        if let queries = inputs.queries {
            query = try labeledRows(
                queries, labelColumn: inputs.labelColumn, limit: inputs.maximumQueries, inputShape: classifier.inputShape,
                classCount: classes, classNames: classifier.classNames)
        }
        let task = ClassificationTask(
            network: classifier.module, forward: classifier.forward, trainingFeatures: training.rows.features,
            trainingLabels: training.rows.labels,
            queryFeatures: query?.rows.features ?? Tensor<Float>.zeros(shape: [0, count]), queryLabels: query?.rows.labels ?? [])
        return LoadedTask(task: task, model: loaded, trainTexts: training.texts, queryTexts: query?.texts ?? [], documentTexts: training.texts)
    }

    /// An MLP regressor with CSV data: the target columns its config.json names (else
    /// `--label-column`), every other column a feature.
    static func regressionTask(
        _ network: MultilayerPerceptron<Float>, _ configuration: MLPConfiguration, _ loaded: LoadedModel<Float>,
        _ inputs: TaskInputs
    ) throws -> LoadedTask {
        let targets = configuration.targetColumns ?? [inputs.labelColumn]
        func rows(_ specification: String, limit: Int?) throws -> RegressionDataset {
            let url = URL(fileURLWithPath: specification)
            guard FileManager.default.fileExists(atPath: url.path) else {
                throw WorkflowError("\(url.path) does not exist (an MLP regressor's data is a CSV file with the columns \(targets.joined(separator: ", ")))")
            }
            var data = try RegressionDataset.load(csv: url, targetColumns: targets)
            if let limit { data = data.prefix(limit) }
            guard data.count > 0 else { throw WorkflowError("\(url.path) holds no rows") }
            guard data.features.shape[1] == network.inputCount else {
                throw WorkflowError(
                    "\(url.path) has \(data.features.shape[1]) feature columns besides \(targets.joined(separator: ", ")); the model takes \(network.inputCount) inputs"
                )
            }
            return data
        }
        let training = try rows(inputs.train, limit: inputs.maximumExamples)
        let query = try inputs.queries.map { try rows($0, limit: inputs.maximumQueries) }
        let task = RegressionTask(
            model: network, trainingFeatures: training.features, trainingTargets: training.targets,
            queryFeatures: query?.features ?? Tensor<Float>.zeros(shape: [0, network.inputCount]),
            queryTargets: query?.targets ?? Tensor<Float>.zeros(shape: [0, network.outputCount]))
        let describe: (RegressionDataset) -> [String] = { d in
            (0..<d.count).map { i in "target " + (0..<d.targets.shape[1]).map { String(format: "%.4g", Double(d.targets[i, $0])) }.joined(separator: ", ") }
        }
        let texts = describe(training)
        return LoadedTask(task: task, model: loaded, trainTexts: texts, queryTexts: query.map(describe) ?? [], documentTexts: texts)
    }

    /// Labelled rows for an MLP classifier: `fashion-mnist:train`, `fashion-mnist:test` (or
    /// `fashion-mnist`, the training split), or a CSV file with a label column, whose labels are
    /// read against the model's `classNames` when it records them (else they must be integers).
    ///
    /// - Throws: ``WorkflowError`` naming the source when it does not exist, holds no rows, has
    ///   another number of features than the model's inputs, or a label the model has no class for.
    public static func labeledRows(
        _ specification: String, labelColumn: String, limit: Int?, inputCount: Int, classCount: Int,
        classNames: [String]? = nil
    ) throws -> (rows: LabeledDataset, texts: [String]) {
        try labeledRows(specification, labelColumn: labelColumn, limit: limit, inputShape: [inputCount], classCount: classCount, classNames: classNames)
    }

    /// Labeled rows for a model whose examples have `inputShape` (`[features]`, or `[channels,
    /// height, width]` for an image model, whose rows are images flattened in that order).
    public static func labeledRows(
        _ specification: String, labelColumn: String, limit: Int?, inputShape: [Int], classCount: Int,
        classNames: [String]? = nil
    ) throws -> (rows: LabeledDataset, texts: [String]) {
        let inputCount = inputShape.reduce(1, *)
        var rows: LabeledDataset
        var names: [String]? = nil
        let source: String
        switch specification {
        case "fashion-mnist", "fashion-mnist:train", "fashion-mnist:test":
            rows = try FashionMNIST.load(specification.hasSuffix(":test") ? .test : .train, limit: limit)
            names = FashionMNIST.classNames
            source = specification
        default:
            let url = URL(fileURLWithPath: specification)
            guard FileManager.default.fileExists(atPath: url.path) else {
                throw WorkflowError("\(url.path) does not exist (MLP data is a CSV file, fashion-mnist:train or fashion-mnist:test)")
            }
            rows = try LabeledDataset.load(csv: url, labelColumn: labelColumn, classNames: classNames)
            names = classNames
            if let limit { rows = rows.prefix(limit) }
            source = url.path
        }
        guard rows.count > 0 else { throw WorkflowError("\(source) holds no rows") }
        guard rows.featureCount == inputCount else {
            if inputShape.count == 3 {
                let shape = inputShape.map(String.init).joined(separator: "×")
                throw WorkflowError(
                    "\(source) has \(rows.featureCount) values per row, which are not images of \(shape) "
                        + "(\(inputCount) values) as the model's first layer takes them"
                        + (source.hasPrefix("fashion-mnist") ? " (FashionMNIST images are 1×28×28)" : ""))
            }
            throw WorkflowError("\(source) has \(rows.featureCount) feature columns; the model takes \(inputCount) inputs")
        }
        if let bad = rows.labels.firstIndex(where: { $0 < 0 || $0 >= classCount }) {
            throw WorkflowError("\(source): row \(bad + 1) has label \(rows.labels[bad]); the model has \(classCount) classes")
        }
        let texts = rows.labels.map { label in names.map { "\($0[label]) (label \(label))" } ?? "label \(label)" }
        return (rows, texts)
    }
}
