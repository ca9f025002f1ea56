import Foundation

/// Correlations between two samples of equal length.
public enum Correlation {
    /// Pearson's r; nil when either sample is constant or the samples are shorter than two.
    public static func pearson(_ x: [Double], _ y: [Double]) -> Double? {
        precondition(x.count == y.count, "\(x.count) and \(y.count) values")
        let n = Double(x.count)
        guard x.count >= 2 else { return nil }
        let mx = x.reduce(0, +) / n, my = y.reduce(0, +) / n
        var sxy = 0.0, sxx = 0.0, syy = 0.0
        for i in x.indices {
            let dx = x[i] - mx, dy = y[i] - my
            sxy += dx * dy
            sxx += dx * dx
            syy += dy * dy
        }
        guard sxx > 0, syy > 0 else { return nil }
        return sxy / (sxx * syy).squareRoot()
    }

    /// Spearman's ρ: Pearson's r of the ranks, ties given their mean rank.
    public static func spearman(_ x: [Double], _ y: [Double]) -> Double? { pearson(ranks(x), ranks(y)) }

    /// 1-based ranks, ascending, ties given the mean of the ranks they span.
    public static func ranks(_ x: [Double]) -> [Double] {
        let order = x.indices.sorted { x[$0] < x[$1] }
        var ranks = [Double](repeating: 0, count: x.count)
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count && x[order[j + 1]] == x[order[i]] { j += 1 }
            let rank = Double(i + j) / 2 + 1
            for k in i...j { ranks[order[k]] = rank }
            i = j + 1
        }
        return ranks
    }
}
