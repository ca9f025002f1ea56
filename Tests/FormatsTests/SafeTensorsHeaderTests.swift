import Foundation
import _TestSupport
import Testing
import Formats
import TensorCore

/// One test per way a safetensors header can be malformed: each asserts the exact error and
/// that its message names the file (and the tensor, where there is one).
@Suite("SafeTensors header validation")
struct SafeTensorsHeaderTests {
    let directory: TemporaryDirectory
    init() throws { directory = try TemporaryDirectory() }

    /// Writes `bytes` to a file called `name` and returns the error from opening it.
    func openingError(_ bytes: [UInt8], name: String = "model.safetensors") throws -> (error: SafeTensorsError?, url: URL) {
        let url = try directory.write(bytes, to: name)
        do {
            _ = try SafeTensorsFile(contentsOf: url)
            return (nil, url)
        } catch let error as SafeTensorsError {
            return (error, url)
        }
    }

    /// Checks the error and that its description names the file and the given words.
    func expectError(
        _ bytes: [UInt8], _ expected: (URL) -> SafeTensorsError, mentioning words: [String] = [],
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let (error, url) = try openingError(bytes)
        #expect(error == expected(url), sourceLocation: sourceLocation)
        let message = error?.description ?? ""
        #expect(message.contains(url.path), "message does not name the file: \(message)", sourceLocation: sourceLocation)
        for word in words {
            #expect(message.contains(word), "message does not mention \(word): \(message)", sourceLocation: sourceLocation)
        }
    }

    let validEntry = #"{"dtype":"F32","shape":[2],"data_offsets":[0,8]}"#
    let eightBytes = [UInt8](repeating: 0, count: 8)

    @Test func emptyHeaderObjectWithoutTensorsIsValid() throws {
        let url = try directory.write(safeTensorsBytes(header: "{}"), to: "empty.safetensors")
        let file = try SafeTensorsFile(contentsOf: url)
        #expect(file.tensorNames.isEmpty)
        #expect(file.metadata.isEmpty)
    }

    @Test func fileShorterThanEightBytesIsRejected() throws {
        try expectError([1, 0, 0], { .fileTooShort(path: $0.path, byteCount: 3) }, mentioning: ["3 bytes"])
        try expectError([], { .fileTooShort(path: $0.path, byteCount: 0) })
    }

    @Test func headerLengthPastTheEndOfTheFileIsRejected() throws {
        try expectError(
            safeTensorsBytes(header: "{}", headerLength: 3),
            { .headerLengthOutOfBounds(path: $0.path, headerLength: 3, availableBytes: 2) }, mentioning: ["3"])
        try expectError(
            safeTensorsBytes(header: "{}", headerLength: .max),
            { .headerLengthOutOfBounds(path: $0.path, headerLength: .max, availableBytes: 2) })
    }

    @Test func headerLongerThanTheLimitIsRejected() throws {
        let length = SafeTensorsFile.maximumHeaderLength + 1
        // A sparse file: the length must also fit in the file for this check to be reached.
        var bytes = safeTensorsBytes(header: "{", headerLength: UInt64(length))
        bytes += [UInt8](repeating: 0x20, count: 8)
        let url = try directory.write(bytes, to: "model.safetensors")
        let handle = try FileHandle(forWritingTo: url)
        try handle.truncate(atOffset: UInt64(8 + length))
        try handle.close()
        let error = #expect(throws: SafeTensorsError.self) { try SafeTensorsFile(contentsOf: url) }
        #expect(error == .headerTooLarge(path: url.path, headerLength: UInt64(length), limit: SafeTensorsFile.maximumHeaderLength))
        #expect(error?.description.contains(url.path) == true)
    }

    @Test func headerThatIsNotUTF8IsRejected() throws {
        let bytes = withUnsafeBytes(of: UInt64(4).littleEndian) { Array($0) } + [0x7B, 0xFF, 0xFE, 0x7D]
        try expectError(bytes, { .headerNotUTF8(path: $0.path) })
    }

