// libFuzzer harness for every parser a user feeds: one binary, the parser chosen by
// INFLUENCE_FUZZ_TARGET. Each input is written to a file in a private folder on tmpfs and read
// through the same public entry point the command-line tool uses, so file mapping, size checks
// and error paths are all exercised. Thrown errors are the expected outcome for malformed
// input; a crash, a trap, a hang or a sanitizer report is a defect. Built by scripts/fuzz.

import Datasets
import Formats
import Foundation
import ModelIO
import TensorCore
import Tokenizers
import Training

@testable import Influence

/// The parsers, by the name given in INFLUENCE_FUZZ_TARGET.
enum Target: String, CaseIterable {
    case safetensors, config, tokenizer, jsonl, csv, idx, factors, scores, checkpoints, json
}

/// What every input of a process shares: the chosen target, the scratch folder, fixtures.
final class Harness: @unchecked Sendable {
    let target: Target
    let scratch: URL
    let repository: URL
    /// The tokenizer text rows are encoded with (the JSONL target).
    let tokenizer: BytePairTokenizer
    /// Folders holding one family's checkpoint each; a config input's first byte picks one.
    let modelDirectories: [URL]

    static let shared = Harness()

    init() {
        guard let name = ProcessInfo.processInfo.environment["INFLUENCE_FUZZ_TARGET"], let target = Target(rawValue: name) else {
            let names = Target.allCases.map(\.rawValue).joined(separator: ", ")
            FileHandle.standardError.write(Data("set INFLUENCE_FUZZ_TARGET to one of: \(names)\n".utf8))
            exit(2)
        }
        self.target = target
        repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        scratch = URL(fileURLWithPath: base).appendingPathComponent("influence-fuzz-\(getpid())")
        try? FileManager.default.removeItem(at: scratch)
        try! FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(at: Harness.shared.scratch) }
        let fixtures = repository.appendingPathComponent("Tests/ModelIOTests/Fixtures")
        tokenizer = try! BytePairTokenizer(contentsOf: repository.appendingPathComponent("Tests/TokenizersTests/Fixtures/fortune-bpe.json"))
        var directories: [URL] = []
        let sources = Harness.modelFixtures.map { fixtures.appendingPathComponent($0) } + [repository.appendingPathComponent("Fuzz/Fixtures/mlp")]
        for (i, from) in sources.enumerated() {
            let directory = scratch.appendingPathComponent("model-\(i)")
            try! FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            for file in try! FileManager.default.contentsOfDirectory(atPath: from.path)
            where file.hasSuffix(".safetensors") && file != "reference.safetensors"
                || file == "model.safetensors.index.json"
            {
                try! FileManager.default.createSymbolicLink(at: directory.appendingPathComponent(file), withDestinationURL: from.appendingPathComponent(file))
            }
            directories.append(directory)
        }
        modelDirectories = directories
    }

    /// Checkpoints of the test fixtures the config target pairs a fuzzed config.json with, one per
    /// family; Fuzz/Fixtures/mlp (an MLP) comes after them.
    static let modelFixtures = [
        "tiny-gpt2", "families/llama-gqa", "families/neox-sequential-f16", "families/qwen2-bf16", "families/cnn-small",
        "families/mistral-window", "families/llama-sharded",
    ]

    /// Writes `bytes` to `name` in the scratch folder (or in `directory`) and returns its URL.
    func write(_ bytes: UnsafeRawBufferPointer, name: String, in directory: URL? = nil) -> URL {
        let url = (directory ?? scratch).appendingPathComponent(name)
        let fd = open(url.path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        precondition(fd >= 0, "cannot write \(url.path)")
        var offset = 0
        while offset < bytes.count {
            let n = Foundation.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            precondition(n > 0, "cannot write \(url.path)")
            offset += n
        }
        close(fd)
        return url
    }

    func run(_ bytes: UnsafeRawBufferPointer) {
        switch target {
        case .safetensors:
            let url = write(bytes, name: "input.safetensors")
            guard let file = try? SafeTensorsFile(contentsOf: url) else { return }
            for name in file.tensorNames {
                _ = try? file.tensor(named: name, as: Float.self)
                _ = try? file.tensor(named: name, as: Double.self)
            }
            _ = file.metadata.count
        case .config:
            guard let selector = bytes.first else { return }
            let directory = modelDirectories[Int(selector) % modelDirectories.count]
            _ = write(UnsafeRawBufferPointer(rebasing: bytes.dropFirst()), name: "config.json", in: directory)
            _ = try? ModelDirectory.load(from: directory, as: Float.self)
        case .tokenizer:
            guard let tokenizer = try? BytePairTokenizer(json: Data(bytes)) else { return }
            let ids = tokenizer.encode("Hello, world! Ünïcode façade — 日本語 \u{1F600}\n  tabs\tand spaces ")
            _ = tokenizer.decode(ids)
            _ = tokenizer.decode(ids, skippingSpecialTokens: true)
        case .jsonl:
            let url = write(bytes, name: "rows.jsonl")
            _ = try? TextDataset.load(jsonLines: url, tokenizer: tokenizer, maximumLength: 64, vocabularySize: tokenizer.vocabularySize)
            _ = try? QueryDataset.load(jsonLines: url, tokenizer: tokenizer, contextLength: 64, vocabularySize: tokenizer.vocabularySize)
        case .csv:
            let url = write(bytes, name: "table.csv")
            guard let table = try? CSVTable(contentsOf: url) else { return }
            if let label = table.columnNames.last {
                _ = try? table.labeledFeatures(labelColumn: label)
                _ = try? table.labeledFeatures(labelColumn: label, labelEncoding: .categorical)
                _ = try? table.labeledFeatures(labelColumn: label, labelEncoding: .classes(["a", "b", "0", "1"]))
            }
            _ = try? table.numericColumns(table.columnNames)
        case .idx:
            let url = write(bytes, name: "images.idx")
            _ = try? IDXFile(contentsOf: url)
            _ = try? IDXFile(contentsOf: url, maximumItems: 3)
        case .factors:
            let directory = scratch.appendingPathComponent("factors")
            try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            _ = write(bytes, name: InfluenceFactors.fileName, in: directory)
            _ = try? CurvatureStrategies.loadFit(from: directory)
        case .scores:
            let url = write(bytes, name: "partial-scores.safetensors")
            let checkpoint = ScoringCheckpoint(url: url, key: "fuzz")
            _ = try? checkpoint.load(
                moduleNames: ["h.0.mlp.c_fc", "h.0.mlp.c_proj"], mode: { _ in .dense(perModule: true, perToken: true) }, selfInfluence: true)
            _ = try? checkpoint.load(moduleNames: ["h.0.mlp.c_fc"], mode: { _ in .top(3) }, selfInfluence: false)
        case .checkpoints:
            let directory = scratch.appendingPathComponent("checkpoints")
            try? FileManager.default.createDirectory(at: directory.appendingPathComponent("step-1"), withIntermediateDirectories: true)
            _ = write(bytes, name: CheckpointIndex.fileName, in: directory)
            _ = try? CheckpointIndex(directory: directory)
        case .json:
            _ = try? JSONValue(parsing: Data(bytes))
        }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    Harness.shared.run(bytes)
    return 0
}
