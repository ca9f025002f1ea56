import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension BytePairTokenizer {
    /// Writes the tokenizer as a Hugging Face tokenizer.json, atomically.
    ///
    /// The text goes to a temporary file in the destination's directory, is flushed to disk,
    /// and is then renamed over the destination, so readers see either the old file or the
    /// complete new one. Merges are written as `"left right"` strings, which every version of
    /// `tokenizers` reads (byte-level and SentencePiece tokens never contain a space); if some
    /// token does contain a space they are written as `["left", "right"]` pairs instead. The
    /// vocabulary is written in id order; the normalizer, pre-tokenizer, post-processor and
    /// decoder sections as they were read.
    ///
    /// - Throws: `TokenizerFileError` of kind `.unwritable` naming the file.
    public func save(to url: URL) throws {
        let bytes = Array(jsonDocument().formatted().utf8)
        let directory = url.deletingLastPathComponent()
        let temporary = directory.appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString).tmp")
        func failure(_ what: String, _ code: Int32) -> TokenizerFileError {
            TokenizerFileError(
                .unwritable, file: url.path, field: nil, message: "\(what) (\(String(cString: strerror(code))))")
        }

        let descriptor = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        guard descriptor >= 0 else { throw failure("cannot create a temporary file in \(directory.path)", errno) }
        var written = 0
        var writeError: Int32 = 0
        bytes.withUnsafeBytes { buffer in
            while written < buffer.count {
                let result = write(descriptor, buffer.baseAddress! + written, buffer.count - written)
                if result < 0 {
                    if errno == EINTR { continue }
                    writeError = errno
                    return
                }
                written += result
            }
        }
        if writeError == 0 && fsync(descriptor) != 0 { writeError = errno }
        if close(descriptor) != 0 && writeError == 0 { writeError = errno }
        if writeError != 0 {
            unlink(temporary.path)
            throw failure("cannot write the temporary file \(temporary.path)", writeError)
        }
        guard rename(temporary.path, url.path) == 0 else {
            let code = errno
            unlink(temporary.path)
            throw failure("cannot move the temporary file into place", code)
        }
    }

    /// The tokenizer.json document.
    func jsonDocument() -> JSONValue {
        let addedTokens: [JSONValue] = addedTokens.map { token in
            .object([
                ("id", .integer(token.id)),
                ("content", .string(token.content)),
                ("single_word", .bool(false)),
                ("lstrip", .bool(token.stripsLeft)),
                ("rstrip", .bool(token.stripsRight)),
                ("normalized", .bool(token.isNormalized)),
                ("special", .bool(token.isSpecial)),
            ])
        }
        let unknown: JSONValue = definition.unknownID.flatMap { tokensByID[$0] }.map { .string($0) } ?? .null
        let vocabulary: JSONValue = .object(definition.vocabulary.map { ($0.token, .integer($0.id)) })
        let pairs = merges
        let writesPairs = pairs.contains { $0.left.utf8.contains(0x20) || $0.right.utf8.contains(0x20) }
        let mergeList: JSONValue = .array(
            pairs.map { writesPairs ? .array([.string($0.left), .string($0.right)]) : .string("\($0.left) \($0.right)") })
        let model: JSONValue = .object([
            ("type", .string("BPE")),
            ("dropout", .null),
            ("unk_token", unknown),
            ("continuing_subword_prefix", .null),
            ("end_of_word_suffix", .null),
            ("fuse_unk", .bool(definition.fusesUnknown)),
            ("byte_fallback", .bool(definition.usesByteFallback)),
            ("ignore_merges", .bool(definition.ignoresMerges)),
            ("vocab", vocabulary),
            ("merges", mergeList),
        ])
        return .object([
            ("version", .string("1.0")),
            ("truncation", .null),
            ("padding", .null),
            ("added_tokens", .array(addedTokens)),
            ("normalizer", definition.normalizerJSON),
            ("pre_tokenizer", definition.preTokenizerJSON),
            ("post_processor", definition.postProcessorJSON),
            ("decoder", definition.decoderJSON),
            ("model", model),
        ])
    }
}
