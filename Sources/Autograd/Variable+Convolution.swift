import TensorCore

extension Variable {
    /// The sliding windows of `[batch, channels, height, width]` images as rows,
    /// `[batch, positions, channels × kh × kw]` (see ``Tensor/unfoldedWindows(_:)``).
    ///
    /// Unfolding is linear; its vector–Jacobian product is folding (col2im) and folding's is
    /// unfolding, each recorded as the other, so gradients of gradients work.
    public func unfoldedWindows(_ geometry: WindowGeometry) -> Variable {
        let imageShape = shape
        return Variable.record(value.unfoldedWindows(geometry), name: "unfold", inputs: [self]) { c in
            [Variable.foldedWindows(c.cotangent, geometry, imageShape: imageShape)]
        }
    }

    /// Rows of windows summed back into images of `imageShape` (the adjoint of
    /// ``unfoldedWindows(_:)``).
    public static func foldedWindows(_ rows: Variable, _ geometry: WindowGeometry, imageShape: [Int]) -> Variable {
        record(Tensor.foldedWindows(rows.value, geometry, imageShape: imageShape), name: "fold", inputs: [rows]) { c in
            [c.cotangent.unfoldedWindows(geometry)]
        }
    }
}
