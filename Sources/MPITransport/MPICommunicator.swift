import CMPI
import Distributed
import Foundation

/// The ranks of an `mpirun` job (OpenMPI from Debian), as a ``Communicator``.
///
/// MPI is initialised once per process, by ``shared``, and finalised when the process exits.
/// Every call returns MPI's errors instead of aborting (`MPI_ERRORS_RETURN`), so that a failure
/// becomes a ``CommunicatorError`` naming the call; messages over 1 GiB travel in pieces, since
/// MPI counts are 32-bit.
public final class MPICommunicator: Communicator, @unchecked Sendable {
    /// This process's rank in `MPI_COMM_WORLD`.
    public let rank: Int
    /// The number of ranks in `MPI_COMM_WORLD`.
    public let size: Int
    let world: MPI_Comm

    /// The job's communicator when this process was started by `mpirun` (or another launcher
    /// that sets OpenMPI's or PMIx's rank variables), else nil.
    nonisolated(unsafe) public static let shared: MPICommunicator? = isLaunchedByMPI ? try? MPICommunicator() : nil

    /// Whether the environment says this process was started by an MPI launcher.
    public static var isLaunchedByMPI: Bool {
        let env = ProcessInfo.processInfo.environment
        return env["OMPI_COMM_WORLD_SIZE"] != nil || env["PMIX_RANK"] != nil
    }

    /// The number of ranks on this machine, from the launcher's environment (1 when unknown).
    public static var localSize: Int {
        ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_LOCAL_SIZE"].flatMap(Int.init) ?? 1
    }

    init() throws {
        var provided: Int32 = 0
        let status = MPI_Init_thread(nil, nil, cmpi_thread_funneled(), &provided)
        guard status == cmpi_success() else { throw CommunicatorError("MPI_Init_thread failed (\(status))") }
        world = cmpi_comm_world()
        MPI_Comm_set_errhandler(world, cmpi_errors_return())
        var r: Int32 = 0, n: Int32 = 0
        MPI_Comm_rank(world, &r)
        MPI_Comm_size(world, &n)
        rank = Int(r)
        size = Int(n)
        atexit { MPI_Finalize() }
    }

    static let piece = 1 << 30

    func check(_ status: Int32, _ call: String) throws {
        guard status != cmpi_success() else { return }
        var length: Int32 = 0
        var text = [CChar](repeating: 0, count: Int(cmpi_max_error_string()) + 1)
        MPI_Error_string(status, &text, &length)
        throw CommunicatorError("\(call) failed on rank \(rank) of \(size): \(String(cString: text))")
    }

    /// Sends the length (one 64-bit integer, tag 1), then the bytes in pieces of at most 1 GiB (tag 2), with blocking `MPI_Send`.
    ///
    /// - Throws: ``CommunicatorError`` naming the call when MPI reports an error.
    public func send(_ bytes: [UInt8], to destination: Int) throws {
        var length = UInt64(bytes.count)
        try check(MPI_Send(&length, 1, cmpi_int64(), Int32(destination), 1, world), "MPI_Send")
        try bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < bytes.count {
                let n = Swift.min(Self.piece, bytes.count - offset)
                try check(MPI_Send(raw.baseAddress! + offset, Int32(n), cmpi_byte(), Int32(destination), 2, world), "MPI_Send")
                offset += n
            }
        }
    }

    /// Receives a message sent by ``send(_:to:)`` from `source`: its length, then its bytes piece by piece.
    ///
    /// - Throws: ``CommunicatorError`` naming the call when MPI reports an error or the announced length is impossible.
    public func receive(from source: Int) throws -> [UInt8] {
        var length: UInt64 = 0
        try check(MPI_Recv(&length, 1, cmpi_int64(), Int32(source), 1, world, cmpi_status_ignore()), "MPI_Recv")
        guard length < UInt64(Int.max) else { throw CommunicatorError("rank \(source) announced a message of \(length) bytes") }
        var bytes = [UInt8](repeating: 0, count: Int(length))
        try bytes.withUnsafeMutableBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Swift.min(Self.piece, raw.count - offset)
                try check(MPI_Recv(raw.baseAddress! + offset, Int32(n), cmpi_byte(), Int32(source), 2, world, cmpi_status_ignore()), "MPI_Recv")
                offset += n
            }
        }
        return bytes
    }

    /// Every rank's bytes on `root`, in rank order, by point-to-point messages (the other ranks send theirs to `root`).
    ///
    /// - Throws: ``CommunicatorError`` when a send or receive fails.
    public func gather(_ bytes: [UInt8], root: Int) throws -> [[UInt8]]? {
        guard rank == root else {
            try send(bytes, to: root)
            return nil
        }
        return try (0..<size).map { $0 == root ? bytes : try receive(from: $0) }
    }

    /// `root`'s bytes on every rank, by `MPI_Bcast` of the length and then of the bytes in pieces of at most 1 GiB.
    ///
    /// - Throws: ``CommunicatorError`` naming the call when MPI reports an error or the announced length is impossible.
    public func broadcast(_ bytes: [UInt8], root: Int) throws -> [UInt8] {
        var length = UInt64(bytes.count)
        try check(MPI_Bcast(&length, 1, cmpi_int64(), Int32(root), world), "MPI_Bcast")
        func pieces(_ base: UnsafeMutableRawPointer?, _ count: Int) throws {
            var offset = 0
            while offset < count {
                let n = Swift.min(Self.piece, count - offset)
                try check(MPI_Bcast(base! + offset, Int32(n), cmpi_byte(), Int32(root), world), "MPI_Bcast")
                offset += n
            }
        }
        if rank == root {
            // MPI only reads the root's buffer: no copy of it.
            try bytes.withUnsafeBytes { try pieces(UnsafeMutableRawPointer(mutating: $0.baseAddress), $0.count) }
            return bytes
        }
        guard length < UInt64(Int.max) else { throw CommunicatorError("rank \(root) announced a broadcast of \(length) bytes") }
        var buffer = [UInt8](repeating: 0, count: Int(length))
        try buffer.withUnsafeMutableBytes { try pieces($0.baseAddress, $0.count) }
        return buffer
    }

    /// `MPI_Barrier` over every rank.
    ///
    /// - Throws: ``CommunicatorError`` when MPI reports an error.
    public func barrier() throws { try check(MPI_Barrier(world), "MPI_Barrier") }

    /// Writes `message` to standard error (with a final newline) and ends every rank with `MPI_Abort` and exit code `code`.
    public func abort(message: String, code: Int32) {
        FileHandle.standardError.write(Data((message.hasSuffix("\n") ? message : message + "\n").utf8))
        MPI_Abort(world, code)
    }
}
