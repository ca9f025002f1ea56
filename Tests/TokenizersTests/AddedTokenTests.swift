import Foundation
import Testing
import Tokenizers

@Suite struct AddedTokenTests {
    @Test func specialTokensAreNeverSplit() throws {
        let tokenizer = try Fixtures.tokenizer()
        let special = "<|endoftext|>"
        for text in [
            special, "a\(special)b", " \(special) ", "\(special)\(special)", "x<|end\(special)oftext|>",
            "'\(special)s", "123\(special)456", "日本\(special)語",
        ] {
            let ids = tokenizer.encode(text)
            let expected = text.components(separatedBy: special).count - 1
            #expect(ids.filter { $0 == 0 }.count == expected, "text: \(text.debugDescription)")
            // Each piece between specials is encoded on its own.
            let parts = text.components(separatedBy: special)
            let separate = parts.enumerated().flatMap { index, part in
                (index > 0 ? [0] : []) + tokenizer.encode(part)
            }
            #expect(ids == separate, "text: \(text.debugDescription)")
        }
    }

    @Test func incompleteSpecialTokensAreOrdinaryText() throws {
        let tokenizer = try Fixtures.tokenizer()
        for text in ["<|endoftext", "<|endoftext|", "|endoftext|>", "<|ENDOFTEXT|>"] {
            #expect(!tokenizer.encode(text).contains(0), "text: \(text)")
        }
    }

    @Test func theLongestAddedTokenWinsAtALeftmostPosition() throws {
        let data = try Fixtures.json { document in
            var added = try #require(document["added_tokens"] as? [[String: Any]])
            added.append(["id": 1000, "content": "<|end", "special": true, "normalized": false])
            added.append(["id": 1001, "content": "oftext|>xyz", "special": false, "normalized": true])
            document["added_tokens"] = added
        }
        let tokenizer = try BytePairTokenizer(json: data)
        #expect(tokenizer.encode("<|endoftext|>") == [0])
        #expect(tokenizer.encode("<|end") == [1000])
        // Non-normalised tokens are matched first, so "<|endoftext|>" beats "oftext|>xyz".
        #expect(tokenizer.encode("<|endoftext|>xyz") == [0] + tokenizer.encode("xyz"))
        #expect(tokenizer.encode("ab oftext|>xyz") == tokenizer.encode("ab ") + [1001])
    }

    @Test func strippingTokensAbsorbTheWhitespaceBesideThem() throws {
        let data = try Fixtures.json { document in
            document["added_tokens"] = [
                ["id": 0, "content": "<|endoftext|>", "special": true, "lstrip": true, "rstrip": true, "normalized": false]
            ]
        }
        let tokenizer = try BytePairTokenizer(json: data)
        #expect(tokenizer.encode("a \t<|endoftext|>\n b") == tokenizer.encode("a") + [0] + tokenizer.encode("b"))
    }

    @Test func onlySpecialTokensAreSkippedWhenDecoding() throws {
        let data = try Fixtures.json { document in
            var added = try #require(document["added_tokens"] as? [[String: Any]])
            added.append(["id": 1000, "content": "[keep]", "special": false])
            document["added_tokens"] = added
        }
        let tokenizer = try BytePairTokenizer(json: data)
        let ids = tokenizer.encode("a<|endoftext|>[keep]b")
        #expect(tokenizer.decode(ids, skippingSpecialTokens: true) == "a[keep]b")
        #expect(tokenizer.decode(ids) == "a<|endoftext|>[keep]b")
        #expect(tokenizer.addedTokens.map { $0.id } == [0, 1000])
        #expect(tokenizer.specialTokens.map { $0.id } == [0])
    }
}
