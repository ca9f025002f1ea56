import Testing
import Validation

@Suite struct LinearDatamodelingTests {
    @Test func subsetsAreSeededSamplesOfTheirFraction() {
        let a = LinearDatamodeling.subsets(count: 20, fraction: 0.5, of: 31, seed: 7)
        let b = LinearDatamodeling.subsets(count: 20, fraction: 0.5, of: 31, seed: 7)
        #expect(a == b)
        #expect(a != LinearDatamodeling.subsets(count: 20, fraction: 0.5, of: 31, seed: 8))
        for s in a {
            #expect(s.count == 15)
            #expect(Set(s).count == 15 && s == s.sorted() && s.allSatisfy { $0 >= 0 && $0 < 31 })
        }
        // Every row is drawn about half the time over many subsets.
        let many = LinearDatamodeling.subsets(count: 2000, fraction: 0.5, of: 10, seed: 1)
        for row in 0..<10 {
            let share = Double(many.filter { $0.contains(row) }.count) / 2000
            #expect(abs(share - 0.5) < 0.05)
        }
    }

    @Test func aLinearDatamodelScoresOneAndItsNegativeMinusOne() {
        // f_q(S) = c − Σ_{m∈S} w_m exactly: the true scores w rank every subset right.
        let weights: [[Double]] = [[3, -1, 0.5, 2, -4, 1, 0.25, -2], [1, 2, 3, 4, 5, 6, 7, 8]]
        let subsets = LinearDatamodeling.subsets(count: 40, fraction: 0.5, of: 8, seed: 3)
        let measurements = subsets.map { s in weights.map { w in 10 - s.reduce(0) { $0 + w[$1] } } }
        #expect(abs(LinearDatamodeling.score(scores: weights, subsets: subsets, measurements: measurements)! - 1) < 1e-12)
        let negated = weights.map { $0.map { -$0 } }
        #expect(abs(LinearDatamodeling.score(scores: negated, subsets: subsets, measurements: measurements)! + 1) < 1e-12)
        // Unrelated scores are far from 1.
        let unrelated: [[Double]] = [[1, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 1]]
        #expect(LinearDatamodeling.score(scores: unrelated, subsets: subsets, measurements: measurements)! < 0.9)
    }
}

@Suite struct MislabelDetectionTests {
    @Test func flipsTheStatedFractionToOtherClasses() {
        let labels = (0..<200).map { $0 % 4 }
        let (flippedLabels, flipped) = MislabelDetection.flip(labels: labels, classCount: 4, fraction: 0.1, seed: 5)
        #expect(flipped.count == 20 && Set(flipped).count == 20)
        for i in labels.indices {
            #expect((flippedLabels[i] != labels[i]) == flipped.contains(i))
            #expect(flippedLabels[i] >= 0 && flippedLabels[i] < 4)
        }
        #expect(MislabelDetection.flip(labels: labels, classCount: 4, fraction: 0.1, seed: 5).labels == flippedLabels)
    }

    @Test func foundFractionsAndAreaUnderCurveHaveTheirClosedForms() {
        // 10 rows, rows 0 and 1 flipped.
        let perfect: [Double] = [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]
        #expect(MislabelDetection.foundFractions(selfInfluence: perfect, flipped: [0, 1], inspected: [0.1, 0.2, 0.5]) == [0.5, 1, 1])
        #expect(MislabelDetection.areaUnderCurve(selfInfluence: perfect, flipped: [0, 1]) == 1)
        let reversed = perfect.reversed().map { $0 }
        #expect(MislabelDetection.areaUnderCurve(selfInfluence: reversed, flipped: [0, 1]) == 0)
        #expect(MislabelDetection.foundFractions(selfInfluence: reversed, flipped: [0, 1], inspected: [0.5, 0.9]) == [0, 0.5])
        // Flipped rows 0 (value 8) and 5 (value 3): row 0 outranks 7 of the 8 clean rows, row 5 outranks 3 (values 2, 1, 0): U = 10 / 16.
        let mixed: [Double] = [8, 9, 7, 6, 5, 3, 4, 2, 1, 0]
        #expect(abs(MislabelDetection.areaUnderCurve(selfInfluence: mixed, flipped: [0, 5])! - 10.0 / 16) < 1e-12)
        // Ties count one half: all equal gives 0.5.
        #expect(MislabelDetection.areaUnderCurve(selfInfluence: [Double](repeating: 1, count: 6), flipped: [2]) == 0.5)
    }
}
