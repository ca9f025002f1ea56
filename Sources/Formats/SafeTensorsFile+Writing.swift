import Foundation
import TensorCore

/// The data of one tensor to write to a safetensors file, with the dtype it is stored as.
public enum SafeTensorsPayload: Sendable {
    /// Stored as `F32`.
    case float32(Tensor<Float>)
    /// Stored as `F64`.
    case float64(Tensor<Double>)
    /// Stored as `F16`, rounded to nearest even (beyond ±65504 becomes infinite).
    case float16(Tensor<Float>)
    /// Stored as `BF16`, rounded to nearest even.
    case bfloat16(Tensor<Float>)
    /// Stored as `I64`; `values` in row-major order.
    case int64([Int], shape: [Int])
    /// Stored as `I32`; every value must fit in 32 bits.
    case int32([Int], shape: [Int])
    /// Stored as `U8`.
    case uint8([UInt8], shape: [Int])

    /// The dtype written to the header.
    public var dtype: SafeTensorsDType {
        switch self {
        case .float32: return .float32
        case .float64: return .float64
        case .float16: return .float16
        case .bfloat16: return .bfloat16
        case .int64: return .int64
        case .int32: return .int32
        case .uint8: return .uint8
        }
    }

    /// The shape written to the header.
    public var shape: [Int] {
        switch self {
        case .float32(let t), .float16(let t), .bfloat16(let t): return t.shape
        case .float64(let t): return t.shape
        case .int64(_, let shape), .int32(_, let shape), .uint8(_, let shape): return shape
        }
    }

    var elementCount: Int {
        switch self {
        case .float32(let t), .float16(let t), .bfloat16(let t): return t.scalarCount
        case .float64(let t): return t.scalarCount
        case .int64(let values, _), .int32(let values, _): return values.count
        case .uint8(let values, _): return values.count
        }
    }
}

extension SafeTensorsFile {
    /// Writes tensors and metadata to a safetensors file, atomically (see ``AtomicFile``).
    ///
    /// The header lists `__metadata__` first (when not empty, keys sorted), then the tensors in the
    /// given order; their data follows contiguously in the same order. The header is padded with
    /// spaces so that the data buffer starts at a multiple of 8 bytes.
    ///
    /// - Parameters:
    ///   - tensors: names and payloads, in file order; names must be unique and not `__metadata__`.
    ///   - metadata: free-form string pairs, e.g. `["format": "pt"]`.
    ///   - url: the destination; replaced only when the whole file has been written.
    /// - Throws: ``SafeTensorsError`` for a duplicate or reserved name, a payload whose element
    ///   count does not match its shape, or an `I32` value out of range (all checked before
    ///   anything is written); ``AtomicFileError`` when the file system fails.
    public static func write(
        _ tensors: [(name: String, payload: SafeTensorsPayload)],
        metadata: [String: String] = [:], to url: URL
    ) throws {
        let path = url.path
        var names = Set<String>()
        var header = "{"
        if !metadata.isEmpty {
            header += "\"\(SafeTensorsHeader.metadataKey)\":"
            header += JSONValue.object(metadata.mapValues { .string($0) }).description
            header += tensors.isEmpty ? "" : ","
        }
        var offset = 0
        for (index, (name, payload)) in tensors.enumerated() {
            guard name != SafeTensorsHeader.metadataKey else {
                throw SafeTensorsError.reservedTensorName(path: path, tensor: name)
            }
            guard names.insert(name).inserted else {
                throw SafeTensorsError.duplicateTensorName(path: path, tensor: name)
            }
            let shape = payload.shape
            guard let count = checkedProduct(shape), count == payload.elementCount else {
                throw SafeTensorsError.payloadShapeMismatch(
                    path: path, tensor: name, shape: shape,
                    elementCount: payload.elementCount)
            }
            if case .int32(let values, _) = payload, let bad = values.first(where: { Int32(exactly: $0) == nil }) {
                throw SafeTensorsError.valueOutOfRange(path: path, tensor: name, value: String(bad), requested: "I32")
            }
            let end = offset + count * payload.dtype.byteSize
            if index > 0 { header += "," }
            JSONValue.appendQuoted(name, to: &header)
            header += ":{\"dtype\":\"\(payload.dtype.rawValue)\",\"shape\":[\(shape.map(String.init).joined(separator: ","))],"
            header += "\"data_offsets\":[\(offset),\(end)]}"
            offset = end
        }
        header += "}"
        var headerBytes = Array(header.utf8)
        headerBytes.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - headerBytes.count % 8) % 8))

        try AtomicFile.write(to: url) { writer in
            try writer.write(withUnsafeBytes(of: UInt64(headerBytes.count).littleEndian) { Array($0) })
            try writer.write(headerBytes)
            for (_, payload) in tensors {
                try writePayload(payload, to: writer)
            }
        }
    }

    /// Appends a payload's elements as little-endian bytes.
    private static func writePayload(_ payload: SafeTensorsPayload, to writer: AtomicFileWriter) throws {
        switch payload {
        case .float32(let tensor):
            try tensor.withUnsafeBufferPointer { buffer in
                #if _endian(little)
                    try writer.write(UnsafeRawBufferPointer(buffer))
                #else
                    try writeElements(count: buffer.count, to: writer) { buffer[$0].bitPattern }
                #endif
            }
        case .float64(let tensor):
            try tensor.withUnsafeBufferPointer { buffer in
                #if _endian(little)
                    try writer.write(UnsafeRawBufferPointer(buffer))
                #else
                    try writeElements(count: buffer.count, to: writer) { buffer[$0].bitPattern }
                #endif
            }
        case .float16(let tensor):
            try tensor.withUnsafeBufferPointer { buffer in
                try writeElements(count: buffer.count, to: writer) { HalfPrecision.halfBits(from: buffer[$0]) }
            }
        case .bfloat16(let tensor):
            try tensor.withUnsafeBufferPointer { buffer in
                try writeElements(count: buffer.count, to: writer) { HalfPrecision.bfloat16Bits(from: buffer[$0]) }
            }
        case .int64(let values, _):
            try writeElements(count: values.count, to: writer) { Int64(values[$0]) }
        case .int32(let values, _):
            // Range checked before writing began.
            try writeElements(count: values.count, to: writer) { Int32(truncatingIfNeeded: values[$0]) }
        case .uint8(let values, _):
            try writer.write(values)
        }
    }

    /// Appends `count` elements produced by `element`, little-endian, a block at a time.
    private static func writeElements<Element: FixedWidthInteger>(
        count: Int, to writer: AtomicFileWriter, _ element: (Int) -> Element
    ) throws {
        let blockSize = 1 << 14
        var block = [Element]()
        block.reserveCapacity(min(count, blockSize))
        var start = 0
        while start < count {
            let end = min(start + blockSize, count)
            block.removeAll(keepingCapacity: true)
            for i in start..<end { block.append(element(i).littleEndian) }
            try block.withUnsafeBytes { try writer.write($0) }
            start = end
        }
    }
}
