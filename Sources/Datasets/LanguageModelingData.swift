import Tokenizers

/// Training sequences for a language model built from documents.
public enum LanguageModelingData {
    /// Encodes documents, joins them with the end-of-text token, and cuts the stream into chunks of
    /// `length` tokens (the last partial chunk is dropped): every chunk is full, so no padding is
    /// needed in training.
    public static func chunkedStream(documents: [String], tokenizer: BytePairTokenizer, endOfText: Int?, length: Int) -> [[Int]] {
        var stream: [Int] = []
        for d in documents {
            stream += tokenizer.encode(d)
            if let endOfText { stream.append(endOfText) }
        }
        return Batching.chunks(stream, length: length, dropLast: true)
    }

    /// Splits examples into training and validation sets by a fixed fraction, deterministically
    /// (every k-th example goes to validation).
    public static func split<T>(_ examples: [T], validationFraction: Double) -> (train: [T], validation: [T]) {
        guard validationFraction > 0, examples.count >= 2 else { return (examples, []) }
        let every = Swift.max(2, Int((1 / validationFraction).rounded()))
        var train: [T] = [], validation: [T] = []
        for (i, e) in examples.enumerated() {
            if i % every == every - 1 { validation.append(e) } else { train.append(e) }
        }
        return (train, validation)
    }
}
