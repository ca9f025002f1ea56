import Foundation

/// Plots drawn as inline SVG: no script, no font from the network.
enum SVGPlot {
    /// A log-log plot of a complementary CDF with a fitted power law drawn from x_min, and a
    /// dashed vertical line at x_min.
    ///
    /// - Parameters:
    ///   - points: (x, P(X ≥ x)), x > 0, p > 0.
    ///   - fit: the fitted law as (x_min, α, the fraction of values in the tail).
    static func complementaryCDF(
        _ points: [(x: Double, p: Double)], fit: (xMin: Double, alpha: Double, tailFraction: Double)?,
        width: Double = 520, height: Double = 300, label: String
    ) -> String {
        guard let first = points.first, let last = points.last else { return "" }
        let left = 58.0, right = 16.0, top = 14.0, bottom = 40.0
        let lx0 = floor(log10(first.x)), lx1 = Swift.max(ceil(log10(last.x)), lx0 + 1)
        let lp0 = floor(log10(points.map(\.p).min() ?? 1)), lp1 = 0.0
        let lpLow = Swift.min(lp0, lp1 - 1)
        func px(_ x: Double) -> Double { left + (log10(x) - lx0) / (lx1 - lx0) * (width - left - right) }
        func py(_ p: Double) -> Double { top + (lp1 - log10(p)) / (lp1 - lpLow) * (height - top - bottom) }
        var svg =
            "<svg viewBox=\"0 0 \(Int(width)) \(Int(height))\" width=\"\(Int(width))\" height=\"\(Int(height))\" role=\"img\" aria-label=\"\(HTML.escape(label))\">"
        svg += "<rect x=\"\(left)\" y=\"\(top)\" width=\"\(width - left - right)\" height=\"\(height - top - bottom)\" fill=\"none\" stroke=\"#d0d7de\"/>"
        for d in Int(lx0)...Int(lx1) {
            let x = px(Foundation.pow(10, Double(d)))
            svg += "<line x1=\"\(f(x))\" y1=\"\(top)\" x2=\"\(f(x))\" y2=\"\(height - bottom)\" stroke=\"#eef1f4\"/>"
            svg += "<text x=\"\(f(x))\" y=\"\(f(height - bottom + 14))\" text-anchor=\"middle\">1e\(d)</text>"
        }
        for d in Int(lpLow)...Int(lp1) {
            let y = py(Foundation.pow(10, Double(d)))
            svg += "<line x1=\"\(left)\" y1=\"\(f(y))\" x2=\"\(f(width - right))\" y2=\"\(f(y))\" stroke=\"#eef1f4\"/>"
            svg += "<text x=\"\(f(left - 6))\" y=\"\(f(y + 4))\" text-anchor=\"end\">1e\(d)</text>"
        }
        svg += "<text x=\"\(f((left + width - right) / 2))\" y=\"\(f(height - 6))\" text-anchor=\"middle\">influence x (positive documents)</text>"
        svg += "<text transform=\"translate(14 \(f((top + height - bottom) / 2))) rotate(-90)\" text-anchor=\"middle\">P(X ≥ x)</text>"
        let path = points.map { "\(f(px($0.x))),\(f(py($0.p)))" }.joined(separator: " ")
        svg += "<polyline points=\"\(path)\" fill=\"none\" stroke=\"#1f2328\" stroke-width=\"1.6\"/>"
        if let fit, fit.alpha > 1, fit.xMin >= first.x, fit.xMin <= last.x {
            let xs = [fit.xMin, last.x]
            let ys = xs.map { fit.tailFraction * Foundation.pow($0 / fit.xMin, 1 - fit.alpha) }
            svg +=
                "<line x1=\"\(f(px(xs[0])))\" y1=\"\(f(py(ys[0])))\" x2=\"\(f(px(xs[1])))\" y2=\"\(f(py(Swift.max(ys[1], Foundation.pow(10, lpLow)))))\" stroke=\"rgb(214,96,77)\" stroke-width=\"2.2\"/>"
            svg +=
                "<line x1=\"\(f(px(fit.xMin)))\" y1=\"\(top)\" x2=\"\(f(px(fit.xMin)))\" y2=\"\(f(height - bottom))\" stroke=\"rgb(214,96,77)\" stroke-dasharray=\"4 3\"/>"
            svg += "<text x=\"\(f(px(fit.xMin) + 4))\" y=\"\(f(top + 12))\" class=\"pos\">x_min</text>"
        }
        return svg + "</svg>"
    }

    /// Bars of `values` (one per label), positive up in red and negative down in blue, from zero.
    static func bars(_ values: [Double], labels: [String], width: Double = 520, height: Double = 190, label: String) -> String {
        guard !values.isEmpty else { return "" }
        let left = 44.0, right = 10.0, top = 12.0, bottom = 62.0
        let high = Swift.max(values.max() ?? 0, 0), low = Swift.min(values.min() ?? 0, 0)
        let span = Swift.max(high - low, 1e-12)
        func py(_ v: Double) -> Double { top + (high - v) / span * (height - top - bottom) }
        let slot = (width - left - right) / Double(values.count)
        var svg =
            "<svg viewBox=\"0 0 \(Int(width)) \(Int(height))\" width=\"\(Int(width))\" height=\"\(Int(height))\" role=\"img\" aria-label=\"\(HTML.escape(label))\">"
        svg += "<line x1=\"\(left)\" y1=\"\(f(py(0)))\" x2=\"\(f(width - right))\" y2=\"\(f(py(0)))\" stroke=\"#59636e\"/>"
        svg += "<text x=\"\(f(left - 6))\" y=\"\(f(py(high) + 4))\" text-anchor=\"end\">\(HTML.escape(HTML.short(high)))</text>"
        if low < 0 { svg += "<text x=\"\(f(left - 6))\" y=\"\(f(py(low) + 4))\" text-anchor=\"end\">\(HTML.escape(HTML.short(low)))</text>" }
        for (i, v) in values.enumerated() {
            let x = left + Double(i) * slot + slot * 0.15, w = slot * 0.7
            let y0 = py(Swift.max(v, 0)), y1 = py(Swift.min(v, 0))
            svg +=
                "<rect x=\"\(f(x))\" y=\"\(f(y0))\" width=\"\(f(w))\" height=\"\(f(Swift.max(y1 - y0, 0.5)))\" fill=\"\(v >= 0 ? "rgb(214,96,77)" : "rgb(67,147,195)")\"><title>\(HTML.escape(labels[i])): \(HTML.escape(HTML.short(v)))</title></rect>"
            let cx = x + w / 2, cy = height - bottom + 10
            svg += "<text transform=\"translate(\(f(cx)) \(f(cy))) rotate(35)\" text-anchor=\"start\">\(HTML.escape(labels[i]))</text>"
        }
        return svg + "</svg>"
    }

    /// A coordinate with two decimals.
    static func f(_ value: Double) -> String { String(format: "%.2f", value) }
}
