/// A progress reporter for the engine's (stage, done, total) callbacks: one bar per stage on
/// stderr (a bar on a terminal, plain lines otherwise).
final class StageProgress {
    private var bars: [String: ProgressBarAdapter] = [:]
    func update(_ stage: String, _ done: Int, _ total: Int) {
        let bar = bars[stage] ?? ProgressBarAdapter(label: stage, total: total)
        bars[stage] = bar
        bar.update(done)
    }
}
