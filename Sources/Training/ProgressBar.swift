import Foundation

/// A progress line on standard error: a redrawn bar when stderr is a terminal, otherwise a plain
/// line every `plainInterval` updates (so logs stay readable).
public final class ProgressBar {
    let total: Int
    let label: String
    let isTerminal: Bool
    let plainInterval: Int
    let started = Date()
    let write: (String) -> Void
    private var lastDraw = Date.distantPast

    /// - Parameters:
    ///   - isTerminal: draw a redrawn bar; by default, whether standard error is a terminal.
    ///   - write: where the text goes; standard error by default.
    public init(
        total: Int, label: String, plainInterval: Int = 50, isTerminal: Bool = isatty(2) != 0,
        write: @escaping (String) -> Void = { FileHandle.standardError.write(Data($0.utf8)) }
    ) {
        self.total = max(1, total)
        self.label = label
        self.isTerminal = isTerminal
        self.plainInterval = max(1, plainInterval)
        self.write = write
    }

    /// Shows `done` of `total` with a short status text.
    public func update(_ done: Int, status: String = "") {
        let now = Date()
        let elapsed = now.timeIntervalSince(started)
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let remaining = rate > 0 ? Double(total - done) / rate : 0
        if isTerminal {
            if done < total && now.timeIntervalSince(lastDraw) < 0.1 { return }
            lastDraw = now
            let width = 24
            let filled = min(width, width * done / total)
            let bar = String(repeating: "=", count: filled) + (filled < width ? ">" : "") + String(repeating: " ", count: max(0, width - filled - 1))
            let line = String(format: "\r%@ [%@] %d/%d %@ %.1f/s ETA %@", label, bar, done, total, status, rate, ProgressBar.duration(remaining))
            write(line + "\u{1B}[K")
            if done >= total { write("\n") }
        } else if done % plainInterval == 0 || done >= total {
            let line = String(format: "%@ %d/%d %@ (%.1f/s, %@ elapsed)\n", label, done, total, status, rate, ProgressBar.duration(elapsed))
            write(line)
        }
    }

    /// Writes a message on its own line without breaking the bar.
    public func log(_ message: String) {
        let prefix = isTerminal ? "\r\u{1B}[K" : ""
        write(prefix + message + "\n")
    }

    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "?" }
        let s = Int(seconds.rounded())
        return s >= 3600 ? "\(s / 3600)h\(s % 3600 / 60)m" : s >= 60 ? "\(s / 60)m\(s % 60)s" : "\(s)s"
    }
}
