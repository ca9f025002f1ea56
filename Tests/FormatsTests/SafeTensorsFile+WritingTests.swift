import Foundation
import _TestSupport
import Testing
import TensorCore
import Formats

/// Writing safetensors files and reading them back.
@Suite("SafeTensorsFile writing")
struct SafeTensorsWritingTests {
    let directory: TemporaryDirectory
    init() throws { directory = try TemporaryDirectory() }

    /// Writes the payloads and reopens the file.
    func roundTrip(_ tensors: [(name: String, payload: SafeTensorsPayload)], metadata: [String: String] = [:]) throws -> SafeTensorsFile {
        let url = directory.file("roundtrip.safetensors")
        try SafeTensorsFile.write(tensors, metadata: metadata, to: url)
        return try SafeTensorsFile(contentsOf: url)
    }

    /// Floats spanning signs, magnitudes and special values.
    static let floats: [Float] = [0, -0.0, 1, -2.5, 3.14159265, 1e-3, -6.1e-5, 65504, 1e-7, 3e38, .infinity, -.infinity]

    @Test func float32RoundTripsExactly() throws {
        let tensor = Tensor<Float>(shape: [3, 4], scalars: Self.floats)
        let file = try roundTrip([("w", .float32(tensor))])
        #expect(try file.entry(named: "w").dtype == .float32)
        let back = try file.tensor(named: "w", as: Float.self)
        #expect(back.shape == [3, 4])
        #expect(back.scalars.map(\.bitPattern) == Self.floats.map(\.bitPattern))
    }

    @Test func float64RoundTripsExactly() throws {
        let values: [Double] = [0.1, -1e300, .leastNonzeroMagnitude, .pi, -0.0, 123456789.123456789]
        let file = try roundTrip([("w", .float64(Tensor(shape: [2, 3], scalars: values)))])
        #expect(try file.entry(named: "w").dtype == .float64)
        #expect(try file.tensor(named: "w", as: Double.self).scalars.map(\.bitPattern) == values.map(\.bitPattern))
    }

    @Test func float16StoresTheNearestHalf() throws {
        let file = try roundTrip([("h", .float16(Tensor(Self.floats)))])
        #expect(try file.entry(named: "h").dtype == .float16)
        let raw = try file.data(named: "h")
        let bits = stride(from: 0, to: raw.count, by: 2).map { UInt16(raw[$0]) | UInt16(raw[$0 + 1]) << 8 }
        #expect(bits == Self.floats.map { HalfPrecision.halfBits(from: $0) })
        let back = try file.tensor(named: "h", as: Float.self).scalars
        #expect(back == Self.floats.map { HalfPrecision.float(fromHalfBits: HalfPrecision.halfBits(from: $0)) })
        #expect(back[2] == 1 && back[3] == -2.5 && back[7] == 65504 && back[9] == .infinity)
    }

    @Test func bfloat16StoresTheNearestBFloat() throws {
        let file = try roundTrip([("b", .bfloat16(Tensor(Self.floats)))])
        #expect(try file.entry(named: "b").dtype == .bfloat16)
        let back = try file.tensor(named: "b", as: Float.self).scalars
        #expect(back == Self.floats.map { HalfPrecision.float(fromBFloat16Bits: HalfPrecision.bfloat16Bits(from: $0)) })
        #expect(back[2] == 1 && back[3] == -2.5)
    }

    @Test func integerPayloadsRoundTrip() throws {
        let i64 = [Int.min, -1, 0, 1 << 53 + 1, Int.max]
        let i32 = [Int(Int32.min), -5, 0, Int(Int32.max)]
        let u8: [UInt8] = [0, 1, 127, 128, 255, 42]
        let file = try roundTrip([
            ("i64", .int64(i64, shape: [5])),
            ("i32", .int32(i32, shape: [2, 2])),
            ("u8", .uint8(u8, shape: [2, 3])),
        ])
        #expect(try file.integers(named: "i64") == i64)
        #expect(try file.integers(named: "i32") == i32)
        #expect(try file.integers(named: "u8") == u8.map(Int.init))
        #expect(try file.entry(named: "i32") == SafeTensorsEntry(name: "i32", dtype: .int32, shape: [2, 2], dataOffsets: 40..<56))
        #expect(try file.tensor(named: "u8", as: Float.self).shape == [2, 3])
    }

