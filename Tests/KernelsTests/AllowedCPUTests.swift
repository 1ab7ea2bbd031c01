import Foundation
import Kernels
import TestSupport
import XCTest

/// Threads follow the CPUs the process may use, not the machine's core count.
final class AllowedCPUTests: XCTestCase {
    func testQuotaAndSlurmHintLimitTheThreads() throws {
        let none = allowedCPUs(cgroupFile: "/nonexistent", environment: [:])
        XCTAssertGreaterThanOrEqual(none, 1)
        let file = NSTemporaryDirectory() + "cpu.max-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: file) }
        try "100000 100000\n".write(toFile: file, atomically: true, encoding: .utf8)
        XCTAssertEqual(allowedCPUs(cgroupFile: file, environment: [:]), 1)
        try "max 100000\n".write(toFile: file, atomically: true, encoding: .utf8)
        XCTAssertEqual(allowedCPUs(cgroupFile: file, environment: [:]), none)
        XCTAssertEqual(allowedCPUs(cgroupFile: "/nonexistent", environment: ["SLURM_CPUS_PER_TASK": "1"]), 1)
        XCTAssertEqual(allowedCPUs(cgroupFile: "/nonexistent", environment: ["SLURM_CPUS_PER_TASK": "4096"]), none)
    }
}
