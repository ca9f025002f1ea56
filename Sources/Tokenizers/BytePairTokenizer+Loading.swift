import Foundation

extension BytePairTokenizer {
    /// Ids must lie below this, so that a malformed file cannot make us allocate gigabytes.
    static let idLimit = 1 << 24

    /// GPT-2's pre-tokenisation pattern, as a `Split` pre-tokenizer spells it.
    static let gpt2Pattern = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#

    /// Reads a Hugging Face tokenizer.json.
    ///
    /// Supported: a `BPE` model (merges as `"a b"` strings or `["a", "b"]` pairs), a
    /// `ByteLevel` pre-tokenizer (or a `Sequence` of GPT-2 `Split`s ending with one), a
    /// `ByteLevel` decoder, a `ByteLevel` or `TemplateProcessing` post-processor, and added
    /// tokens. A missing decoder is read as ByteLevel.
    ///
    /// - Throws: `TokenizerFileError` naming the file and the field when the file cannot be
    ///   read, is not JSON, lacks a field, or asks for something unsupported (another model
    ///   type, a normaliser, dropout, truncation, …).
    public init(contentsOf url: URL) throws {
        let data: Data
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
        if let normalizer = try root.optionalMember("normalizer") {
            let type = (try? normalizer.typeName()).map { "\"\($0)\"" } ?? "a normalizer"
            throw normalizer.error(.unsupported, "\(type) is not supported; expected null (GPT-2 has no normalizer)")
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
        try readModelOptions(of: model, into: &definition)
        try readAddedTokens(of: root, into: &definition)

        let preTokenizer = try root.member("pre_tokenizer")
        definition.preTokenization = try preTokenization(from: preTokenizer)
        definition.preTokenizerJSON = preTokenizer.value

        if let decoder = try root.optionalMember("decoder") {
            let type = try decoder.typeName()
            guard type == "ByteLevel" else {
                throw decoder.error(.unsupported, "decoder \"\(type)\" is not supported; expected \"ByteLevel\"")
            }
            definition.decoderJSON = decoder.value
        }
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
        var idsByToken: [String: Int] = [:]
        var tokensByID: [Int: String] = [:]
        for (token, field) in try vocabularyField.members() {
            let id = try field.integer()
            guard (0..<idLimit).contains(id) else {
                throw field.error(.invalidValue, "id \(id) is outside 0..<\(idLimit)")
            }
            if let other = tokensByID[id] {
                throw field.error(.invalidValue, "id \(id) is also the id of \(quoted(other))")
            }
            if idsByToken[token] != nil {
                throw field.error(.invalidValue, "the token \(quoted(token)) is listed twice")
            }
            idsByToken[token] = id
            tokensByID[id] = token
            vocabulary.append((token, id))
        }
        vocabulary.sort { $0.id < $1.id }

        var merges: [(left: Int, right: Int, merged: Int)] = []
        for entry in try model.member("merges").elements() {
            let (left, right) = try mergePair(entry)
            guard let leftID = idsByToken[left] else {
                throw entry.error(.invalidValue, "names the token \(quoted(left)), which is not in model.vocab")
            }
            guard let rightID = idsByToken[right] else {
                throw entry.error(.invalidValue, "names the token \(quoted(right)), which is not in model.vocab")
            }
            guard let mergedID = idsByToken[left + right] else {
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

    private static func readModelOptions(of model: TokenizerField, into definition: inout Definition) throws {
        if let dropout = try model.optionalMember("dropout") {
            switch dropout.value {
            case .integer(0), .number(0): break
            default: throw dropout.error(.unsupported, "BPE dropout is not supported; expected null")
            }
        }
        for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if let field = try model.optionalMember(key), try field.string() != "" {
                throw field.error(.unsupported, "is not supported by byte-level BPE; expected null")
            }
        }
        if try model.flag("byte_fallback", default: false) {
            throw try model.member("byte_fallback").error(.unsupported, "is not supported; expected false")
        }
        if let unknown = try model.optionalMember("unk_token") {
            let token = try unknown.string()
            guard let id = definition.vocabulary.first(where: { $0.token == token })?.id else {
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
        var vocabularyIDs: [String: Int] = [:]
        var vocabularyTokens: [Int: String] = [:]
        for entry in definition.vocabulary {
            vocabularyIDs[entry.token] = entry.id
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
            if let vocabularyID = vocabularyIDs[content], vocabularyID != id {
                throw idField.error(
                    .invalidValue, "\(quoted(content)) has id \(vocabularyID) in model.vocab but \(id) here")
            }
            if let other = vocabularyTokens[id], other != content {
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

    // MARK: Pre-tokenizer and post-processor

    private static func preTokenization(from field: TokenizerField) throws -> PreTokenization {
        guard field.value != .null else {
            throw field.error(.unsupported, "a missing pre-tokenizer is not supported; expected \"ByteLevel\"")
        }
        let type = try field.typeName()
        switch type {
        case "ByteLevel":
            return PreTokenization(steps: try byteLevelSteps(field))
        case "Sequence":
            let parts = try field.member("pretokenizers").elements()
            var steps: [PreTokenization.Step] = []
            for (index, part) in parts.enumerated() {
                switch try part.typeName() {
                case "ByteLevel":
                    guard index == parts.count - 1 else {
                        throw part.error(.unsupported, "ByteLevel must be the last pre-tokenizer of the sequence")
                    }
                    steps += try byteLevelSteps(part)
                case "Split":
                    try checkGPT2Split(part)
                    steps.append(.gpt2Split)
                case let other:
                    throw try part.member("type").error(
                        .unsupported, "pre-tokenizer \"\(other)\" is not supported; expected \"ByteLevel\" or a GPT-2 \"Split\"")
                }
            }
            guard parts.last.map({ (try? $0.typeName()) == "ByteLevel" }) == true else {
                throw field.error(.unsupported, "a sequence must end with a ByteLevel pre-tokenizer")
            }
            return PreTokenization(steps: steps)
        default:
            throw try field.member("type").error(
                .unsupported, "pre-tokenizer \"\(type)\" is not supported; expected \"ByteLevel\"")
        }
    }

    /// ByteLevel's options; absent ones take Hugging Face's defaults (all true).
    private static func byteLevelSteps(_ field: TokenizerField) throws -> [PreTokenization.Step] {
        let pre = ByteLevelPreTokenizer(
            addsPrefixSpace: try field.flag("add_prefix_space", default: true),
            usesRegex: try field.flag("use_regex", default: true))
        return pre.steps
    }

    private static func checkGPT2Split(_ field: TokenizerField) throws {
        let pattern = try field.member("pattern")
        guard let regex = try pattern.optionalMember("Regex") else {
            throw pattern.error(.unsupported, "only a GPT-2 {\"Regex\": …} pattern is supported")
        }
        guard try regex.string() == gpt2Pattern else {
            throw regex.error(.unsupported, "only GPT-2's pattern \(quoted(gpt2Pattern)) is supported")
        }
        if let behavior = try field.optionalMember("behavior"), try behavior.string() != "Isolated" {
            throw behavior.error(.unsupported, "only \"Isolated\" is supported")
        }
        if try field.flag("invert", default: false) {
            throw try field.member("invert").error(.unsupported, "an inverted split is not supported")
        }
    }

    private static func readPostProcessor(_ field: TokenizerField, into definition: inout Definition) throws {
        let type = try field.typeName()
        switch type {
        case "ByteLevel":
            return  // only adjusts offsets
        case "TemplateProcessing":
            var specialIDs: [String: [Int]] = [:]
            if let specials = try field.optionalMember("special_tokens") {
                for (name, entry) in try specials.members() {
                    specialIDs[name] = try entry.member("ids").elements().map { try $0.integer() }
                }
            }
            var sawSequence = false
            for item in try field.member("single").elements() {
                if let sequence = try item.optionalMember("Sequence") {
                    guard try sequence.member("id").string() == "A", !sawSequence else {
                        throw sequence.error(.unsupported, "the single template must contain sequence A exactly once")
                    }
                    sawSequence = true
                } else if let special = try item.optionalMember("SpecialToken") {
                    let nameField = try special.member("id")
                    let name = try nameField.string()
                    guard let ids = specialIDs[name] else {
                        throw nameField.error(.invalidValue, "\(quoted(name)) is not in post_processor.special_tokens")
                    }
                    if sawSequence { definition.templateSuffix += ids } else { definition.templatePrefix += ids }
                } else {
                    throw item.error(.unsupported, "expected {\"Sequence\": …} or {\"SpecialToken\": …}")
                }
            }
            guard sawSequence else {
                throw try field.member("single").error(.unsupported, "the single template must contain sequence A")
            }
            let knownIDs = Set(definition.vocabulary.map(\.id)).union(definition.addedTokens.map(\.id))
            for id in definition.templatePrefix + definition.templateSuffix where !knownIDs.contains(id) {
                throw field.error(.invalidValue, "the template's id \(id) is neither in model.vocab nor an added token")
            }
        default:
            throw try field.member("type").error(
                .unsupported, "post-processor \"\(type)\" is not supported; expected \"ByteLevel\" or \"TemplateProcessing\"")
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
