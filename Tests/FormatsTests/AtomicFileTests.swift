import Foundation
import _TestSupport
import Testing
import Formats

/// Atomic replacement: the destination is either the old file or the complete new one.
@Suite("AtomicFile")
struct AtomicFileTests {
    let directory: TemporaryDirectory
    init() throws { directory = try TemporaryDirectory() }

    struct Interrupted: Error {}

    @Test func writesTheDataAndLeavesNoTemporaryFile() throws {
        let url = directory.file("out.txt")
        try AtomicFile.write(Data("hello\n".utf8), to: url)
        #expect(try String(contentsOf: url, encoding: .utf8) == "hello\n")
        #expect(try directory.contents() == ["out.txt"])
    }

    @Test func replacesAnExistingFile() throws {
        let url = try directory.write(Array("old contents".utf8), to: "out.txt")
        try AtomicFile.write(Data("new".utf8), to: url)
        #expect(try String(contentsOf: url, encoding: .utf8) == "new")
        #expect(try directory.contents() == ["out.txt"])
    }

    @Test func streamedWritesOfAnySizeArriveInOrder() throws {
        let url = directory.file("stream.bin")
        var expected: [UInt8] = []
        let count = try AtomicFile.write(to: url) { writer -> Int in
            for i in 0..<1000 {
                let piece = [UInt8](repeating: UInt8(i % 251), count: i % 7)
                try writer.write(piece)
                expected += piece
            }
            // Larger than the writer's buffer, so it bypasses it.
            let large = (0..<700_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
            try writer.write(large)
            expected += large
            try writer.write("tail")
            expected += Array("tail".utf8)
            return writer.byteCount
        }
        #expect(count == expected.count)
        #expect([UInt8](try Data(contentsOf: url)) == expected)
    }

    @Test func aFailingWriteKeepsTheOldFileAndRemovesTheTemporaryFile() throws {
        let url = try directory.write(Array("precious".utf8), to: "out.txt")
        #expect(throws: Interrupted.self) {
            try AtomicFile.write(to: url) { writer in
                try writer.write([UInt8](repeating: 1, count: 600_000))
                throw Interrupted()
            }
        }
        #expect(try String(contentsOf: url, encoding: .utf8) == "precious")
        #expect(try directory.contents() == ["out.txt"])
    }

    @Test func aFailingFirstWriteCreatesNoFile() throws {
        let url = directory.file("never.txt")
        #expect(throws: Interrupted.self) {
            try AtomicFile.write(to: url) { writer in
                try writer.write("partial")
                throw Interrupted()
            }
        }
        #expect(try directory.contents().isEmpty)
    }

    @Test func aMissingDirectoryIsReportedWithThePath() throws {
        let url = directory.file("no/such/dir/out.txt")
        let error = #expect(throws: AtomicFileError.self) { try AtomicFile.write(Data([1]), to: url) }
        guard case .cannotCreateTemporaryFile(let path, _)? = error else {
            Issue.record("expected cannotCreateTemporaryFile, got \(String(describing: error))")
            return
        }
        #expect(path == url.path)
        #expect(error?.description.contains(url.path) == true)
    }

    @Test func aDestinationThatIsADirectoryIsNotClobbered() throws {
        let url = directory.file("taken")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: false)
        try Data([1]).write(to: url.appendingPathComponent("inside"))
        let error = #expect(throws: AtomicFileError.self) { try AtomicFile.write(Data([2]), to: url) }
        guard case .renameFailed(let path, _)? = error else {
            Issue.record("expected renameFailed, got \(String(describing: error))")
            return
        }
        #expect(path == url.path)
        #expect(try directory.contents() == ["taken"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: url.path) == ["inside"])
    }

    @Test func newFilesGetMode0644AndReplacementsKeepTheOldMode() throws {
        let fresh = directory.file("fresh")
        try AtomicFile.write(Data([1]), to: fresh)
        let freshMode = try FileManager.default.attributesOfItem(atPath: fresh.path)[.posixPermissions] as? Int
        #expect(freshMode == 0o644)

        let secret = try directory.write([1], to: "secret")
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: secret.path)
        try AtomicFile.write(Data([2]), to: secret)
        let secretMode = try FileManager.default.attributesOfItem(atPath: secret.path)[.posixPermissions] as? Int
        #expect(secretMode == 0o600)
    }
}
