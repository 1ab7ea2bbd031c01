import Foundation
import Kernels
import Photoreal
import VideoIO

/// One report from a running stylisation.
public struct StyleProgress: Sendable {
    public var level: Int            // 0-based pyramid level
    public var levels: Int
    public var levelSize: (width: Int, height: Int)
    public var iteration: Int        // evaluations done at this level
    public var iterations: Int       // budget at this level
    public var loss: Double
    public var elapsed: Double       // seconds since the start
    public var evaluations: Int      // evaluations since the start, all levels
    /// Fraction of the whole job done, by estimated cost (a level costs ∝ its pixels).
    public var fraction: Double
}

/// The value of each loss part at the last evaluation (weighted).
public struct LossBreakdown: Sendable, Equatable {
    public var content = 0.0, style = 0.0, tv = 0.0, temporal = 0.0, photoreal = 0.0
    public var total: Double { content + style + tv + temporal + photoreal }

    /// Adds the network losses' values to the content and style parts.
    mutating func add(_ losses: [FeatureLoss], values: [Double]) {
        for (loss, v) in zip(losses, values) {
            if loss is ContentLoss { content += v } else { style += v }
        }
    }
}

/// Stop an optimisation once the best loss improved by less than `tolerance` (relative)
/// over the last `window` steps (Ruder et al. stop at 1e-4 over 50 iterations).
public struct EarlyStop: Sendable, Equatable {
    public var tolerance: Double
    public var window: Int
    public init(tolerance: Double, window: Int) { self.tolerance = tolerance; self.window = window }

    /// `best[k]`: the lowest loss after k + 1 steps.
    public func shouldStop(_ best: [Double]) -> Bool {
        guard window > 0, best.count > window else { return false }
        let then = best[best.count - 1 - window], now = best[best.count - 1]
        return (then - now) <= tolerance * abs(now)
    }

    /// Applies the rule to the losses an optimiser reports after each evaluation. A line
    /// search's rejected trial reports again the loss of the point it still holds: such a
    /// repeat is not a step and does not count toward the window (counted, two or three
    /// backtracking trials in a row looked like convergence and ended a video frame after
    /// 4 of its 60 evaluations).
    public struct Monitor {
        public let rule: EarlyStop
        private var best: [Double] = []
        private var last: Double?
        public init(_ rule: EarlyStop) { self.rule = rule }

        /// Records the loss reported after an evaluation; true when the optimisation should stop.
        public mutating func shouldStop(after loss: Double) -> Bool {
            defer { last = loss }
            if loss == last { return false }
            best.append(Swift.min(best.last ?? .infinity, loss))
            return rule.shouldStop(best)
        }
    }
}
