/// Reading the pipeline sections of a tokenizer.json: `normalizer`, `pre_tokenizer`,
/// `decoder` and `post_processor`.
///
/// Each section's types are listed in a table from the `type` name to its reader; supporting a
/// new component is a reader plus a line in its table. A type missing from the table is a
/// `TokenizerFileError` of kind `.unsupported` that names the component and its field.
extension BytePairTokenizer {
    typealias ComponentReader<Result> = @Sendable (TokenizerField) throws -> Result

    // MARK: Normalizers

    /// The normalizer types, by `type`.
    static let normalizerReaders: [String: ComponentReader<[TextNormalization.Step]>] = [
        "Sequence": { field in
            try field.member("normalizers").elements().flatMap { try normalizationSteps(from: $0) }
        },
        "Prepend": { field in
            [.prepend(Array(try field.member("prepend").string().utf8))]
        },
        "Replace": { field in
            [.replace(try pattern(of: field), Array(try field.member("content").string().utf8))]
        },
        "NFC": { _ in [.unicode(.nfc)] },
        "NFD": { _ in [.unicode(.nfd)] },
        "NFKC": { _ in [.unicode(.nfkc)] },
        "NFKD": { _ in [.unicode(.nfkd)] },
    ]

    static func normalizationSteps(from field: TokenizerField) throws -> [TextNormalization.Step] {
        let type = try field.typeName()
        guard let reader = normalizerReaders[type] else {
            throw field.error(
                .unsupported, "normalizer \"\(type)\" is not supported; expected one of \(names(normalizerReaders))")
        }
        return try reader(field)
    }

    // MARK: Pre-tokenizers

    /// What a pre-tokenizer section amounts to.
    struct PreTokenizerReading {
        var steps: [PreTokenization.Step] = []
        /// Whether it ends with ByteLevel, so that the model works on bytes.
        var isByteLevel = false
    }

