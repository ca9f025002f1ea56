/// The product of `factors`, or nil when one is negative or the product overflows `Int`.
///
/// Used wherever a file or a caller supplies a shape, so that a hostile shape such as
/// `[2^40, 2^40]` becomes an error instead of a trap.
func checkedProduct(_ factors: [Int]) -> Int? {
    guard factors.allSatisfy({ $0 >= 0 }) else { return nil }
    if factors.contains(0) { return 0 }
    var product = 1
    for factor in factors {
        let (result, overflow) = product.multipliedReportingOverflow(by: factor)
        if overflow { return nil }
        product = result
    }
    return product
}
