import Datasets
import Formats
import Foundation
import Tokenizers

/// `influence tokenize`: how a tokenizer cuts each row's text.
struct TokenizeCommand: Subcommand {
    static let name = "tokenize"
    static let abstract = "Print the token ids and tokens of each row's text, as a tokenizer.json encodes it."
    static let options: [OptionSpecification] = [
        .value("tokenizer", "tokenizer.json", required: true, "A Hugging Face tokenizer.json (byte-level BPE, regex-split BPE or SentencePiece-style BPE)."),
        .value("data", "FILE", required: true, "JSON Lines rows with \"text\" (or \"prompt\" and \"completion\", encoded as the scores command does)."),
        .flag("no-special-tokens", "Do not apply the post-processor (no BOS or EOS added)."),
    ]
    static let discussion = """
        Output: one line per row, {"input_ids": [...], "tokens": [...]}, with the post-processor applied as
        Hugging Face's encode does by default (add_special_tokens=True); tokens are the vocabulary's strings.
        """

    let tokenizer: URL, data: URL, special: Bool

    init(_ arguments: ParsedArguments) throws {
        tokenizer = arguments.path("tokenizer")!
        data = arguments.path("data")!
        special = !arguments.flag("no-special-tokens")
    }

    func run() throws {
        let tokenizer = try BytePairTokenizer(contentsOf: self.tokenizer)
        guard FileManager.default.fileExists(atPath: data.path) else { throw CommandFailure("\(data.path) does not exist") }
        let reader = try JSONLinesReader(contentsOf: data)
        try reader.forEachObject { line, row in
            let ids: [Int], tokens: [String]
            if let text = row["text"]?.stringValue {
                ids = tokenizer.encode(text, addingSpecialTokens: special)
                tokens = tokenizer.tokens(of: text, addingSpecialTokens: special)
            } else if let prompt = row["prompt"]?.stringValue, let completion = row["completion"]?.stringValue {
                ids = tokenizer.encode(prompt, addingSpecialTokens: special) + tokenizer.encode(completion, addingSpecialTokens: false)
                tokens = tokenizer.tokens(of: prompt, addingSpecialTokens: special) + tokenizer.tokens(of: completion, addingSpecialTokens: false)
            } else {
                throw CommandFailure("\(data.path):\(line): a row needs a \"text\" string, or \"prompt\" and \"completion\" strings")
            }
            let out: JSONValue = .object(["input_ids": .array(ids.map { .number(Double($0)) }), "tokens": .array(tokens.map { .string($0) })])
            print(try out.serialized())
        }
    }
}
