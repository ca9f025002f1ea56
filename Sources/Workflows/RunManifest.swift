import Formats
import Foundation

/// The files of one scoring run are committed together by a manifest written last.
///
/// Each output file is replaced atomically, but a run writes several. So a run first removes
/// `run.json`, which marks the folder's outputs as unfinished, then every output an earlier run
/// may have left (the `self_scores.safetensors` of a run with `--self`, say), writes its own, and
/// finally writes `run.json` with each file it wrote: its size, inode and modification time (every
/// output is a new file renamed into place, so a file another run wrote has another inode even
/// when its size is the same). Readers require the manifest and check each file against it, so a
/// run that stopped half way, or files of two runs mixed, are refused by name instead of read
/// together.
enum RunManifest {
    /// Every file a scoring run may write besides `run.json`.
    static let scoreOutputs = [
        "pairwise_scores.safetensors", "self_scores.safetensors", "top_scores.safetensors",
        "candidate_scores.safetensors", "documents.jsonl", "document_scores.safetensors", "summary.json",
    ]

    /// Removes the manifest, then the outputs of an earlier run (see the type's description).
    static func clear(_ directory: URL, manifest: String, outputs: [String]) throws {
        for name in [manifest] + outputs {
            let url = directory.appendingPathComponent(name)
            if unlink(url.path) != 0 && errno != ENOENT {
                throw WorkflowError("cannot remove \(url.path), left by an earlier run: \(String(cString: strerror(errno)))")
            }
        }
    }

    /// What identifies a written file: its size, inode and modification time in nanoseconds.
    static func identity(_ status: stat) -> JSONValue {
        .object([
            "bytes": .number(Double(status.st_size)), "inode": .string(String(status.st_ino)),
            "modified_ns": .string(String(Int64(status.st_mtim.tv_sec) * 1_000_000_000 + Int64(status.st_mtim.tv_nsec))),
        ])
    }

    /// The `files` entry of a manifest: each of `outputs` present in `directory`, with its identity.
    static func entry(_ directory: URL, outputs: [String]) throws -> JSONValue {
        var files: [String: JSONValue] = [:]
        for name in outputs {
            var status = stat()
            if stat(directory.appendingPathComponent(name).path, &status) == 0 { files[name] = identity(status) }
        }
        return .object(files)
    }

    /// Checks that the files a manifest lists are the ones in `directory`: each present, with the
    /// size it had when the run finished.
    ///
    /// - Throws: ``WorkflowError`` naming the manifest and the file that differs.
    static func verify(_ record: [String: JSONValue], manifest: URL, rerun: String) throws {
        guard let files = record["files"]?.objectValue else {
            throw WorkflowError("\(manifest.path) lists no files: the run that wrote it did not finish; \(rerun)")
        }
        let directory = manifest.deletingLastPathComponent()
        for (name, recorded) in files.sorted(by: { $0.key < $1.key }) {
            guard !name.contains("/"), let bytes = recorded.objectValue?["bytes"]?.intValue else {
                throw WorkflowError("\(manifest.path): the entry \(name) of files is not a file name with its size; \(rerun)")
            }
            var status = stat()
            let path = directory.appendingPathComponent(name).path
            guard stat(path, &status) == 0 else {
                throw WorkflowError("\(path), which \(manifest.lastPathComponent) lists, is missing; \(rerun)")
            }
            guard Int(status.st_size) == bytes else {
                throw WorkflowError(
                    "\(path) is \(status.st_size) bytes but \(manifest.lastPathComponent) records \(bytes): it was written by another run; \(rerun)")
            }
            guard identity(status) == recorded else {
                throw WorkflowError(
                    "\(path) is not the file \(manifest.lastPathComponent) records (another inode or modification time): it was written by another run; \(rerun)"
                )
            }
        }
    }
}
