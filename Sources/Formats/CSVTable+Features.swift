import TensorCore

/// A numeric design matrix and class labels taken from a table.
public struct LabeledFeatures: Sendable {
    /// `[rowCount, featureCount]`, one row per table row.
    public let features: Tensor<Float>
    /// `[rowCount]` class indices.
    public let labels: [Int]
    /// The column of each feature, in order.
    public let featureNames: [String]
    /// For ``CSVTable/LabelEncoding/categorical`` labels, the class name of each index
    /// (sorted); for ``CSVTable/LabelEncoding/classes(_:)``, the list given; nil for integer
    /// labels.
    public let classNames: [String]?
}

extension CSVTable {
    /// How the label column is turned into class indices.
    public enum LabelEncoding: Sendable {
        /// The label column holds integers, used as they are.
        case integer
        /// The label column holds names; each distinct name becomes its index in the sorted list
        /// of names (as scikit-learn's `LabelEncoder` does).
        case categorical
        /// The label column holds names from a known list (the classes a model was trained
        /// with); each becomes its index in that list, and any other name is an error.
        case classes([String])
    }

    /// Splits the table into a feature matrix and labels.
    ///
    /// Every feature value must parse as a finite number (surrounding spaces and tabs are
    /// ignored).
    ///
    /// - Parameters:
    ///   - labelColumn: the column holding each row's class.
    ///   - featureColumns: the feature columns in order; by default every other column.
    ///   - labelEncoding: whether labels are integers or class names.
    /// - Returns: features `[rowCount, featureCount]` and `[rowCount]` labels.
    /// - Throws: ``CSVError/unknownColumn(path:column:available:)``,
    ///   ``CSVError/nonNumericValue(path:line:row:column:value:)`` or
    ///   ``CSVError/invalidLabel(path:line:row:column:value:)`` or
    ///   ``CSVError/unknownClass(path:line:row:column:value:known:)``, naming file, line, row and column.
    public func labeledFeatures(
        labelColumn: String, featureColumns: [String]? = nil,
        labelEncoding: LabelEncoding = .integer
    ) throws -> LabeledFeatures {
        let labelIndex = try columnIndex(named: labelColumn)
        let names = featureColumns ?? columnNames.filter { $0 != labelColumn }
        let features = try numericColumns(names)

        let labelTexts = rows.map { $0[labelIndex].trimmingSpacesAndTabs }
        var labels: [Int] = []
        var classNames: [String]?
        switch labelEncoding {
        case .integer:
            for (row, text) in labelTexts.enumerated() {
                guard let label = Int(text) else {
                    throw CSVError.invalidLabel(
                        path: source, line: lineNumbers[row], row: row + 1,
                        column: labelColumn, value: rows[row][labelIndex])
                }
                labels.append(label)
            }
        case .categorical:
            let sortedNames = Set(labelTexts).sorted()
            let indexOfName = Dictionary(uniqueKeysWithValues: sortedNames.enumerated().map { ($1, $0) })
            labels = labelTexts.compactMap { indexOfName[$0] }
            classNames = sortedNames
        case let .classes(known):
            let indexOfName = Dictionary(known.enumerated().map { ($1, $0) }) { first, _ in first }
            for (row, text) in labelTexts.enumerated() {
                guard let label = indexOfName[text] else {
                    throw CSVError.unknownClass(
                        path: source, line: lineNumbers[row], row: row + 1, column: labelColumn,
                        value: rows[row][labelIndex], known: known)
                }
                labels.append(label)
            }
            classNames = known
        }
        return LabeledFeatures(features: features, labels: labels, featureNames: names, classNames: classNames)
    }

    /// The named columns as a `[rowCount, names.count]` matrix; every value must parse as a
    /// finite number (surrounding spaces and tabs are ignored).
    ///
    /// - Throws: ``CSVError/unknownColumn(path:column:available:)`` or
    ///   ``CSVError/nonNumericValue(path:line:row:column:value:)``, naming file, line, row and column.
    public func numericColumns(_ names: [String]) throws -> Tensor<Float> {
        let indices = try names.map { try columnIndex(named: $0) }
        var values = [Float]()
        values.reserveCapacity(rowCount * indices.count)
        for (row, fields) in rows.enumerated() {
            for (column, index) in indices.enumerated() {
                let text = fields[index].trimmingSpacesAndTabs
                guard let value = Float(text), value.isFinite else {
                    throw CSVError.nonNumericValue(
                        path: source, line: lineNumbers[row], row: row + 1,
                        column: names[column], value: fields[index])
                }
                values.append(value)
            }
        }
        return Tensor(shape: [rowCount, indices.count], scalars: values)
    }
}

extension String {
    /// The string without leading and trailing spaces and tabs.
    var trimmingSpacesAndTabs: String {
        let isBlank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = firstIndex(where: { !isBlank($0) }), let last = lastIndex(where: { !isBlank($0) }) else { return "" }
        return String(self[first...last])
    }
}