    @Test func headerThatIsNotJSONIsRejected() throws {
        let (error, url) = try openingError(safeTensorsBytes(header: #"{"w": {"dtype": "F32",}"#))
        guard case .headerNotJSON(let path, let reason)? = error else {
            Issue.record("expected headerNotJSON, got \(String(describing: error))")
            return
        }
        #expect(path == url.path)
        #expect(!reason.isEmpty)
        #expect(error?.description.contains(url.path) == true)
    }

    @Test func headerThatIsNotAJSONObjectIsRejected() throws {
        try expectError(
            safeTensorsBytes(header: "[1, 2]"), { .headerNotObject(path: $0.path, found: "array") },
            mentioning: ["array", "object"])
    }

    @Test(arguments: ["dtype", "shape", "data_offsets"])
    func entryMissingAFieldIsRejected(field: String) throws {
        var fields = ["\"dtype\":\"F32\"", "\"shape\":[2]", "\"data_offsets\":[0,8]"]
        fields.removeAll { $0.hasPrefix("\"\(field)\"") }
        let header = #"{"layer.weight":{"# + fields.joined(separator: ",") + "}}"
        try expectError(
            safeTensorsBytes(header: header, data: eightBytes),
            { .missingField(path: $0.path, tensor: "layer.weight", field: field) },
            mentioning: ["layer.weight", field])
    }

    @Test func entryThatIsNotAnObjectIsRejected() throws {
        try expectError(
            safeTensorsBytes(header: #"{"layer.weight":[0,8]}"#, data: eightBytes),
            {
                .wrongFieldType(
                    path: $0.path, tensor: "layer.weight", field: nil,
                    expected: "an object with dtype, shape and data_offsets", found: "array")
            },
            mentioning: ["layer.weight"])
    }

    @Test func fieldOfTheWrongJSONTypeIsRejected() throws {
        try expectError(
            safeTensorsBytes(header: #"{"w":{"dtype":32,"shape":[2],"data_offsets":[0,8]}}"#, data: eightBytes),
            { .wrongFieldType(path: $0.path, tensor: "w", field: "dtype", expected: "a string", found: "number") },
            mentioning: ["'w'", "dtype"])
        try expectError(
            safeTensorsBytes(header: #"{"w":{"dtype":"F32","shape":"2","data_offsets":[0,8]}}"#, data: eightBytes),
            {
                .wrongFieldType(
                    path: $0.path, tensor: "w", field: "shape", expected: "an array of integers",
                    found: "string")
            },
            mentioning: ["'w'", "shape"])
    }

    @Test func unknownDTypeIsRejected() throws {
        try expectError(
            safeTensorsBytes(header: #"{"w":{"dtype":"F31","shape":[2],"data_offsets":[0,8]}}"#, data: eightBytes),
            { .unknownDType(path: $0.path, tensor: "w", dtype: "F31") }, mentioning: ["'w'", "F31", "BF16"])
    }

    @Test func negativeShapeDimensionIsRejected() throws {
        try expectError(
            safeTensorsBytes(header: #"{"w":{"dtype":"F32","shape":[2,-1],"data_offsets":[0,8]}}"#, data: eightBytes),
            { .invalidShapeDimension(path: $0.path, tensor: "w", dimension: 1, value: "-1") },
            mentioning: ["'w'", "-1"])
    }

    @Test func nonIntegerShapeDimensionIsRejected() throws {
        try expectError(
            safeTensorsBytes(header: #"{"w":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}}"#, data: eightBytes),
            { .invalidShapeDimension(path: $0.path, tensor: "w", dimension: 0, value: "2.5") },
            mentioning: ["'w'", "2.5"])
        try expectError(
            safeTensorsBytes(header: #"{"w":{"dtype":"F32","shape":["2"],"data_offsets":[0,8]}}"#, data: eightBytes),
            { .invalidShapeDimension(path: $0.path, tensor: "w", dimension: 0, value: #""2" (a string)"#) })
        try expectError(
            safeTensorsBytes(header: #"{"w":{"dtype":"F32","shape":[1e30],"data_offsets":[0,8]}}"#, data: eightBytes),
            { .invalidShapeDimension(path: $0.path, tensor: "w", dimension: 0, value: "1e+30") })
    }

    @Test(arguments: [#"[0]"#, #"[0,4,8]"#, #"[0,"8"]"#, #"[0.5,8]"#, #"[-8,0]"#, #""0-8""#])
    func dataOffsetsThatAreNotTwoNonNegativeIntegersAreRejected(offsets: String) throws {
        let (error, url) = try openingError(
            safeTensorsBytes(header: #"{"w":{"dtype":"F32","shape":[2],"data_offsets":"# + offsets + "}}", data: eightBytes))
        guard case .invalidDataOffsets(let path, let tensor, _)? = error else {
            Issue.record("expected invalidDataOffsets for \(offsets), got \(String(describing: error))")
            return
        }
        #expect(path == url.path && tensor == "w")
        #expect(error?.description.contains("'w'") == true)
    }

    @Test func dataOffsetsWithBeginAfterEndAreRejected() throws {
        try expectError(
            safeTensorsBytes(header: #"{"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#, data: eightBytes),
            { .dataOffsetsReversed(path: $0.path, tensor: "w", begin: 8, end: 0) }, mentioning: ["'w'", "[8, 0]"])
    }

    @Test func dataOffsetsPastTheEndOfTheDataAreRejected() throws {
        try expectError(
            safeTensorsBytes(header: #"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, data: eightBytes),
            { .dataOffsetsPastEnd(path: $0.path, tensor: "w", end: 16, dataByteCount: 8) },
            mentioning: ["'w'", "16", "8-byte"])
    }

    @Test func byteCountDifferentFromShapeTimesDTypeSizeIsRejected() throws {
        try expectError(
            safeTensorsBytes(header: #"{"w":{"dtype":"F64","shape":[2],"data_offsets":[0,8]}}"#, data: eightBytes),
            { .byteCountMismatch(path: $0.path, tensor: "w", dtype: "F64", shape: [2], expected: 16, found: 8) },
            mentioning: ["'w'", "16", "8 bytes"])
    }

    @Test func shapeWhoseByteSizeOverflowsIsRejected() throws {
        let huge = 1 << 40
        try expectError(
            safeTensorsBytes(
                header: #"{"w":{"dtype":"F32","shape":[\#(huge),\#(huge)],"data_offsets":[0,8]}}"#,
                data: eightBytes),
            { .shapeOverflow(path: $0.path, tensor: "w", shape: [huge, huge]) }, mentioning: ["'w'"])
        // The element count fits, the byte count does not. (Header numbers are read as
        // doubles, so the test uses a power of two, which is exact.)
        let big = 1 << 62
        try expectError(
            safeTensorsBytes(
                header: #"{"w":{"dtype":"F32","shape":[\#(big)],"data_offsets":[0,8]}}"#,
                data: eightBytes),
            { .shapeOverflow(path: $0.path, tensor: "w", shape: [big]) })
    }

    @Test func overlappingTensorsAreRejected() throws {
        let header = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#
        try expectError(
            safeTensorsBytes(header: header, data: eightBytes),
            { .overlappingTensors(path: $0.path, first: "a", second: "b") }, mentioning: ["'a'", "'b'"])
    }

    @Test func gapsInTheDataBufferAreRejected() throws {
        let between = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[2],"data_offsets":[6,8]}}"#
        try expectError(
            safeTensorsBytes(header: between, data: eightBytes),
            { .gapBetweenTensors(path: $0.path, previous: "a", next: "b", begin: 4, end: 6) },
            mentioning: ["'a'", "'b'", "4..<6"])
        let before = #"{"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#
        try expectError(
            safeTensorsBytes(header: before, data: eightBytes),
            { .gapBetweenTensors(path: $0.path, previous: nil, next: "b", begin: 0, end: 4) }, mentioning: ["'b'"])
        let after = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#
        try expectError(
            safeTensorsBytes(header: after, data: eightBytes),
            { .gapBetweenTensors(path: $0.path, previous: "a", next: nil, begin: 4, end: 8) }, mentioning: ["'a'"])
    }

    @Test func metadataThatIsNotAnObjectOfStringsIsRejected() throws {
        try expectError(
            safeTensorsBytes(header: #"{"__metadata__":{"epoch":3}}"#),
            { .invalidMetadata(path: $0.path, key: "epoch", found: "number") }, mentioning: ["epoch"])
        try expectError(
            safeTensorsBytes(header: #"{"__metadata__":"v1"}"#),
            { .invalidMetadata(path: $0.path, key: nil, found: "string") })
    }

    @Test func missingFileIsReportedWithItsPath() throws {
        let url = directory.file("absent.safetensors")
        #expect(throws: SafeTensorsError.cannotOpen(path: url.path, reason: "No such file or directory (errno 2)")) {
            try SafeTensorsFile(contentsOf: url)
        }
    }

    /// Random corruptions of a valid file either open and read cleanly or throw a
    /// `SafeTensorsError`; nothing traps.
    @Test func corruptedFilesNeverCrash() throws {
        let header =
            #"{"__metadata__":{"k":"v"},"a":{"dtype":"F16","shape":[2,2],"data_offsets":[0,8]},"#
            + #""b":{"dtype":"I64","shape":[1],"data_offsets":[8,16]},"c":{"dtype":"BF16","shape":[],"data_offsets":[16,18]}}"#
        let valid = safeTensorsBytes(header: header, data: (0..<18).map { UInt8($0) })
        var generator = SeededGenerator(seed: 2024)
        let url = directory.file("fuzz.safetensors")
        var opened = 0
        for trial in 0..<400 {
            var bytes = valid
            switch trial % 4 {
            case 0: bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            case 1: bytes.removeLast(Int.random(in: 1...bytes.count, using: &generator))
            case 2:
                let i = Int.random(in: 8..<bytes.count, using: &generator)
                bytes[i] = [UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "]"), UInt8(ascii: "\""), 0xFF][Int.random(in: 0..<5, using: &generator)]
            default: bytes = (0..<Int.random(in: 0..<64, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            }
            try Data(bytes).write(to: url)
            do {
                let file = try SafeTensorsFile(contentsOf: url)
                for name in file.tensorNames {
                    let entry = try file.entry(named: name)
                    if entry.dtype.convertsToFloatingPoint { _ = try file.tensor(named: name, as: Double.self) }
                    if entry.dtype.isInteger { _ = try file.integers(named: name) }
                }
                opened += 1
            } catch is SafeTensorsError {
                // Expected for most corruptions.
            }
        }
        #expect(opened < 400)
    }
}
