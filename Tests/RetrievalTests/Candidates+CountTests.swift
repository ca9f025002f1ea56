import Retrieval
import Testing

@Suite struct CandidatesCountTests {
    @Test func countsAndPercentagesAreParsed() throws {
        #expect(try Candidates.Count(parsing: "100") == .count(100))
        #expect(try Candidates.Count(parsing: " 1 ") == .count(1))
        #expect(try Candidates.Count(parsing: "10%") == .fraction(0.1))
        #expect(try Candidates.Count(parsing: "2.5%") == .fraction(0.025))
        #expect(try Candidates.Count(parsing: "100%") == .fraction(1))
        #expect(try Candidates.Count(parsing: "0.5%") == .fraction(0.005))
    }

    @Test(arguments: [
        "", "0", "-5", "+5", "0%", "150%", "100.01%", "1e3", "0.1", "ten", "10 %", "%", ".5%", "5.%", "1,000",
        "99999999999999999999999",
    ])
    func otherValuesAreErrorsNamingTheValue(text: String) {
        let error = #expect(throws: CandidateCountError.self) { try Candidates.Count(parsing: text) }
        #expect(error?.value == text)
        #expect(error?.description.hasPrefix("candidate count \"\(text)\": ") == true)
    }

    @Test func aFractionIsRoundedUpAndIsAtLeastOne() {
        #expect(Candidates.Count.fraction(0.1).resolved(documentCount: 100) == 10)
        #expect(Candidates.Count.fraction(0.1).resolved(documentCount: 101) == 11)  // 10.1 → 11
        #expect(Candidates.Count.fraction(0.001).resolved(documentCount: 10) == 1)  // 0.01 → 1
        #expect(Candidates.Count.fraction(1).resolved(documentCount: 7) == 7)
        #expect(Candidates.Count.fraction(0.5).resolved(documentCount: 0) == 0)
        #expect(Candidates.Count.count(5).resolved(documentCount: 3) == 3)
        #expect(Candidates.Count.count(5).resolved(documentCount: 30) == 5)
    }

    @Test func binaryRoundingDoesNotAddADocument() throws {
        // 0.07 * 100 == 7.000000000000001 in Double; a plain ceil would give 8.
        #expect(0.07 * 100 > 7)
        for percent in 1...100 {
            let count = try Candidates.Count(parsing: "\(percent)%")
            #expect(count.resolved(documentCount: 100) == percent, "\(percent)%")
            #expect(count.resolved(documentCount: 100_000) == percent * 1000, "\(percent)%")
            #expect(count.description == "\(percent)%")
        }
    }
}
