import Foundation
import _TestSupport
import Testing
import TensorCore
import Formats

/// Reading tensors from hand-built safetensors files (independent of the writer).
@Suite("SafeTensorsFile reading")
struct SafeTensorsFileTests {
    let directory: TemporaryDirectory
    init() throws { directory = try TemporaryDirectory() }

    /// A file with the given (name, dtype, shape, bytes) entries laid out in order.
    func makeFile(
        _ entries: [(String, String, [Int], [UInt8])], metadata: String? = nil,
        name: String = "model.safetensors"
    ) throws -> URL {
        var parts: [String] = metadata.map { [#""__metadata__":"# + $0] } ?? []
        var data: [UInt8] = []
        for (tensor, dtype, shape, bytes) in entries {
            let dims = shape.map(String.init).joined(separator: ",")
            parts.append(#""\#(tensor)":{"dtype":"\#(dtype)","shape":[\#(dims)],"data_offsets":[\#(data.count),\#(data.count + bytes.count)]}"#)
            data += bytes
        }
        return try directory.write(safeTensorsBytes(header: "{" + parts.joined(separator: ",") + "}", data: data), to: name)
    }

    @Test func everyDTypeConvertsToFloatAndDouble() throws {
        let url = try makeFile([
            ("f64", "F64", [2], littleEndianBytes([(0.1).bitPattern, (-3.5).bitPattern] as [UInt64])),
            ("f32", "F32", [2], littleEndianBytes([Float(1.25).bitPattern, Float(-0.5).bitPattern])),
            ("f16", "F16", [3], littleEndianBytes([0x3C00, 0xC000, 0x0001] as [UInt16])),
            ("bf16", "BF16", [2], littleEndianBytes([0x3F80, 0xC040] as [UInt16])),
            ("i64", "I64", [2], littleEndianBytes([-7, 1 << 40] as [Int64])),
            ("i32", "I32", [2], littleEndianBytes([-70000, 3] as [Int32])),
            ("i16", "I16", [2], littleEndianBytes([-300, 300] as [Int16])),
            ("i8", "I8", [2], littleEndianBytes([-128, 127] as [Int8])),
            ("u64", "U64", [1], littleEndianBytes([1 << 50] as [UInt64])),
            ("u32", "U32", [1], littleEndianBytes([4_000_000_000] as [UInt32])),
            ("u16", "U16", [1], littleEndianBytes([65535] as [UInt16])),
            ("u8", "U8", [2], [0, 255]),
            ("bool", "BOOL", [3], [0, 1, 7]),
        ])
        let file = try SafeTensorsFile(contentsOf: url)
        let expected: [String: [Double]] = [
            "f64": [0.1, -3.5], "f32": [1.25, -0.5], "f16": [1, -2, 0x1p-24], "bf16": [1, -3],
            "i64": [-7, 0x1p40], "i32": [-70000, 3], "i16": [-300, 300], "i8": [-128, 127], "u64": [0x1p50],
            "u32": [4_000_000_000], "u16": [65535], "u8": [0, 255], "bool": [0, 1, 1],
        ]
        for (name, values) in expected {
            let doubles = try file.tensor(named: name, as: Double.self)
            #expect(doubles.scalars == values, "\(name) as Double")
            let floats = try file.tensor(named: name, as: Float.self)
            #expect(floats.scalars == values.map { Float($0) }, "\(name) as Float")
            #expect(floats.shape == [values.count])
        }
    }

    @Test func tensorNamesFollowTheDataOffsetsNotTheHeaderOrder() throws {
        // Header keys are alphabetical here, data offsets are not.
        let header =
            #"{"a":{"dtype":"U8","shape":[1],"data_offsets":[2,3]},"b":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"#
            + #""c":{"dtype":"U8","shape":[0],"data_offsets":[3,3]}}"#
        let url = try directory.write(safeTensorsBytes(header: header, data: [1, 2, 3]), to: "order.safetensors")
        let file = try SafeTensorsFile(contentsOf: url)
        #expect(file.tensorNames == ["b", "a", "c"])
        #expect(try file.integers(named: "b") == [1, 2])
        #expect(try file.integers(named: "c") == [])
        #expect(try file.entry(named: "a") == SafeTensorsEntry(name: "a", dtype: .uint8, shape: [1], dataOffsets: 2..<3))
    }

    @Test func unalignedTensorDataIsReadCorrectly() throws {
        // One U8 byte first puts the F32, F64 and I64 data at odd offsets.
        let url = try makeFile([
            ("pad", "U8", [1], [9]),
            ("f32", "F32", [3], littleEndianBytes([Float(1.5).bitPattern, Float(-2).bitPattern, Float(1e-3).bitPattern])),
            ("f64", "F64", [1], littleEndianBytes([(2.75).bitPattern] as [UInt64])),
            ("i64", "I64", [1], littleEndianBytes([-123_456_789_012] as [Int64])),
        ])
        let file = try SafeTensorsFile(contentsOf: url)
        #expect(try file.entry(named: "f32").dataOffsets.lowerBound == 1)
        #expect(try file.tensor(named: "f32", as: Float.self).scalars == [1.5, -2, 1e-3])
        #expect(try file.tensor(named: "f64", as: Double.self).scalars == [2.75])
        #expect(try file.integers(named: "i64") == [-123_456_789_012])
    }

    @Test func shapesIncludingScalarsAndEmptyTensorsAreKept() throws {
        let url = try makeFile([
            ("matrix", "F32", [2, 3], littleEndianBytes((0..<6).map { Float($0).bitPattern })),
            ("scalar", "F64", [], littleEndianBytes([(4.5).bitPattern] as [UInt64])),
            ("empty", "F32", [0, 3], []),
        ])
        let file = try SafeTensorsFile(contentsOf: url)
        let matrix = try file.tensor(named: "matrix", as: Float.self)
        #expect(matrix.shape == [2, 3])
        #expect(matrix[1, 2] == 5)
        let scalar = try file.tensor(named: "scalar", as: Double.self)
        #expect(scalar.shape == [] && scalar.scalar == 4.5)
        #expect(try file.tensor(named: "empty", as: Float.self).shape == [0, 3])
    }

    @Test func metadataAndRawBytesAreAvailable() throws {
        let url = try makeFile([("w", "U8", [3], [7, 8, 9])], metadata: #"{"format":"pt","step":"12"}"#)
        let file = try SafeTensorsFile(contentsOf: url)
        #expect(file.metadata == ["format": "pt", "step": "12"])
        #expect(try file.data(named: "w") == Data([7, 8, 9]))
        #expect(file.contains(tensorNamed: "w") && !file.contains(tensorNamed: "v"))
    }

    @Test func requestingAMissingTensorNamesFileAndTensor() throws {
        let url = try makeFile([("encoder.weight", "U8", [1], [1])], name: "checkpoint.safetensors")
        let file = try SafeTensorsFile(contentsOf: url)
        let error = #expect(throws: SafeTensorsError.self) { try file.tensor(named: "decoder.weight", as: Float.self) }
        #expect(error == .tensorNotFound(path: url.path, tensor: "decoder.weight", available: ["encoder.weight"]))
        #expect(error?.description.contains("checkpoint.safetensors") == true)
        #expect(error?.description.contains("decoder.weight") == true)
        #expect(error?.description.contains("encoder.weight") == true)
    }

    @Test func impossibleConversionsNameFileTensorAndTypes() throws {
        let url = try makeFile([
            ("weights", "F32", [1], littleEndianBytes([Float(1).bitPattern])),
            ("fp8", "F8_E4M3", [2], [0x38, 0x40]),
            ("big", "U64", [1], littleEndianBytes([UInt64.max])),
        ])
        let file = try SafeTensorsFile(contentsOf: url)
        let toIntegers = #expect(throws: SafeTensorsError.self) { try file.integers(named: "weights") }
        #expect(toIntegers == .unsupportedConversion(path: url.path, tensor: "weights", dtype: "F32", requested: "Int"))
        #expect(toIntegers?.description.contains("weights") == true)
        #expect(toIntegers?.description.contains(url.path) == true)

        let fromFP8 = #expect(throws: SafeTensorsError.self) { try file.tensor(named: "fp8", as: Float.self) }
        #expect(fromFP8 == .unsupportedConversion(path: url.path, tensor: "fp8", dtype: "F8_E4M3", requested: "F32"))
        #expect(fromFP8?.description.contains("fp8") == true)

        let tooBig = #expect(throws: SafeTensorsError.self) { try file.integers(named: "big") }
        #expect(tooBig == .valueOutOfRange(path: url.path, tensor: "big", value: String(UInt64.max), requested: "Int"))
        // As a floating-point tensor the same element is fine.
        #expect(try file.tensor(named: "big", as: Double.self).scalars == [0x1p64])
    }

    @Test func tensorsStayReadableAfterTheFileIsReplaced() throws {
        let url = try makeFile([("w", "U8", [2], [1, 2])], name: "replace.safetensors")
        let file = try SafeTensorsFile(contentsOf: url)
        // An atomic replacement (rename(2)) gives a new inode; the mapping keeps the old contents.
        let replacement = try makeFile([("v", "U8", [1], [5])], name: "replacement.safetensors")
        #expect(rename(replacement.path, url.path) == 0)
        #expect(try file.integers(named: "w") == [1, 2])
        #expect(try SafeTensorsFile(contentsOf: url).tensorNames == ["v"])
    }
}
