import Foundation
import TestSupport
import XCTest

/// The watchdog the host tests run melt, gst-launch-1.0 and ffmpeg under: a host that
/// hangs is stopped within seconds with its own last lines, one that works is left alone.
final class HostWatchdogTests: TemporaryDirectoryTestCase {
    /// Asleep with nothing written (a melt whose consumer has gone): stopped after `idle`.
    func testASleepingHostIsStoppedWithItsLastLines() {
        let run = runHost("echo 'last words' >&2; sleep 100", output: dir + "/out", idle: 2)
        XCTAssertTrue(run.stalled)
        XCTAssertLessThan(run.seconds, 15)
        XCTAssertNotEqual(run.result.status, 0)
        // the host's own last lines, then the watchdog's (the shell may say "Killed" between
        // them, when the kill reaches its child first)
        let said = run.result.stderr
        let words = said.range(of: "last words\n"), stopped = said.range(of: "watchdog: the host stalled (no output and no CPU for 2 s)")
        XCTAssertNotNil(words, said)
        XCTAssertNotNil(stopped, said)
        if let words, let stopped { XCTAssertLessThan(words.lowerBound, stopped.lowerBound, said) }
    }

    /// Busy past the limit: stopped, and what the shell line does after its host still
    /// runs (the melt harness prints melt's log then).
    func testABusyHostIsStoppedAtTheLimit() {
        let run = runHost("(while :; do :; done); echo 'after the host' >&2", output: dir + "/out", idle: 1, limit: 3)
        XCTAssertTrue(run.stalled)
        XCTAssertLessThan(run.seconds, 15)
        XCTAssert(run.result.stderr.contains("after the host\nwatchdog: the host stalled (still running after 3 s)"), run.result.stderr)
    }

    /// Slow but writing, or busy writing nothing for a while: finished, with its own status.
    func testAWorkingHostIsLeftAlone() {
        let out = dir + "/out"
        let slow = runHost("for i in 1 2 3 4 5 6; do echo $i >> '\(out)'; sleep 0.5; done; exit 3", output: out, idle: 1, limit: 30)
        XCTAssertFalse(slow.stalled, slow.result.stderr)
        XCTAssertEqual(slow.result.status, 3)
        XCTAssertEqual(try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n").count, 6)
        let busy = runHost("timeout 3 sh -c 'while :; do :; done'; exit 0", output: dir + "/none", idle: 1.5, limit: 30)
        XCTAssertFalse(busy.stalled, busy.result.stderr)
        XCTAssertEqual(busy.result.status, 0)
    }
}
