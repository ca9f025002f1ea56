/// A failure of a workflow that a user can cause (a file, a model, data, options that do not fit
/// together), with a message naming what and where.
public struct WorkflowError: Error, CustomStringConvertible, Equatable {
    /// The message, naming what is wrong and where.
    public let description: String
    /// An error with `message` as its description.
    public init(_ message: String) { description = message }
}
