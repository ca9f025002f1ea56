import Foundation
import Formats

/// Small helpers for writing HTML by hand: escaping, numbers, colours. Public so that other
/// pages (a study's) and tests format numbers as reports do.
public enum HTML {
    /// `text` safe inside an element or a double-quoted attribute.
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            // Control characters other than tab and newline are not allowed in HTML text.
            case let c where c.value < 0x20 && c != "\n" && c != "\t": out += "\u{FFFD}"
            case let c where c.value == 0x7F: out += "\u{FFFD}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// A score as shown: four significant digits, with the exact value (the score file's Float,
    /// shortest form) in `data-value` for scripts and tests.
    public static func score(_ value: Float, class name: String = "num") -> String {
        "<span class=\"\(name)\" data-value=\"\(exact(value))\">\(short(Double(value)))</span>"
    }

    /// The shortest decimal form that reads back as the same Float.
    public static func exact(_ value: Float) -> String { value.isFinite ? "\(value)" : "NaN" }

    /// Four significant digits; large and small magnitudes in exponent form.
    public static func short(_ value: Double) -> String {
        guard value.isFinite else { return "–" }
        if value == 0 { return "0" }
        let magnitude = Swift.abs(value)
        if magnitude >= 1e6 || magnitude < 1e-3 { return String(format: "%.3e", value) }
        return String(format: "%.4g", value)
    }

    /// A fraction as a percentage with one decimal.
    public static func percent(_ fraction: Double) -> String {
        fraction.isFinite ? String(format: "%.1f %%", 100 * fraction) : "–"
    }

    /// The background of a value in a heat map: positive in red, negative in blue, the alpha
    /// proportional to |value| / scale (capped at 1).
    public static func heat(_ value: Double, scale: Double) -> String {
        guard scale > 0, value != 0, value.isFinite else { return "transparent" }
        let alpha = Swift.min(1, Swift.abs(value) / scale) * 0.85
        return value > 0 ? String(format: "rgba(214,96,77,%.3f)", alpha) : String(format: "rgba(67,147,195,%.3f)", alpha)
    }

    /// A JSON number, or null for a value that is not finite.
    static func json(_ value: Double) -> JSONValue { value.isFinite ? .number(value) : .null }
    static func json(_ value: Float) -> JSONValue { json(Double(value)) }

    /// The style sheet every page inlines in its `<style>` element: typography, tables, heat-map colours (`--pos` red, `--neg` blue).
    public static let style = """
        :root { --pos: rgb(214,96,77); --neg: rgb(67,147,195); --ink: #1f2328; --muted: #59636e; --rule: #d0d7de; }
        * { box-sizing: border-box; }
        body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "DejaVu Sans", sans-serif; color: var(--ink);
               max-width: 1100px; margin: 0 auto; padding: 24px 28px 64px; background: #fff; }
        h1 { font-size: 26px; margin: 0 0 4px; } h2 { font-size: 21px; margin: 40px 0 8px; border-bottom: 2px solid var(--rule); padding-bottom: 4px; }
        h3 { font-size: 16px; margin: 22px 0 6px; } h4 { font-size: 14px; margin: 14px 0 4px; color: var(--muted); }
        p, li { max-width: 80ch; } .muted { color: var(--muted); } .small { font-size: 13px; }
        table { border-collapse: collapse; margin: 6px 0 12px; font-size: 13.5px; }
        th, td { border-bottom: 1px solid var(--rule); padding: 3px 10px 3px 0; text-align: left; vertical-align: top; }
        th { font-weight: 600; } td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
        .facts td:first-child { color: var(--muted); padding-right: 18px; white-space: nowrap; }
        .query { background: #f6f8fa; border-left: 4px solid var(--ink); padding: 8px 12px; margin: 6px 0 10px; font-size: 16px; }
        .query .completion { font-weight: 650; text-decoration: underline; text-decoration-color: var(--pos); }
        .doc { border: 1px solid var(--rule); border-radius: 6px; padding: 6px 10px 8px; margin: 8px 0; break-inside: avoid; }
        .doc header { display: flex; flex-wrap: wrap; gap: 4px 16px; font-size: 13px; color: var(--muted); margin-bottom: 4px; }
        .doc header b { color: var(--ink); }
        .text { font: 13.5px/1.65 ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; white-space: pre-wrap; word-break: break-word; }
        .text span { border-radius: 2px; }
        .pos { color: var(--pos); } .neg { color: var(--neg); }
        .legend { display: inline-block; width: 34px; height: 11px; vertical-align: middle; border-radius: 2px; }
        .grid td { text-align: right; min-width: 72px; font-variant-numeric: tabular-nums; } .grid td:first-child { text-align: left; }
        nav ol { columns: 2; font-size: 14px; }
        svg { display: block; margin: 6px 0 10px; max-width: 100%; height: auto; }
        svg text { font: 11px system-ui, sans-serif; fill: var(--ink); }
        .note { font-size: 13px; color: var(--muted); border-left: 3px solid var(--rule); padding-left: 10px; }
        @media print {
          body { max-width: none; padding: 0; font-size: 11pt; } h2 { break-before: page; } h2.first { break-before: auto; }
          .doc, table, svg { break-inside: avoid; } .text span { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
          nav { display: none; }
        }
        """
}
