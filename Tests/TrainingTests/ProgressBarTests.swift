import Foundation
import Testing
import Training

@Suite("Progress on standard error")
struct ProgressBarTests {
    final class Capture: @unchecked Sendable { var text = "" }

    @Test func plainOutputPrintsALineEveryIntervalAndAtTheEnd() {
        let capture = Capture()
        let bar = ProgressBar(total: 10, label: "fit", plainInterval: 4, isTerminal: false) { capture.text += $0 }
        for done in 1...10 { bar.update(done, status: "ok") }
        let lines = capture.text.split(separator: "\n").map(String.init)
        #expect(lines.count == 3, "\(lines)")
        #expect(lines.map { $0.components(separatedBy: " ").prefix(2).joined(separator: " ") } == ["fit 4/10", "fit 8/10", "fit 10/10"])
        #expect(lines.allSatisfy { $0.contains(" ok (") && !$0.contains("\u{1B}") }, "plain output must not hold escape codes")
    }

    @Test func terminalOutputRedrawsOneLineAndEndsWithANewline() {
        let capture = Capture()
        let bar = ProgressBar(total: 4, label: "train", isTerminal: true) { capture.text += $0 }
        bar.update(1)
        bar.update(4, status: "loss 1.0")
        #expect(capture.text.hasPrefix("\rtrain ["))
        #expect(capture.text.contains("] 4/4 loss 1.0"))
        #expect(capture.text.contains("[========================]"), "a finished bar is full")
        #expect(capture.text.hasSuffix("\u{1B}[K\n"))
        #expect(capture.text.filter { $0 == "\n" }.count == 1)
    }

    @Test func logMessagesClearTheBarLineFirst() {
        let capture = Capture()
        ProgressBar(total: 2, label: "x", isTerminal: true) { capture.text += $0 }.log("step 1")
        #expect(capture.text == "\r\u{1B}[Kstep 1\n")
        let plain = Capture()
        ProgressBar(total: 2, label: "x", isTerminal: false) { plain.text += $0 }.log("step 1")
        #expect(plain.text == "step 1\n")
    }
}
