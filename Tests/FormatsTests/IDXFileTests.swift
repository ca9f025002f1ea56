import Foundation
import _TestSupport
import Testing
import TensorCore
import Formats

@Suite("IDXFile")
struct IDXFileTests {
    let directory: TemporaryDirectory
    init() throws { directory = try TemporaryDirectory() }

    /// The bytes of an IDX file with the given type byte, dimensions and element bytes.
    static func idx(type: UInt8, shape: [Int], elements: [UInt8]) -> [UInt8] {
        [0, 0, type, UInt8(shape.count)] + bigEndianBytes(shape.map { UInt32($0) }) + elements
    }

    @Test func readsEveryElementType() throws {
        let cases: [(UInt8, IDXFile.ElementType, [UInt8], [Double])] = [
            (0x08, .uint8, [0, 7, 255, 128], [0, 7, 255, 128]),
            (0x09, .int8, [0xFF, 0x80, 0x7F, 1], [-1, -128, 127, 1]),
            (0x0B, .int16, bigEndianBytes([-300, 2, 32767, -32768] as [Int16]), [-300, 2, 32767, -32768]),
            (0x0C, .int32, bigEndianBytes([-70000, 0, 1, 2_000_000_000] as [Int32]), [-70000, 0, 1, 2_000_000_000]),
            (0x0D, .float32, bigEndianBytes([Float(1.5), -2, 0.25, 1e-3].map(\.bitPattern)), [1.5, -2, 0.25, Double(Float(1e-3))]),
            (0x0E, .float64, bigEndianBytes([0.1, -1e300, 4, 5].map(\.bitPattern)), [0.1, -1e300, 4, 5]),
        ]
        for (code, type, elements, expected) in cases {
            let url = try directory.write(Self.idx(type: code, shape: [2, 2], elements: elements), to: "t\(code).idx")
            let file = try IDXFile(contentsOf: url)
            #expect(file.elementType == type)
            #expect(file.shape == [2, 2])
            let tensor = file.tensor(as: Double.self)
            #expect(tensor.shape == [2, 2])
            #expect(tensor.scalars == expected, "type 0x\(String(code, radix: 16))")
            #expect(file.tensor(as: Float.self).scalars == expected.map { Float($0) })
            if code <= 0x0C { #expect(try file.integers() == expected.map { Int($0) }) }
        }
    }

    @Test func gzipCompressedFilesAreReadTransparently() throws {
        let bytes = Self.idx(type: 0x08, shape: [3], elements: [4, 5, 6])
        let url = try directory.write([UInt8](try Gzip.compress(Data(bytes))), to: "labels-idx1-ubyte.gz")
        let file = try IDXFile(contentsOf: url)
        #expect(try file.bytes() == [4, 5, 6])
        #expect(try file.integers() == [4, 5, 6])
    }

    @Test func aPrefixOfItemsReadsOnlyWhatItNeeds() throws {
        // 5,000 items of 3 × 4 int16 (large enough to span many inflate chunks), gzip-compressed.
        let values = (0..<60_000).map { Int16(truncatingIfNeeded: $0 &* 7919) }
        let bytes = Self.idx(type: 0x0B, shape: [5000, 3, 4], elements: bigEndianBytes(values))
        let compressed = [UInt8](try Gzip.compress(Data(bytes)))
        let url = try directory.write(compressed, to: "items-idx3.gz")
        let full = try IDXFile(contentsOf: url)
        for n in [0, 1, 1234, 5000, 9999] {
            let prefix = try IDXFile(contentsOf: url, maximumItems: n)
            let kept = Swift.min(n, 5000)
            #expect(prefix.shape == [kept, 3, 4])
            #expect(try prefix.integers() == Array(try full.integers().prefix(kept * 12)), "first \(n)")
        }
        // Damage after the prefix is not read; damage inside it is an error naming the file.
        let cut = try directory.write(Array(compressed.prefix(compressed.count / 2)), to: "cut-idx3.gz")
        #expect(try IDXFile(contentsOf: cut, maximumItems: 10).shape == [10, 3, 4])
        #expect { _ = try IDXFile(contentsOf: cut, maximumItems: 5000) } throws: { "\($0)".contains("cut-idx3.gz") }
        // Uncompressed files too.
        let plain = try directory.write(bytes, to: "items-idx3")
        #expect(try IDXFile(contentsOf: plain, maximumItems: 2).integers() == Array(try full.integers().prefix(24)))
    }

    @Test func rankZeroAndEmptyDimensionsAreAllowed() throws {
        let scalar = try IDXFile(contentsOf: directory.write(Self.idx(type: 0x08, shape: [], elements: [9]), to: "scalar.idx"))
        #expect(scalar.shape == [])
        #expect(try scalar.bytes() == [9])
        let empty = try IDXFile(contentsOf: directory.write(Self.idx(type: 0x0D, shape: [0, 28], elements: []), to: "empty.idx"))
        #expect(empty.tensor(as: Float.self).shape == [0, 28])
    }

    /// Checks that opening `bytes` throws `expected(path)` and that the message names the file.
    func expectError(
        _ bytes: [UInt8], name: String, _ expected: (String) -> IDXError,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let url = try directory.write(bytes, to: name)
        let error = #expect(throws: IDXError.self, sourceLocation: sourceLocation) { try IDXFile(contentsOf: url) }
        #expect(error == expected(url.path), sourceLocation: sourceLocation)
        #expect(error?.description.contains(name) == true, sourceLocation: sourceLocation)
    }

    @Test func badMagicIsReported() throws {
        try expectError([0x50, 0x4B, 0x08, 0x01, 0, 0, 0, 0], name: "zip.idx") { .badMagic(path: $0, bytes: [0x50, 0x4B]) }
    }

    @Test func unknownElementTypeIsReported() throws {
        try expectError([0, 0, 0x0A, 1, 0, 0, 0, 0], name: "type.idx") { .unknownElementType(path: $0, code: 0x0A) }
    }

    @Test func truncatedHeaderIsReported() throws {
        try expectError([0, 0], name: "short.idx") { .truncatedHeader(path: $0, byteCount: 2, expected: 4) }
        try expectError([0, 0, 0x08, 3, 0, 0, 0, 2, 0, 0], name: "dims.idx") { .truncatedHeader(path: $0, byteCount: 10, expected: 16) }
    }

    @Test func truncatedOrOverlongDataIsReported() throws {
        try expectError(Self.idx(type: 0x0C, shape: [3], elements: [0, 0, 0, 1, 0, 0]), name: "truncated.idx") {
            .dataSizeMismatch(path: $0, shape: [3], expectedBytes: 12, foundBytes: 6)
        }
        try expectError(Self.idx(type: 0x08, shape: [2], elements: [1, 2, 3]), name: "long.idx") {
            .dataSizeMismatch(path: $0, shape: [2], expectedBytes: 2, foundBytes: 3)
        }
    }

    @Test func shapesWhoseSizeOverflowsAreReported() throws {
        let dims = [UInt32.max, UInt32.max, UInt32.max]
        try expectError([0, 0, 0x0E, 3] + bigEndianBytes(dims), name: "huge.idx") {
            .shapeOverflow(path: $0, shape: dims.map { Int($0) })
        }
        // No items, but items whose size overflows (found by the fuzzer: reading the first items
        // of such a file trapped): refused by both readers.
        let empty: [UInt32] = [0, UInt32.max, UInt32.max, UInt32.max]
        let bytes = [0, 0, 0x0D, 4] + bigEndianBytes(empty)
        try expectError(bytes, name: "empty-huge.idx") { .shapeOverflow(path: $0, shape: empty.map { Int($0) }) }
        let url = try directory.write(bytes, to: "empty-huge-prefix.idx")
        #expect(throws: IDXError.shapeOverflow(path: url.path, shape: empty.map { Int($0) })) { try IDXFile(contentsOf: url, maximumItems: 3) }
    }

    @Test func byteAndIntegerAccessorsRefuseFloatingPointFiles() throws {
        let url = try directory.write(Self.idx(type: 0x0D, shape: [1], elements: bigEndianBytes([Float(1).bitPattern])), to: "f.idx")
        let file = try IDXFile(contentsOf: url)
        #expect(throws: IDXError.wrongElementType(path: url.path, elementType: "float32", requested: "UInt8")) { try file.bytes() }
        #expect(throws: IDXError.wrongElementType(path: url.path, elementType: "float32", requested: "Int")) { try file.integers() }
    }

    static let fashionMNIST = URL(fileURLWithPath: "/usr/share/datasets/fashion-mnist")
    static let fashionMNISTPresent = FileManager.default.fileExists(atPath: fashionMNIST.appendingPathComponent("train-labels-idx1-ubyte.gz").path)

    @Test(.enabled(if: fashionMNISTPresent, "FashionMNIST is not installed in /usr/share/datasets/fashion-mnist (Debian package dataset-fashion-mnist)"))
    func fashionMNISTTrainingSetHasTheDocumentedShape() throws {
        let images = try IDXFile(contentsOf: Self.fashionMNIST.appendingPathComponent("train-images-idx3-ubyte.gz"))
        #expect(images.elementType == .uint8)
        #expect(images.shape == [60000, 28, 28])
        let pixels = images.tensor(as: Float.self)
        #expect(pixels.shape == [60000, 28, 28])
        let bytes = try images.bytes()
        #expect(bytes.max() == 255 && bytes.min() == 0)
        #expect(pixels[59999, 27, 27] == Float(bytes[bytes.count - 1]))

        let labels = try IDXFile(contentsOf: Self.fashionMNIST.appendingPathComponent("train-labels-idx1-ubyte.gz")).integers()
        #expect(labels.count == 60000)
        // Ten classes of 6000 images each.
        var counts = [Int](repeating: 0, count: 10)
        for label in labels where (0...9).contains(label) { counts[label] += 1 }
        #expect(counts == [Int](repeating: 6000, count: 10))
    }

    @Test(.enabled(if: fashionMNISTPresent, "FashionMNIST is not installed in /usr/share/datasets/fashion-mnist (Debian package dataset-fashion-mnist)"))
    func fashionMNISTTestSetHasTheDocumentedShape() throws {
        let images = try IDXFile(contentsOf: Self.fashionMNIST.appendingPathComponent("t10k-images-idx3-ubyte.gz"))
        #expect(images.shape == [10000, 28, 28])
        let labels = try IDXFile(contentsOf: Self.fashionMNIST.appendingPathComponent("t10k-labels-idx1-ubyte.gz"))
        #expect(labels.shape == [10000])
        #expect(try labels.integers().allSatisfy { (0...9).contains($0) })
    }
}
