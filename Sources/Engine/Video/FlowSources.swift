import Foundation
import Kernels
import Temporal
import VideoIO

/// Where the flows between frames come from: the built-in solver, or files.
public protocol FlowSource: AnyObject, Sendable {
    /// The backward flow (frame t → frame s, used to warp s onto t) and the forward flow
    /// (s → t, for the consistency check) between processed frames t and s < t (0-based),
    /// at the processing size of `current` and `earlier`.
    func flows(frame t: Int, earlier s: Int, current: Tensor, earlierInput: Tensor) throws -> (backward: Flow, forward: Flow)
}

/// Flow from the built-in solver, on the input frames at processing size.
public final class BuiltInFlow: FlowSource, @unchecked Sendable {
    public let options: FlowOptions
    public init(options: FlowOptions = FlowOptions()) { self.options = options }
    public func flows(frame t: Int, earlier s: Int, current: Tensor, earlierInput: Tensor) throws -> (backward: Flow, forward: Flow) {
        (OpticalFlow.compute(from: current, to: earlierInput, options: options),
         OpticalFlow.compute(from: earlierInput, to: current, options: options))
    }
}

/// Precomputed Middlebury .flo files in a folder, named as Ruder et al.'s scripts name
/// them, frames numbered from 1 in the processed range: `backward_T_S.flo` (T → S) and
/// `forward_S_T.flo` (S → T). A flow of another size is resampled (and its vectors scaled)
/// to the processing size. A missing pair is computed with the built-in flow instead
/// (counted in `computedInstead`); an unreadable file is an error naming it.
public final class FlowDirectory: FlowSource, @unchecked Sendable {
    public let folder: String
    let fallback: BuiltInFlow
    private let lock = NSLock()
    private var computed = 0
    public var computedInstead: Int { lock.lock(); defer { lock.unlock() }; return computed }

    public init(folder: String, fallback: FlowOptions = FlowOptions()) throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDir), isDir.boolValue else {
            throw EngineError.invalidOption("--flow-dir \(folder): no such folder")
        }
        self.folder = folder
        self.fallback = BuiltInFlow(options: fallback)
    }

    public func paths(frame t: Int, earlier s: Int) -> (backward: String, forward: String) {
        (folder + "/backward_\(t + 1)_\(s + 1).flo", folder + "/forward_\(s + 1)_\(t + 1).flo")
    }

    public func flows(frame t: Int, earlier s: Int, current: Tensor, earlierInput: Tensor) throws -> (backward: Flow, forward: Flow) {
        let (pb, pf) = paths(frame: t, earlier: s)
        let fm = FileManager.default
        guard fm.fileExists(atPath: pb), fm.fileExists(atPath: pf) else {
            lock.lock(); computed += 1; lock.unlock()
            return try fallback.flows(frame: t, earlier: s, current: current, earlierInput: earlierInput)
        }
        func load(_ p: String) throws -> Flow {
            let f = try FloFile.read(p)
            return f.width == current.width && f.height == current.height
                ? f : f.resampled(width: current.width, height: current.height)
        }
        return (try load(pb), try load(pf))
    }
}
