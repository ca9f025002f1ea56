import NeuralNetworks
import TensorCore

/// A 64-bit FNV-1a hash of a model's parameter names, shapes and values, so that factors fitted
/// on one model are refused for another.
public enum ModelFingerprint {
    /// The model's fingerprint: 16 hexadecimal digits of FNV-1a over every parameter's dotted name, shape and value bytes,
    /// in the order of ``Module/namedParameters()``.
    public static func of<Scalar: TensorScalar>(_ model: Module<Scalar>) -> String {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        func mix(_ bytes: UnsafeRawBufferPointer) {
            for b in bytes { hash = (hash ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        }
        for (name, p) in model.namedParameters() {
            var text = name + String(describing: p.shape)
            text.withUTF8 { mix(UnsafeRawBufferPointer($0)) }
            p.value.withUnsafeBufferPointer { mix(UnsafeRawBufferPointer($0)) }
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
