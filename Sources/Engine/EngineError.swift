/// User-facing errors of the engine. Each `description` is one line naming the problem.
public enum EngineError: Error, CustomStringConvertible, Equatable {
    case weightsNotFound(path: String, hint: String)
    case weightsUnreadable(path: String, reason: String)
    case weightShapeMismatch(path: String, tensor: String, expected: [Int], actual: [Int])
    case weightsIncomplete(path: String, reason: String)
    case unknownLayer(name: String, available: [String])
    case invalidOption(String)
    /// A render that cannot go on (a checkpoint folder, a missing frame), in one line.
    case failed(String)

    public var description: String {
        switch self {
        case .weightsNotFound(let p, let hint): return "weights file \(p) not found\(hint.isEmpty ? "" : ": " + hint)"
        case .weightsUnreadable(let p, let r): return "\(p): not a usable weights file: \(r)"
        case .weightShapeMismatch(let p, let t, let e, let a):
            return "\(p): tensor '\(t)' has shape \(a.map(String.init).joined(separator: "×")), expected \(e.map(String.init).joined(separator: "×"))"
        case .weightsIncomplete(let p, let r): return "\(p): \(r)"
        case .unknownLayer(let n, let avail):
            return "unknown layer '\(n)' (available: \(avail.joined(separator: ", ")))"
        case .invalidOption(let m), .failed(let m): return m
        }
    }
}
