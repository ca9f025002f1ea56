import Testing
import Tokenizers

@Suite struct ByteLevelAlphabetTests {
    @Test func printableLatin1BytesStandForThemselves() {
        #expect(ByteLevelAlphabet.encoded(Array("Az~".utf8)) == "Az~")
        #expect(ByteLevelAlphabet.encoded([0xA1, 0xAC, 0xAE, 0xFF]) == "¡¬®ÿ")
    }

    @Test func otherBytesTakeCharactersFromU0100InByteOrder() {
        #expect(ByteLevelAlphabet.scalars[0x00] == "\u{100}")
        #expect(ByteLevelAlphabet.scalars[0x0A] == "Ċ")
        #expect(ByteLevelAlphabet.scalars[0x20] == "Ġ")
        #expect(ByteLevelAlphabet.scalars[0x7F] == "\u{121}")
        #expect(ByteLevelAlphabet.scalars[0xAD] == "\u{143}")
    }

    @Test func everyByteHasItsOwnCharacterAndComesBack() {
        #expect(Set(ByteLevelAlphabet.scalars).count == 256)
        let bytes = (0...255).map(UInt8.init)
        #expect(ByteLevelAlphabet.decoded(ByteLevelAlphabet.encoded(bytes)) == bytes)
    }

    @Test func charactersOutsideTheAlphabetDoNotDecode() {
        #expect(ByteLevelAlphabet.decoded("Ġhello") == Array(" hello".utf8))
        #expect(ByteLevelAlphabet.decoded("a b") == nil)  // a plain space is not in the alphabet
        #expect(ByteLevelAlphabet.decoded("日本") == nil)
    }
}
