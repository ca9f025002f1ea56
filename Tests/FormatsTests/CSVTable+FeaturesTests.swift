import Foundation
import Testing
import TensorCore
import Formats

@Suite("CSVTable features")
struct CSVTableFeaturesTests {
    static let iris = """
        sepal_length,sepal_width,species,label
        5.1,3.5,setosa,0
        7.0, 3.2 ,versicolor,1
        6.3,3.3,virginica,2
        -1e-2,0,setosa,0
        """

    @Test func featuresAndIntegerLabelsComeOutRowByRow() throws {
        let table = try CSVTable(parsing: Self.iris)
        let data = try table.labeledFeatures(labelColumn: "label", featureColumns: ["sepal_length", "sepal_width"])
        #expect(data.features.shape == [4, 2])
        #expect(data.features.scalars == [5.1, 3.5, 7.0, 3.2, 6.3, 3.3, -0.01, 0])
        #expect(data.labels == [0, 1, 2, 0])
        #expect(data.featureNames == ["sepal_length", "sepal_width"])
        #expect(data.classNames == nil)
    }

    @Test func categoricalLabelsAreIndicesIntoTheSortedClassNames() throws {
        let table = try CSVTable(parsing: Self.iris)
        let data = try table.labeledFeatures(
            labelColumn: "species", featureColumns: ["sepal_width", "label"],
            labelEncoding: .categorical)
        #expect(data.classNames == ["setosa", "versicolor", "virginica"])
        #expect(data.labels == [0, 1, 2, 0])
        #expect(data.features.scalars == [3.5, 0, 3.2, 1, 3.3, 2, 0, 0])
    }

    @Test func featureColumnsDefaultToEveryColumnButTheLabel() throws {
        let table = try CSVTable(parsing: "a,y,b\n1,0,2\n3,1,4\n")
        let data = try table.labeledFeatures(labelColumn: "y")
        #expect(data.featureNames == ["a", "b"])
        #expect(data.features == Tensor(rows: [[1, 2], [3, 4]]))
    }

    @Test func aNonNumericValueNamesFileLineRowAndColumn() throws {
        let table = try CSVTable(parsing: "a,b,y\n1,2,0\n3,\"\nn/a\",1\n", source: "data/train.csv")
        let error = #expect(throws: CSVError.self) { try table.labeledFeatures(labelColumn: "y") }
        #expect(error == .nonNumericValue(path: "data/train.csv", line: 3, row: 2, column: "b", value: "\nn/a"))
        let message = error?.description ?? ""
        #expect(message.contains("data/train.csv:3") && message.contains("row 2") && message.contains("'b'"))

        let infinite = try CSVTable(parsing: "a,y\ninf,0\n", source: "inf.csv")
        #expect(throws: CSVError.nonNumericValue(path: "inf.csv", line: 2, row: 1, column: "a", value: "inf")) {
            try infinite.labeledFeatures(labelColumn: "y")
        }
    }

    @Test func aNonIntegerLabelIsReported() throws {
        let table = try CSVTable(parsing: "a,y\n1,0\n2,1.5\n", source: "l.csv")
        #expect(throws: CSVError.invalidLabel(path: "l.csv", line: 3, row: 2, column: "y", value: "1.5")) {
            try table.labeledFeatures(labelColumn: "y")
        }
        #expect(throws: CSVError.unknownColumn(path: "l.csv", column: "z", available: ["a", "y"])) {
            try table.labeledFeatures(labelColumn: "z")
        }
    }
}
