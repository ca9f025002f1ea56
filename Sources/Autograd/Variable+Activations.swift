import TensorCore

extension Variable {
    /// The error function; ∂/∂x = (2/√π)·exp(−x²).
    public func erf() -> Variable {
        let x = self
        return Variable.record(value.erf(), name: "erf", inputs: [x]) { c in
            [c.cotangent * (x.squared() * -1).exp() * Scalar(1.12837916709551257390)]
        }
    }

    /// GELU, x·Φ(x), exact or with GPT-2's tanh approximation.
    ///
    /// Forward and first derivative are fused kernels; the rule of the first derivative is
    /// written with composite operations, so derivatives of every order are exact.
    public func gelu(approximate: Bool = false) -> Variable {
        let x = self
        let value = approximate ? x.value.geluTanh() : x.value.gelu()
        return Variable.record(value, name: approximate ? "geluTanh" : "gelu", inputs: [x]) { c in
            [c.cotangent * x.geluDerivative(approximate: approximate)]
        }
    }

    /// d/dx GELU(x) as a differentiable value.
    func geluDerivative(approximate: Bool) -> Variable {
        let x = self
        let value = x.value.applying(approximate ? .geluTanhDerivative : .geluDerivative)
        return Variable.record(value, name: "geluDerivative", inputs: [x]) { c in
            [c.cotangent * x.geluSecondDerivative(approximate: approximate)]
        }
    }

    /// d²/dx² GELU(x), composed of differentiable operations.
    private func geluSecondDerivative(approximate: Bool) -> Variable {
        let x = self
        if !approximate {
            // φ(x)(2 − x²), φ(x) = exp(−x²/2)/√(2π)
            let phi = (x.squared() * -0.5).exp() * Scalar(0.39894228040143267794)
            return phi * (2 - x.squared())
        }
        let s = Scalar(0.79788456080286535588), cubic = Scalar(0.044715)
        let u = (x + x.raised(to: 3) * cubic) * s
        let t = u.tanh()
        let sech2 = 1 - t.squared()
        let du = (x.squared() * (3 * cubic) + 1) * s
        let ddu = x * (6 * s * cubic)
        return sech2 * du + x * 0.5 * (t * sech2 * du.squared() * -2 + sech2 * ddu)
    }

    /// SiLU (swish), x·σ(x).
    public func silu() -> Variable { self * sigmoid() }
}
