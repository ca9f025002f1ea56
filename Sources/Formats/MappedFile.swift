#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A read-only memory mapping of a whole file, unmapped when the last reference goes away.
///
/// Pages are loaded by the kernel on first access, so opening a multi-gigabyte file costs almost
/// nothing and reading one tensor touches only that tensor's pages. The mapping is private and
/// read-only; if another process truncates the file while it is mapped, access to the lost pages
/// raises `SIGBUS`, which no user-space check can prevent.
final class MappedFile: @unchecked Sendable {
    let path: String
    /// The mapped bytes; empty (with a nil base address) for an empty file.
    let bytes: UnsafeRawBufferPointer

    /// Maps the file at `path`.
    init(path: String) throws(SystemCallFailure) {
        self.path = path
        let (descriptor, size) = try openRegularFile(path).get()
        defer { systemClose(descriptor) }
        guard size > 0 else {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        let address = mmap(nil, size, PROT_READ, MAP_PRIVATE, descriptor, 0)
        guard let address, address != MAP_FAILED else { throw SystemCallFailure(errnoDescription()) }
        bytes = UnsafeRawBufferPointer(start: address, count: size)
    }

    deinit {
        if let base = bytes.baseAddress {
            munmap(UnsafeMutableRawPointer(mutating: base), bytes.count)
        }
    }
}
