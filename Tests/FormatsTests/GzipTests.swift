import Foundation
import _TestSupport
import Testing
import TensorCore
import Formats

@Suite("Gzip")
struct GzipTests {
    /// `printf 'hello, gzip\n' | gzip -n`, made by GNU gzip.
    static let gnuGzipHello: [UInt8] = [
        0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0xd7,
        0x51, 0x48, 0xaf, 0xca, 0x2c, 0xe0, 0x02, 0x00, 0x86, 0x1f, 0x82, 0xa4, 0x0c, 0x00, 0x00, 0x00,
    ]
    /// Python's `zlib.compress(b'hello, zlib')`: a zlib (not gzip) header.
    static let zlibHello: [UInt8] = [120, 156, 203, 72, 205, 201, 201, 215, 81, 168, 202, 201, 76, 2, 0, 24, 178, 4, 18]

    static func randomBytes(_ count: Int, seed: UInt64) -> Data {
        var generator = SeededGenerator(seed: seed)
        return Data((0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }

    @Test(arguments: [0, 1, 1000, 200_000])
    func compressedDataDecompressesToTheOriginal(count: Int) throws {
        let random = Self.randomBytes(count, seed: UInt64(count))
        #expect(try Gzip.decompress(Gzip.compress(random)) == random)
        let repetitive = Data((0..<count).map { UInt8($0 % 10) })
        let packed = try Gzip.compress(repetitive)
        #expect(Gzip.isCompressed(packed))
        #expect(try Gzip.decompress(packed) == repetitive)
        if count >= 1000 { #expect(packed.count < count / 10) }
    }

    @Test func decompressesGNUGzipOutputAndZlibStreams() throws {
        #expect(try Gzip.decompress(Data(Self.gnuGzipHello)) == Data("hello, gzip\n".utf8))
        #expect(try Gzip.decompress(Data(Self.zlibHello)) == Data("hello, zlib".utf8))
    }

    @Test func concatenatedMembersAreJoined() throws {
        let joined = try Gzip.compress(Data("first ".utf8)) + Data(Self.gnuGzipHello) + Gzip.compress(Data())
        #expect(try Gzip.decompress(joined) == Data("first hello, gzip\n".utf8))
    }

    @Test func zeroPaddingAfterTheLastMemberIsIgnored() throws {
        #expect(try Gzip.decompress(Data(Self.gnuGzipHello + [0, 0, 0, 0])) == Data("hello, gzip\n".utf8))
    }

    @Test func corruptDataIsReported() throws {
        var damaged = Self.gnuGzipHello
        damaged[12] ^= 0xFF  // inside the deflate stream
        let damagedError = #expect(throws: GzipError.self) { try Gzip.decompress(Data(damaged)) }
        guard case .corruptData(nil, let reason)? = damagedError else {
            Issue.record("expected corruptData, got \(String(describing: damagedError))")
            return
        }
        #expect(!reason.isEmpty)
        var badChecksum = Self.gnuGzipHello
        badChecksum[25] ^= 0x01  // the CRC-32 in the trailer
        let error = #expect(throws: GzipError.self) { try Gzip.decompress(Data(badChecksum)) }
        #expect(error?.description.contains("corrupt") == true)
        #expect(throws: GzipError.self) { try Gzip.decompress(Data("plain text, not gzip".utf8)) }
    }

    @Test func truncatedDataIsReported() throws {
        for length in [0, 5, 12, Self.gnuGzipHello.count - 1] {
            #expect(throws: GzipError.truncatedData(path: nil), "length \(length)") {
                try Gzip.decompress(Data(Self.gnuGzipHello.prefix(length)))
            }
        }
    }

    @Test func filesAreDecompressedOnlyWhenTheyStartWithTheMagicBytes() throws {
        let directory = try TemporaryDirectory()
        let plain = try directory.write(Array("not compressed".utf8), to: "plain.txt")
        #expect(try Gzip.contentsOfFile(at: plain) == Data("not compressed".utf8))
        let packed = try directory.write(Self.gnuGzipHello, to: "hello.txt.gz")
        #expect(try Gzip.contentsOfFile(at: packed) == Data("hello, gzip\n".utf8))
    }

    @Test func fileErrorsNameTheFile() throws {
        let directory = try TemporaryDirectory()
        let truncated = try directory.write(Array(Self.gnuGzipHello.prefix(20)), to: "broken.gz")
        let error = #expect(throws: GzipError.self) { try Gzip.contentsOfFile(at: truncated) }
        #expect(error == .truncatedData(path: truncated.path))
        #expect(error?.description.contains("broken.gz") == true)

        let missing = directory.file("missing.gz")
        let missingError = #expect(throws: GzipError.self) { try Gzip.contentsOfFile(at: missing) }
        #expect(missingError?.description.contains(missing.path) == true)
    }
}
