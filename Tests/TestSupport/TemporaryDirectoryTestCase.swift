import Foundation
import Kernels
import XCTest

/// A test case with a fresh temporary folder (`dir`) per test, removed afterwards.
open class TemporaryDirectoryTestCase: XCTestCase {
    public var dir: String!
    open override func setUp() {
        super.setUp()
        dir = NSTemporaryDirectory() + "stylevid-test-\(UUID().uuidString)"
        try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }
    open override func tearDown() {
        try? FileManager.default.removeItem(atPath: dir)
        super.tearDown()
    }
}
