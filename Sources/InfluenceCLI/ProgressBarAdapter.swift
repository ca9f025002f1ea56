import Training

/// The trainer's progress bar for other long work.
final class ProgressBarAdapter {
    let bar: ProgressBar
    init(label: String, total: Int) { bar = ProgressBar(total: total, label: label, plainInterval: Swift.max(1, total / 10)) }
    func update(_ done: Int) { bar.update(done) }
}