    @Test func metadataRoundTripsIncludingCharactersThatNeedEscaping() throws {
        let metadata = ["format": "pt", "quote\"key": "line\nbreak\tand \\ backslash", "unicode": "ünï 🧪", "empty": ""]
        let file = try roundTrip([("w", .uint8([1], shape: [1]))], metadata: metadata)
        #expect(file.metadata == metadata)
    }

    @Test func tensorsKeepTheGivenOrderAndTheHeaderIsPaddedToEightBytes() throws {
        let url = directory.file("layout.safetensors")
        let names = ["zeta", "alpha", "mid.layer", "beta"]
        try SafeTensorsFile.write(names.enumerated().map { ($1, .float32(Tensor([Float($0)]))) }, metadata: ["k": "v"], to: url)
        let bytes = [UInt8](try Data(contentsOf: url))
        let headerLength = bytes[0..<8].reversed().reduce(0) { $0 << 8 | Int($1) }
        #expect(headerLength % 8 == 0)
        #expect(bytes.count == 8 + headerLength + 16)
        let header = String(decoding: bytes[8..<(8 + headerLength)], as: UTF8.self)
        #expect(header.hasPrefix(#"{"__metadata__":{"k":"v"},"zeta":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}"#))
        #expect(header.trimmingCharacters(in: .whitespaces).hasSuffix("}"))
        let file = try SafeTensorsFile(contentsOf: url)
        #expect(file.tensorNames == names)
        #expect(try names.map { try file.tensor(named: $0, as: Float.self).scalar } == [0, 1, 2, 3])
    }

    @Test func largeTensorsAreWrittenInBlocks() throws {
        let count = 40_003  // not a multiple of the writer's block size
        let values = (0..<count).map { Float($0 % 2048) * 0.25 - 256 }
        let file = try roundTrip([("f16", .float16(Tensor(values))), ("i64", .int64(Array(0..<count), shape: [count]))])
        #expect(try file.tensor(named: "f16", as: Float.self).scalars == values)
        #expect(try file.integers(named: "i64") == Array(0..<count))
    }

    @Test func invalidPayloadsAreRejectedBeforeAnythingIsWritten() throws {
        let url = directory.file("model.safetensors")
        try SafeTensorsFile.write([("keep", .uint8([1], shape: [1]))], to: url)
        let original = try Data(contentsOf: url)
        let cases: [([(name: String, payload: SafeTensorsPayload)], SafeTensorsError)] = [
            ([("a", .uint8([1], shape: [1])), ("a", .uint8([2], shape: [1]))], .duplicateTensorName(path: url.path, tensor: "a")),
            ([("__metadata__", .uint8([1], shape: [1]))], .reservedTensorName(path: url.path, tensor: "__metadata__")),
            ([("m", .int64([1, 2, 3], shape: [2, 2]))], .payloadShapeMismatch(path: url.path, tensor: "m", shape: [2, 2], elementCount: 3)),
            ([("n", .uint8([1], shape: [-1]))], .payloadShapeMismatch(path: url.path, tensor: "n", shape: [-1], elementCount: 1)),
            (
                [("ok", .uint8([1], shape: [1])), ("i", .int32([1, 1 << 31], shape: [2]))],
                .valueOutOfRange(path: url.path, tensor: "i", value: String(1 << 31), requested: "I32")
            ),
        ]
        for (tensors, expected) in cases {
            let error = #expect(throws: SafeTensorsError.self) { try SafeTensorsFile.write(tensors, to: url) }
            #expect(error == expected)
            #expect(error?.description.contains(url.path) == true)
        }
        #expect(try Data(contentsOf: url) == original)
        #expect(try directory.contents() == ["model.safetensors"])
    }

    @Test func writingIntoAMissingDirectoryFailsWithoutLeavingFiles() throws {
        let url = directory.file("missing/model.safetensors")
        let error = #expect(throws: AtomicFileError.self) {
            try SafeTensorsFile.write([("w", .uint8([1], shape: [1]))], to: url)
        }
        #expect(error?.description.contains(url.path) == true)
        #expect(try directory.contents().isEmpty)
    }
}
