import Formats
import Foundation

/// The files of one scoring run are committed together by a manifest written last.
///
/// Each output file is replaced atomically, but a run writes several. So a run first removes
/// `run.json`, which marks the folder's outputs as unfinished, then every output an earlier run
/// may have left (the `self_scores.safetensors` of a run with `--self`, say), writes its own, and
/// finally writes `run.json` with the name and size of each file it wrote. Readers require the
/// manifest and check each file against it, so a run that stopped half way, or files of two runs
/// mixed, are refused by name instead of read together.
enum RunManifest {
    /// Every file a scoring run may write besides `run.json`.
    static let scoreOutputs = ["pairwise_scores.safetensors", "self_scores.safetensors", "top_scores.safetensors",
                               "candidate_scores.safetensors", "documents.jsonl", "document_scores.safetensors", "summary.json"]

    /// Removes the manifest, then the outputs of an earlier run (see the type's description).
    static func clear(_ directory: URL, manifest: String, outputs: [String]) throws {
        for name in [manifest] + outputs {
            let url = directory.appendingPathComponent(name)
            if unlink(url.path) != 0 && errno != ENOENT {
                throw WorkflowError("cannot remove \(url.path), left by an earlier run: \(String(cString: strerror(errno)))")
            }
        }
    }

    /// The `files` entry of a manifest: each of `outputs` present in `directory`, with its size.
    static func entry(_ directory: URL, outputs: [String]) throws -> JSONValue {
        var files: [String: JSONValue] = [:]
        for name in outputs {
            var status = stat()
            if stat(directory.appendingPathComponent(name).path, &status) == 0 { files[name] = .number(Double(status.st_size)) }
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
        for (name, size) in files.sorted(by: { $0.key < $1.key }) {
            guard !name.contains("/"), let expected = size.intValue else {
                throw WorkflowError("\(manifest.path): the entry \(name) of files is not a file name with its size; \(rerun)")
            }
            var status = stat()
            let path = directory.appendingPathComponent(name).path
            guard stat(path, &status) == 0 else {
                throw WorkflowError("\(path), which \(manifest.lastPathComponent) lists, is missing; \(rerun)")
            }
            guard Int(status.st_size) == expected else {
                throw WorkflowError("\(path) is \(status.st_size) bytes but \(manifest.lastPathComponent) records \(expected): it was written by another run; \(rerun)")
            }
        }
    }
}
