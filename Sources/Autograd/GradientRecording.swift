/// Whether operations on ``Variable`` record themselves for differentiation.
///
/// Recording is on by default. Inside ``withoutGradients(_:)`` nothing is recorded: operations
/// compute values only and return constants, so no graph is kept alive and nothing is allocated
/// for it. The setting is task-local, so concurrent tasks do not see each other's scopes.
public enum GradientRecording {
    @TaskLocal static var isEnabled = true

    /// True when operations on variables are being recorded.
    public static var isRecording: Bool { isEnabled }
}

/// Runs `body` without recording any operation (the no-grad scope).
public func withoutGradients<Result>(_ body: () throws -> Result) rethrows -> Result {
    try GradientRecording.$isEnabled.withValue(false) { try body() }
}

/// Runs `body` with recording on, even inside a ``withoutGradients(_:)`` scope.
public func withGradients<Result>(_ body: () throws -> Result) rethrows -> Result {
    try GradientRecording.$isEnabled.withValue(true) { try body() }
}
