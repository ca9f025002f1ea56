import Foundation
import _TestSupport
import Testing
import Formats

@Suite("CSVTable")
struct CSVTableTests {
    @Test func quotedFieldsMayHoldDelimitersQuotesAndLineBreaks() throws {
        let text = "name,comment,score\r\n\"Smith, J.\",\"said \"\"hi\"\"\",3\r\nLee,\"two\r\nlines\",4\r\n"
        let table = try CSVTable(parsing: text)
        #expect(table.columnNames == ["name", "comment", "score"])
        #expect(table.rows == [["Smith, J.", "said \"hi\"", "3"], ["Lee", "two\r\nlines", "4"]])
        #expect(table.lineNumbers == [2, 3])
    }

    @Test func emptyFieldsBlankLinesAndAMissingFinalNewlineAreHandled() throws {
        let table = try CSVTable(parsing: "\u{FEFF}a,b,c\n1,,3\n\n,\"\",\n4,5,6")
        #expect(table.columnNames == ["a", "b", "c"])
        #expect(table.rows == [["1", "", "3"], ["", "", ""], ["4", "5", "6"]])
        #expect(table.lineNumbers == [2, 4, 5])
    }

    @Test func otherDelimitersAndBareQuotesInsideFields() throws {
        let table = try CSVTable(parsing: "x;y\n5\" pipe;a\"b\n", delimiter: UInt8(ascii: ";"))
        #expect(table.rows == [["5\" pipe", "a\"b"]])
    }

    @Test func columnsAreFoundByName() throws {
        let table = try CSVTable(parsing: "id,label\n7,cat\n8,dog\n", source: "pets.csv")
        #expect(try table.column(named: "label") == ["cat", "dog"])
        #expect(try table.value(row: 1, column: "id") == "8")
        #expect(try table.columnIndex(named: "label") == 1)
        let error = #expect(throws: CSVError.self) { try table.column(named: "species") }
        #expect(error == .unknownColumn(path: "pets.csv", column: "species", available: ["id", "label"]))
        #expect(error?.description.contains("pets.csv") == true)
    }

    @Test func aRowWithTheWrongFieldCountNamesLineAndRow() throws {
        let error = #expect(throws: CSVError.self) { try CSVTable(parsing: "a,b\n1,2\n\"x\ny\",2,3\n", source: "t.csv") }
        #expect(error == .fieldCountMismatch(path: "t.csv", line: 3, row: 2, expected: 2, found: 3))
        #expect(error?.description.contains("t.csv:3") == true)
    }

    @Test func malformedQuotingIsReported() throws {
        #expect(throws: CSVError.unterminatedQuote(path: "q.csv", line: 2)) {
            try CSVTable(parsing: "a,b\n1,\"open\n", source: "q.csv")
        }
        #expect(throws: CSVError.unexpectedCharacterAfterQuote(path: "q.csv", line: 2, field: 2)) {
            try CSVTable(parsing: "a,b\n1,\"closed\"x\n", source: "q.csv")
        }
    }

    @Test func headerProblemsAreReported() throws {
        #expect(throws: CSVError.missingHeader(path: "e.csv")) { try CSVTable(parsing: "", source: "e.csv") }
        #expect(throws: CSVError.duplicateColumn(path: "d.csv", column: "x")) { try CSVTable(parsing: "x,y,x\n", source: "d.csv") }
        #expect(try CSVTable(parsing: "only,header\n").rowCount == 0)
    }

    @Test func filesAreReadWithTheirPathInErrors() throws {
        let directory = try TemporaryDirectory()
        let url = try directory.write(Array("a,b\n1,2\n3\n".utf8), to: "short.csv")
        let error = #expect(throws: CSVError.self) { try CSVTable(contentsOf: url) }
        #expect(error == .fieldCountMismatch(path: url.path, line: 3, row: 2, expected: 2, found: 1))
        let good = try directory.write(Array("a,b\n1,2\n".utf8), to: "good.csv.gz")
        try Gzip.compress(Data(contentsOf: good)).write(to: good)
        #expect(try CSVTable(contentsOf: good).rows == [["1", "2"]])
        let missing = #expect(throws: CSVError.self) { try CSVTable(contentsOf: directory.file("none.csv")) }
        #expect(missing?.description.contains("none.csv") == true)
    }
}
