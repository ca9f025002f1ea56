import Foundation
import _TestSupport
import Testing
import TensorCore
import Formats

/// Agreement with the reference implementation: a file written by Hugging Face's `safetensors`
/// package (see scripts/fixtures/make_safetensors_fixture.py) reads back exactly, and our writer
/// produces a file that the script's `--check` mode verifies.
@Suite("SafeTensors reference fixture")
struct SafeTensorsReferenceFixtureTests {
    typealias Fixture = SafeTensorsReferenceFixture
    let directory: TemporaryDirectory
    init() throws { directory = try TemporaryDirectory() }

    func fixtureFile() throws -> SafeTensorsFile {
        let bytes = try #require(Data(base64Encoded: Fixture.base64))
        let url = directory.file("reference.safetensors")
        try bytes.write(to: url)
        return try SafeTensorsFile(contentsOf: url)
    }

    @Test func headerMatchesTheReference() throws {
        let file = try fixtureFile()
        #expect(file.tensorNames == Fixture.names)
        #expect(file.metadata == Fixture.metadata)
        for name in Fixture.names {
            let entry = try file.entry(named: name)
            #expect(entry.dtype.rawValue == Fixture.dtypes[name], "\(name)")
            #expect(entry.shape == Fixture.shapes[name], "\(name)")
        }
    }

    @Test func floatingPointTensorsMatchBitForBit() throws {
        let file = try fixtureFile()
        #expect(try file.tensor(named: "f32", as: Float.self).scalars.map(\.bitPattern) == Fixture.f32Bits)
        #expect(try file.tensor(named: "f64", as: Double.self).scalars.map(\.bitPattern) == Fixture.f64Bits)
        // Widening F16 and BF16 agrees with numpy's, and narrowing again gives the stored bits.
        let f16 = try file.tensor(named: "f16", as: Float.self).scalars
        #expect(f16.map(\.bitPattern) == Fixture.f16AsFloatBits)
        #expect(f16.map(HalfPrecision.halfBits(from:)) == Fixture.f16Bits)
        let bf16 = try file.tensor(named: "bf16", as: Float.self).scalars
        #expect(bf16.map(\.bitPattern) == Fixture.bf16AsFloatBits)
        #expect(bf16.map(HalfPrecision.bfloat16Bits(from:)) == Fixture.bf16Bits)
        #expect(try file.tensor(named: "f16", as: Double.self).scalars == f16.map(Double.init))
    }

    @Test func integerTensorsMatch() throws {
        let file = try fixtureFile()
        #expect(try file.integers(named: "i64") == Fixture.i64)
        #expect(try file.integers(named: "i32") == Fixture.i32)
        #expect(try file.integers(named: "u8") == Fixture.u8)
        #expect(try file.tensor(named: "i64", as: Double.self).scalars == Fixture.i64.map(Double.init))
    }

    /// Writes the reference tensors with our writer. With `SAFETENSORS_FIXTURE_EXPORT=path` set,
    /// the file is also written there for `make_safetensors_fixture.py --check path`.
    @Test func writerReproducesTheReferenceTensors() throws {
        func floats(_ bits: [UInt32], _ shape: [Int]) -> Tensor<Float> {
            Tensor(shape: shape, scalars: bits.map(Float.init(bitPattern:)))
        }
        let shapes = Fixture.shapes
        let tensors: [(name: String, payload: SafeTensorsPayload)] = [
            ("f32", .float32(floats(Fixture.f32Bits, shapes["f32"] ?? []))),
            ("f64", .float64(Tensor(shape: shapes["f64"] ?? [], scalars: Fixture.f64Bits.map(Double.init(bitPattern:))))),
            ("f16", .float16(floats(Fixture.f16AsFloatBits, shapes["f16"] ?? []))),
            ("bf16", .bfloat16(floats(Fixture.bf16AsFloatBits, shapes["bf16"] ?? []))),
            ("i64", .int64(Fixture.i64, shape: shapes["i64"] ?? [])),
            ("i32", .int32(Fixture.i32, shape: shapes["i32"] ?? [])),
            ("u8", .uint8(Fixture.u8.map { UInt8($0) }, shape: shapes["u8"] ?? [])),
        ]
        let url = directory.file("swift-written.safetensors")
        try SafeTensorsFile.write(tensors, metadata: Fixture.metadata, to: url)
        if let export = ProcessInfo.processInfo.environment["SAFETENSORS_FIXTURE_EXPORT"], !export.isEmpty {
            try SafeTensorsFile.write(tensors, metadata: Fixture.metadata, to: URL(fileURLWithPath: export))
        }

        let written = try SafeTensorsFile(contentsOf: url)
        let reference = try fixtureFile()
        #expect(written.metadata == reference.metadata)
        for name in Fixture.names {
            #expect(try written.entry(named: name).dtype == reference.entry(named: name).dtype)
            #expect(try written.entry(named: name).shape == reference.entry(named: name).shape)
            #expect(try written.data(named: name) == reference.data(named: name), "bytes of \(name)")
        }
    }
}
