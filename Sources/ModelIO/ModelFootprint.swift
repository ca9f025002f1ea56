import Foundation
import Formats
import NeuralNetworks

/// The size of a model, checked before any of it is allocated.
///
/// A configuration is only numbers: `n_embd = 10^9` in a config.json, or `--width` on the
/// command line, would otherwise be trusted until the allocation aborts the process, an index
/// product overflows, or the kernel kills it for memory. Every family counts the parameters its
/// configuration implies in floating point (which cannot overflow), and ``check(parameters:copies:what:path:checkpointElements:)``
/// refuses a model that is larger than the memory this machine has available, or than the
/// checkpoint it is to be read from, naming the sizes.
public enum ModelFootprint {
    /// Bytes of memory this process can use: `MemAvailable` of /proc/meminfo, else the physical memory.
    public static var availableBytes: Double {
        if let data = try? readRegularFile(atPath: "/proc/meminfo"), let text = String(data: data, encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix("MemAvailable:") }),
            let kib = Double(line.split(separator: " ").dropFirst().first ?? "")
        {
            return kib * 1024
        }
        return Double(ProcessInfo.processInfo.physicalMemory)
    }

    /// `bytes` for people: "1.2 GB", "48 EB".
    public static func formatted(bytes: Double) -> String {
        let units = ["bytes", "kB", "MB", "GB", "TB", "PB", "EB"]
        var value = bytes, unit = 0
        while value >= 1000 && unit < units.count - 1 { value /= 1000; unit += 1 }
        if !value.isFinite || value >= 1000 { return String(format: "%.1e bytes", bytes) }
        return unit == 0 ? "\(Int(value)) bytes" : String(format: "%.1f %@", value, units[unit])
    }

    /// Refuses a model of `parameters` float32 parameters that cannot be held: `copies` of its
    /// weights (1 to read a model, 4 to train one: weights, gradients and Adam's two moments)
    /// beyond the available memory, or more parameters than the checkpoint's tensors hold
    /// (`checkpointElements`, when the model is read from one).
    ///
    /// - Parameters:
    ///   - what: the configuration's sizes, for the message ("n_embd 1000000000, n_layer 12").
    ///   - path: the file or option the sizes came from.
    public static func check(parameters: Double, copies: Double = 1, what: String, path: String, checkpointElements: Int? = nil) throws {
        let bytes = parameters * 4 * copies
        guard parameters.isFinite, parameters < Double(Int.max) / 64 else {
            throw ModelIOError.malformedConfiguration(
                path: path,
                reason: "\(what) describe a model of \(String(format: "%.2g", parameters)) parameters, "
                    + "beyond any machine's memory")
        }
        if let elements = checkpointElements, parameters > 1.05 * Double(elements) + 4096 {
            throw ModelIOError.malformedConfiguration(
                path: path,
                reason: "\(what) describe \(Int(parameters)) parameters, but the checkpoint's tensors "
                    + "hold \(elements) values: the configuration does not match the weights")
        }
        let available = availableBytes
        guard bytes <= available else {
            let purpose = copies > 1 ? "to train (weights, gradients and two optimizer moments)" : "for its weights alone"
            throw ModelIOError.malformedConfiguration(
                path: path,
                reason: "\(what) describe a model of \(Int(parameters)) parameters, which needs "
                    + "\(formatted(bytes: bytes)) of memory \(purpose); this machine has \(formatted(bytes: available)) available")
        }
    }

    /// The values the checkpoint of `directory` holds, summed over its tensors (headers only).
    static func checkpointElements(in directory: URL) throws -> Int {
        try CheckpointWeights.files(in: directory).reduce(0) { total, file in
            total + file.entries.reduce(0) { $0 + $1.elementCount }
        }
    }
}

extension GPT2Configuration {
    /// The parameters this configuration implies, counted in floating point.
    public var parameterEstimate: Double {
        let v = Double(vocabularySize), p = Double(contextLength), c = Double(embeddingSize), f = Double(feedForwardSize), l = Double(layerCount)
        let block = 3 * c * c + 3 * c + c * c + c + 2 * c * f + f + c + 4 * c
        return v * c * (tieWordEmbeddings ? 1 : 2) + p * c + l * block + 2 * c
    }

    var sizeDescription: String {
        "vocab_size \(vocabularySize), n_positions \(contextLength), n_embd \(embeddingSize), n_layer \(layerCount), n_inner \(feedForwardSize)"
    }
}

extension LlamaConfiguration {
    /// The parameters this configuration implies, counted in floating point.
    public var parameterEstimate: Double {
        let v = Double(vocabularySize), h = Double(hiddenSize), i = Double(intermediateSize), l = Double(layerCount)
        let heads = Double(headCount), groups = Double(keyValueHeadCount), head = Double(headSize)
        let attention = h * heads * head + 2 * h * groups * head + heads * head * h
        return v * h * (tieWordEmbeddings ? 1 : 2) + l * (attention + 3 * h * i + 2 * h) + h
    }

    var sizeDescription: String {
        "vocab_size \(vocabularySize), hidden_size \(hiddenSize), intermediate_size \(intermediateSize), num_hidden_layers \(layerCount), "
            + "num_attention_heads \(headCount)"
    }
}

extension GPTNeoXConfiguration {
    /// The parameters this configuration implies, counted in floating point.
    public var parameterEstimate: Double {
        let v = Double(vocabularySize), h = Double(hiddenSize), i = Double(intermediateSize), l = Double(layerCount)
        return v * h * (tieWordEmbeddings ? 1 : 2) + l * (4 * h * h + 2 * h * i + 4 * h + i + 5 * h) + 2 * h
    }

    var sizeDescription: String {
        "vocab_size \(vocabularySize), hidden_size \(hiddenSize), intermediate_size \(intermediateSize), num_hidden_layers \(layerCount)"
    }
}

extension ModelFootprint {
    /// The parameters of an MLP with these layer sizes (weights and biases), in floating point.
    public static func multilayerPerceptronParameters(sizes: [Int]) -> Double {
        zip(sizes, sizes.dropFirst()).reduce(0) { $0 + (Double($1.0) + 1) * Double($1.1) }
    }
}
