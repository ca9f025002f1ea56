import Foundation
import Formats

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Replaces the file at `url` with what `body` writes, through ``Formats/AtomicFile``: readers
/// see the old file or the whole new one, never a part, and a failure leaves no temporary file.
///
/// - Throws: ``RetrievalFileError`` of kind `.unwritable` naming the destination, or what `body` throws.
func writeAtomically(to url: URL, _ body: (AtomicFileWriter) throws -> Void) throws {
    do {
        try AtomicFile.write(to: url, body)
    } catch let error as AtomicFileError {
        let message: String
        switch error {
        case let .cannotCreateTemporaryFile(_, reason): message = "cannot create a temporary file in its directory: \(reason)"
        case let .writeFailed(_, reason): message = "writing failed: \(reason)"
        case let .renameFailed(_, reason): message = "cannot move the finished file into place: \(reason)"
        }
        throw RetrievalFileError(.unwritable, file: url.path, message: message)
    }
}

/// The text of the current `errno`.
func errnoText() -> String {
    String(cString: strerror(errno))
}
