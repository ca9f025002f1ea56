import Foundation
import Testing
import Formats

@Suite("JSONValue")
struct JSONValueTests {
    @Test func parsingKeepsEveryJSONType() throws {
        let text = #"{"null": null, "yes": true, "one": 1, "half": 0.5, "text": "a\"b", "list": [1, "two", false], "nested": {"k": []}}"#
        let value = try JSONValue(parsing: Data(text.utf8))
        #expect(
            value == [
                "null": nil, "yes": true, "one": 1, "half": 0.5, "text": "a\"b",
                "list": [1, "two", false], "nested": ["k": []],
            ])
        // Booleans and numbers stay distinct.
        #expect(value["yes"] == .bool(true))
        #expect(value["one"] == .number(1))
    }

    @Test func accessorsReturnNilForOtherTypes() throws {
        let value: JSONValue = ["n": 3, "x": 3.5, "big": 1e300, "s": "3", "a": [10, 20]]
        #expect(value["n"]?.intValue == 3)
        #expect(value["x"]?.intValue == nil)
        #expect(value["x"]?.doubleValue == 3.5)
        #expect(value["big"]?.intValue == nil)
        #expect(value["s"]?.intValue == nil)
        #expect(value["s"]?.stringValue == "3")
        #expect(value["a"]?[1]?.intValue == 20)
        #expect(value["a"]?[2] == nil)
        #expect(value["missing"] == nil)
        #expect(value["a"]?["key"] == nil)
        #expect(value.objectValue?.count == 5)
        #expect(JSONValue.null.isNull && JSONValue.bool(false).boolValue == false)
        #expect(value["a"]?.typeName == "array")
    }

    @Test func serializationIsCompactSortedAndEscaped() throws {
        let value: JSONValue = ["b": [1, 2.5, -0.001, 1e21], "a": "quote \" slash \\ newline \n tab \t bell \u{7} é", "c": nil, "d": true]
        let text = try value.serialized()
        #expect(text == #"{"a":"quote \" slash \\ newline \n tab \t bell \u0007 é","b":[1,2.5,-0.001,1e+21],"c":null,"d":true}"#)
        #expect(try JSONValue(parsing: Data(text.utf8)) == value)
    }

    @Test func nonFiniteNumbersCannotBeSerialized() {
        #expect(throws: JSONSerializationFailure.self) { try JSONValue.array([.number(.nan)]).serialized() }
        #expect(throws: JSONSerializationFailure.self) { try JSONValue.number(.infinity).serialized() }
    }

    @Test func codableRoundTripThroughFoundation() throws {
        let value: JSONValue = ["list": [1, "x", nil, ["deep": false]], "pi": 3.14159]
        let encoded = try JSONEncoder().encode(value)
        #expect(try JSONDecoder().decode(JSONValue.self, from: encoded) == value)
    }

    @Test func invalidJSONGivesAOneLineReason() {
        do {
            _ = try JSONValue(parsing: Data("{\"a\": }".utf8))
            Issue.record("expected a parsing error")
        } catch {
            let reason = JSONValue.parsingFailureReason(error)
            #expect(!reason.isEmpty && !reason.contains("\n"))
        }
    }
}