    /// The pre-tokenizer types, by `type`.
    static let preTokenizerReaders: [String: ComponentReader<PreTokenizerReading>] = [
        "ByteLevel": { field in
            // Absent options take Hugging Face's defaults (all true).
            let byteLevel = ByteLevelPreTokenizer(
                addsPrefixSpace: try field.flag("add_prefix_space", default: true),
                usesRegex: try field.flag("use_regex", default: true))
            return PreTokenizerReading(steps: byteLevel.steps, isByteLevel: true)
        },
        "Split": { field in
            let behavior = try splitBehavior(of: field, default: .isolated)
            let inverted = try field.flag("invert", default: false)
            let patternField = try field.member("pattern")
            if let regex = try patternField.optionalMember("Regex"), try regex.string() == gpt2Pattern,
                behavior == .isolated, !inverted
            {
                return PreTokenizerReading(steps: [.gpt2Split])  // the hand-written splitter
            }
            let splitter = PatternSplitter(regex: try pattern(of: field), behavior: behavior, inverted: inverted)
            return PreTokenizerReading(steps: [.split(splitter)])
        },
        "Metaspace": { field in
            PreTokenizerReading(steps: [.metaspace(try metaspace(field))])
        },
        "Digits": { field in
            let individually = try field.flag("individual_digits", default: false)
            let digits = RegularExpression(node: .scalarClass(.categories(.number)), pattern: #"\p{N}"#)
            return PreTokenizerReading(steps: [
                .split(PatternSplitter(regex: digits, behavior: individually ? .isolated : .contiguous, inverted: false))
            ])
        },
        "Punctuation": { field in
            let behavior = try splitBehavior(of: field, default: .isolated)
            return PreTokenizerReading(steps: [
                .split(PatternSplitter(regex: punctuation, behavior: behavior, inverted: false))
            ])
        },
        "Sequence": { field in
            var reading = PreTokenizerReading()
            for part in try field.member("pretokenizers").elements() {
                if reading.isByteLevel {
                    throw part.error(.unsupported, "ByteLevel must be the last pre-tokenizer of the sequence")
                }
                let partReading = try preTokenization(from: part)
                reading.steps += partReading.steps
                reading.isByteLevel = partReading.isByteLevel
            }
            return reading
        },
    ]

    /// `Punctuation`'s characters: general category P*, and the ASCII punctuation of Rust's
    /// `is_ascii_punctuation` (which includes symbols such as `$`, `+`, `<`, `^`, `|`).
    static let punctuation = RegularExpression(
        node: .scalarClass(
            .union([
                .categories(.punctuation), .range(0x21, 0x2F), .range(0x3A, 0x40), .range(0x5B, 0x60), .range(0x7B, 0x7E),
            ])),
        pattern: #"[\p{P}!-/:-@\[-`{-~]"#)

    /// The pre-tokenizer section; `null` is no pre-tokenisation (each text is one piece).
    static func preTokenization(from field: TokenizerField) throws -> PreTokenizerReading {
        guard field.value != .null else { return PreTokenizerReading() }
        let type = try field.typeName()
        guard let reader = preTokenizerReaders[type] else {
            throw try field.member("type").error(
                .unsupported, "pre-tokenizer \"\(type)\" is not supported; expected one of \(names(preTokenizerReaders))")
        }
        return try reader(field)
    }

    private static func splitBehavior(
        of field: TokenizerField, default defaultValue: SplitDelimiterBehavior
    ) throws -> SplitDelimiterBehavior {
        guard let behaviorField = try field.optionalMember("behavior") else { return defaultValue }
        let name = try behaviorField.string()
        guard let behavior = SplitDelimiterBehavior(rawValue: name) else {
            throw behaviorField.error(
                .invalidValue,
                "\(quoted(name)) is not a split behaviour; expected one of "
                    + SplitDelimiterBehavior.allCases.map { quoted($0.rawValue) }.joined(separator: ", "))
        }
        return behavior
    }

    private static func metaspace(_ field: TokenizerField) throws -> MetaspaceStep {
        let replacementField = try field.member("replacement")
        let replacement = try replacementField.string()
        guard replacement.unicodeScalars.count == 1, let scalar = replacement.unicodeScalars.first else {
            throw replacementField.error(.invalidValue, "expected a single character, found \(quoted(replacement))")
        }
        let scheme: MetaspaceStep.PrependScheme
        if let schemeField = try field.optionalMember("prepend_scheme") {
            let name = try schemeField.string()
            guard let value = MetaspaceStep.PrependScheme(rawValue: name) else {
                throw schemeField.error(
                    .invalidValue, "\(quoted(name)) is not a prepend scheme; expected \"always\", \"first\" or \"never\"")
            }
            scheme = value
        } else {
            // Files older than prepend_scheme have add_prefix_space instead.
            scheme = try field.flag("add_prefix_space", default: true) ? .always : .never
        }
        return MetaspaceStep(replacement: scalar, prependScheme: scheme, splits: try field.flag("split", default: true))
    }

    /// The pattern of a `Split` or `Replace`: `{"Regex": "…"}` compiled by `RegularExpression`, or
    /// `{"String": "…"}` matched verbatim.
    static func pattern(of field: TokenizerField) throws -> RegularExpression {
        let patternField = try field.member("pattern")
        if let string = try patternField.optionalMember("String") {
            return RegularExpression(matchingLiteral: try string.string())
        }
        guard let regexField = try patternField.optionalMember("Regex") else {
            throw patternField.error(.invalidValue, "expected {\"String\": …} or {\"Regex\": …}")
        }
        do {
            return try RegularExpression(regexField.string())
        } catch let error as RegularExpressionError {
            throw regexField.error(
                error.kind == .unsupported ? .unsupported : .invalidValue, "in the regular expression, \(error.message)")
        }
    }

    // MARK: Decoders

    /// The decoder types, by `type`.
    static let decoderReaders: [String: ComponentReader<[TokenDecoding.Step]>] = [
        "ByteLevel": { _ in [.byteLevel] },
        "Metaspace": { field in
            let step = try metaspace(field)
            return [.metaspace(replacement: step.replacement, removesFromFirst: step.prependScheme != .never)]
        },
        "Replace": { field in
            [.replace(try pattern(of: field), try field.member("content").string())]
        },
        "ByteFallback": { _ in [.byteFallback] },
        "Fuse": { _ in [.fuse] },
        "Strip": { field in
            let contentField = try field.member("content")
            let content = try contentField.string()
            guard content.unicodeScalars.count == 1, let scalar = content.unicodeScalars.first else {
                throw contentField.error(.invalidValue, "expected a single character, found \(quoted(content))")
            }
            let start = try field.member("start").integer()
            let stop = try field.member("stop").integer()
            guard start >= 0, stop >= 0 else {
                throw field.error(.invalidValue, "start and stop must not be negative")
            }
            return [.strip(content: scalar, start: start, stop: stop)]
        },
        "Sequence": { field in
            try field.member("decoders").elements().flatMap { try decodingSteps(from: $0) }
        },
    ]

    static func decodingSteps(from field: TokenizerField) throws -> [TokenDecoding.Step] {
        let type = try field.typeName()
        guard let reader = decoderReaders[type] else {
            throw field.error(
                .unsupported, "decoder \"\(type)\" is not supported; expected one of \(names(decoderReaders))")
        }
        return try reader(field)
    }

    // MARK: Post-processors

    /// The special tokens a post-processor puts before and after the ids of a text.
    struct Template {
        var prefix: [Int] = []
        var suffix: [Int] = []
    }

    /// The post-processor types, by `type`.
    static let postProcessorReaders: [String: ComponentReader<Template>] = [
        "ByteLevel": { _ in Template() },  // only adjusts offsets
        "TemplateProcessing": { field in try template(field) },
        "Sequence": { field in
            // Each processor wraps the output of the previous ones.
            var template = Template()
            for part in try field.member("processors").elements() {
                let inner = try postProcessorTemplate(part)
                template.prefix = inner.prefix + template.prefix
                template.suffix += inner.suffix
            }
            return template
        },
    ]

    static func readPostProcessor(_ field: TokenizerField, into definition: inout Definition) throws {
        let template = try postProcessorTemplate(field)
        let knownIDs = Set(definition.vocabulary.map(\.id)).union(definition.addedTokens.map(\.id))
        for id in template.prefix + template.suffix where !knownIDs.contains(id) {
            throw field.error(.invalidValue, "the template's id \(id) is neither in model.vocab nor an added token")
        }
        definition.templatePrefix = template.prefix
        definition.templateSuffix = template.suffix
    }

    private static func postProcessorTemplate(_ field: TokenizerField) throws -> Template {
        let type = try field.typeName()
        guard let reader = postProcessorReaders[type] else {
            throw try field.member("type").error(
                .unsupported, "post-processor \"\(type)\" is not supported; expected one of \(names(postProcessorReaders))")
        }
        return try reader(field)
    }

    /// A `TemplateProcessing`'s `single` template (the `pair` one is never used by `encode`).
    private static func template(_ field: TokenizerField) throws -> Template {
        var specialIDs: [String: [Int]] = [:]
        if let specials = try field.optionalMember("special_tokens") {
            for (name, entry) in try specials.members() {
                specialIDs[name] = try entry.member("ids").elements().map { try $0.integer() }
            }
        }
        var template = Template()
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
                if sawSequence { template.suffix += ids } else { template.prefix += ids }
            } else {
                throw item.error(.unsupported, "expected {\"Sequence\": …} or {\"SpecialToken\": …}")
            }
        }
        guard sawSequence else {
            throw try field.member("single").error(.unsupported, "the single template must contain sequence A")
        }
        return template
    }

    private static func names<Value>(_ table: [String: Value]) -> String {
        table.keys.sorted().map { "\"\($0)\"" }.joined(separator: ", ")
    }
}
