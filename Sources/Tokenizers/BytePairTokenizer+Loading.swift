import Foundation

extension BytePairTokenizer {
    /// Ids must lie below this, so that a malformed file cannot make us allocate gigabytes.
    static let idLimit = 1 << 24

    /// GPT-2's pre-tokenisation pattern, as a `Split` pre-tokenizer spells it.
    static let gpt2Pattern = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#

    /// Reads a Hugging Face tokenizer.json.
    ///
    /// Supported: a `BPE` model over bytes (GPT-2, Llama 3, Qwen2) or over characters with
    /// byte fallback (Llama 2, Mistral), merges as `"a b"` strings or `["a", "b"]` pairs; the
    /// normalizers `Prepend`, `Replace`, `NFC`, `NFD`, `NFKC`, `NFKD` and `Sequence`; the
    /// pre-tokenizers `ByteLevel`, `Split` (any pattern `RegularExpression` compiles, or a
    /// string), `Metaspace`, `Digits`, `Punctuation` and `Sequence`, or none; the decoders
    /// `ByteLevel`, `Metaspace`, `Replace`, `ByteFallback`, `Fuse`, `Strip` and `Sequence`; the
    /// post-processors `ByteLevel`, `TemplateProcessing` and `Sequence`; and added tokens. A
    /// missing decoder is read as ByteLevel for byte-level files.
    ///
    /// - Throws: `TokenizerFileError` naming the file and the field when the file cannot be
    ///   read, is not JSON, lacks a field, or asks for something unsupported (another model
    ///   type, another normalizer, a regex construct the engine refuses, dropout, truncation, …).
    public init(contentsOf url: URL) throws {
        let data: Data
        // A FIFO or device would block the read forever: only a regular file is read.
        if let type = try? FileManager.default.attributesOfItem(atPath: url.path)[.type] as? FileAttributeType, type != .typeRegular {
            throw TokenizerFileError(
                .unreadable, file: url.path, field: nil,
                message: type == .typeDirectory ? "is a directory, not a tokenizer.json file" : "is not a regular file")
        }
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw TokenizerFileError(
                .unreadable, file: url.path, field: nil, message: "cannot be read (\(error.localizedDescription))")
        }
        try self.init(json: data, file: url.path)
    }

    /// Reads a tokenizer from the contents of a tokenizer.json.
    ///
    /// - Parameter file: the name that error messages give the data.
    /// - Throws: `TokenizerFileError`, as `init(contentsOf:)`.
    public init(json data: Data, file: String = "tokenizer.json") throws {
        let root: JSONValue
        do {
            root = try data.withUnsafeBytes { try JSONValue.parse($0.bindMemory(to: UInt8.self)) }
        } catch let error as JSONSyntaxError {
            throw TokenizerFileError(
                .notJSON, file: file, field: nil,
                message: "is not valid JSON: \(error.message) at line \(error.line), column \(error.column)")
        }
        self.init(try Self.definition(from: TokenizerField(value: root, path: "", file: file)))
    }

    static func definition(from root: TokenizerField) throws -> Definition {
        guard case .object = root.value else {
            throw root.error(.wrongType, "expected a JSON object at the top level, found \(root.value.kindName)")
        }
        for key in ["truncation", "padding"] {
            if let field = try root.optionalMember(key) {
                throw field.error(.unsupported, "must be null: encoding here never truncates or pads")
            }
        }
        var normalization = TextNormalization()
        let normalizer = try root.optionalMember("normalizer")
        if let normalizer {
            normalization.steps = try normalizationSteps(from: normalizer)
        }

        let model = try root.member("model")
        guard case .object = model.value else {
            throw model.error(.wrongType, "expected an object, found \(model.value.kindName)")
        }
        if let typeField = try model.optionalMember("type") {
            let type = try typeField.string()
            guard type == "BPE" else {
                throw typeField.error(.unsupported, "model type \"\(type)\" is not supported; expected \"BPE\"")
            }
        }
        var definition = try vocabularyAndMerges(of: model)
        definition.normalization = normalization
        definition.normalizerJSON = normalizer?.value ?? .null

        let preTokenizer = try root.member("pre_tokenizer")
        let preTokenization = try preTokenization(from: preTokenizer)
        definition.preTokenization = PreTokenization(steps: preTokenization.steps)
        definition.preTokenizerJSON = preTokenizer.value
        definition.alphabet = preTokenization.isByteLevel ? .bytes : .scalars

        if let decoder = try root.optionalMember("decoder") {
            definition.decoding = TokenDecoding(steps: try decodingSteps(from: decoder))
            definition.decoderJSON = decoder.value
        } else {
            // A missing decoder: byte-level files are read as ByteLevel; otherwise Hugging Face
            // joins the tokens with spaces.
            definition.decoding =
                preTokenization.isByteLevel
                ? TokenDecoding(steps: [.byteLevel]) : TokenDecoding(steps: [], joinsWithSpaces: true)
        }
        if !preTokenization.isByteLevel,
            definition.decoding.steps.contains(where: {
                if case .byteLevel = $0 { return true } else { return false }
            })
        {
            let what = preTokenizer.value == .null ? "a missing pre-tokenizer" : "a pre-tokenizer without ByteLevel"
            throw preTokenizer.error(
                .unsupported,
                "\(what) is not supported with a ByteLevel decoder; expected a \"ByteLevel\" pre-tokenizer "
                    + "(or a Sequence ending with one) to map the text to bytes")
        }

        try readModelOptions(of: model, byteLevel: preTokenization.isByteLevel, into: &definition)
        try readAddedTokens(of: root, into: &definition)
        if let postProcessor = try root.optionalMember("post_processor") {
            try readPostProcessor(postProcessor, into: &definition)
            definition.postProcessorJSON = postProcessor.value
        }
        return definition
    }

    // MARK: Model

    private static func vocabularyAndMerges(of model: TokenizerField) throws -> Definition {
        let vocabularyField = try model.member("vocab")
        var vocabulary: [(token: String, id: Int)] = []
        // Keyed by UTF-8 bytes: String equality is canonical equivalence, and a vocabulary may
        // hold both "é" and "e\u{301}".
        var idsByToken: [[UInt8]: Int] = [:]
        var tokensByID: [Int: String] = [:]
        for (token, field) in try vocabularyField.members() {
            let id = try field.integer()
            guard (0..<idLimit).contains(id) else {
                throw field.error(.invalidValue, "id \(id) is outside 0..<\(idLimit)")
            }
            if let other = tokensByID[id] {
                throw field.error(.invalidValue, "id \(id) is also the id of \(quoted(other))")
            }
            if idsByToken[Array(token.utf8)] != nil {
                throw field.error(.invalidValue, "the token \(quoted(token)) is listed twice")
            }
            idsByToken[Array(token.utf8)] = id
            tokensByID[id] = token
            vocabulary.append((token, id))
        }
        vocabulary.sort { $0.id < $1.id }

        var merges: [(left: Int, right: Int, merged: Int)] = []
        for entry in try model.member("merges").elements() {
            let (left, right) = try mergePair(entry)
            guard let leftID = idsByToken[Array(left.utf8)] else {
                throw entry.error(.invalidValue, "names the token \(quoted(left)), which is not in model.vocab")
            }
            guard let rightID = idsByToken[Array(right.utf8)] else {
                throw entry.error(.invalidValue, "names the token \(quoted(right)), which is not in model.vocab")
            }
            guard let mergedID = idsByToken[Array(left.utf8) + Array(right.utf8)] else {
                throw entry.error(
                    .invalidValue, "merges into \(quoted(left + right)), which is not in model.vocab")
            }
            merges.append((leftID, rightID, mergedID))
        }
        return Definition(
            vocabulary: vocabulary, merges: merges, addedTokens: [], unknownID: nil,
            preTokenization: PreTokenization(steps: []), preTokenizerJSON: .null,
            postProcessorJSON: .null, decoderJSON: .null)
    }

    /// The two tokens of a merge written as `"a b"` (older files) or `["a", "b"]` (newer).
    private static func mergePair(_ entry: TokenizerField) throws -> (String, String) {
        switch entry.value {
        case .string(let text):
            let bytes = Array(text.utf8)
            let spaces = bytes.indices.filter { bytes[$0] == 0x20 }
            guard spaces.count == 1, spaces[0] > 0, spaces[0] < bytes.count - 1 else {
                throw entry.error(.invalidValue, "\(quoted(text)) is not two tokens separated by one space")
            }
            return (
                String(decoding: bytes[..<spaces[0]], as: UTF8.self),
                String(decoding: bytes[(spaces[0] + 1)...], as: UTF8.self)
            )
        case .array(let parts):
            guard parts.count == 2, case .string(let left) = parts[0], case .string(let right) = parts[1],
                !left.isEmpty, !right.isEmpty
            else {
                throw entry.error(.invalidValue, "expected a pair of two non-empty token strings")
            }
            return (left, right)
        default:
            throw entry.error(
                .wrongType, "expected a merge as \"left right\" or [\"left\", \"right\"], found \(entry.value.kindName)")
        }
    }

    private static func readModelOptions(
        of model: TokenizerField, byteLevel: Bool, into definition: inout Definition
    ) throws {
        if let dropout = try model.optionalMember("dropout") {
            switch dropout.value {
            case .integer(0), .number(0): break
            default: throw dropout.error(.unsupported, "BPE dropout is not supported; expected null")
            }
        }
        for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if let field = try model.optionalMember(key), try field.string() != "" {
                throw field.error(.unsupported, "subword affixes are not supported; expected null")
            }
        }
        if try model.flag("byte_fallback", default: false) {
            guard !byteLevel else {
                throw try model.member("byte_fallback").error(
                    .unsupported,
                    "byte fallback is not supported with a ByteLevel pre-tokenizer (every byte "
                        + "already has a token); expected false")
            }
            definition.usesByteFallback = true
        }
        if let unknown = try model.optionalMember("unk_token") {
            let token = try unknown.string()
            guard let id = definition.vocabulary.first(where: { $0.token.utf8.elementsEqual(token.utf8) })?.id else {
                throw unknown.error(.invalidValue, "the token \(quoted(token)) is not in model.vocab")
            }
            definition.unknownID = id
        }
        definition.fusesUnknown = try model.flag("fuse_unk", default: false)
        definition.ignoresMerges = try model.flag("ignore_merges", default: false)
    }

    // MARK: Added tokens

    private static func readAddedTokens(of root: TokenizerField, into definition: inout Definition) throws {
        guard let list = try root.optionalMember("added_tokens") else { return }
        var vocabularyIDs: [[UInt8]: Int] = [:]
        var vocabularyTokens: [Int: String] = [:]
        for entry in definition.vocabulary {
            vocabularyIDs[Array(entry.token.utf8)] = entry.id
            vocabularyTokens[entry.id] = entry.token
        }
        var seenIDs: Set<Int> = []
        for entry in try list.elements() {
            let idField = try entry.member("id")
            let id = try idField.integer()
            guard (0..<idLimit).contains(id) else {
                throw idField.error(.invalidValue, "id \(id) is outside 0..<\(idLimit)")
            }
            let contentField = try entry.member("content")
            let content = try contentField.string()
            guard !content.isEmpty else { throw contentField.error(.invalidValue, "an added token cannot be empty") }
            if let vocabularyID = vocabularyIDs[Array(content.utf8)], vocabularyID != id {
                throw idField.error(
                    .invalidValue, "\(quoted(content)) has id \(vocabularyID) in model.vocab but \(id) here")
            }
            if let other = vocabularyTokens[id], !other.utf8.elementsEqual(content.utf8) {
                throw idField.error(.invalidValue, "id \(id) is the id of \(quoted(other)) in model.vocab")
            }
            guard seenIDs.insert(id).inserted else {
                throw idField.error(.invalidValue, "id \(id) is used by another added token")
            }
            if try entry.flag("single_word", default: false) {
                throw try entry.member("single_word").error(.unsupported, "single-word matching is not supported; expected false")
            }
            let isSpecial = try entry.flag("special", default: false)
            definition.addedTokens.append(
                AddedToken(
                    content: content, id: id, isSpecial: isSpecial,
                    stripsLeft: try entry.flag("lstrip", default: false),
                    stripsRight: try entry.flag("rstrip", default: false),
                    isNormalized: try entry.flag("normalized", default: !isSpecial)))
        }
    }

    static func quoted(_ token: String) -> String {
        var text = "\""
        for scalar in token.unicodeScalars {
            switch scalar {
            case "\"": text += "\\\""
            case "\\": text += "\\\\"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    text += "\\u{\(String(scalar.value, radix: 16))}"
                } else {
                    text.unicodeScalars.append(scalar)
                }
            }
        }
        return text + "\""
    }
}
