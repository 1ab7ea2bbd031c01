import Foundation
import XCTest

/// One source for each figure: every timing, ratio, memory figure or rate README.md states
/// is listed in docs/figures.md with the passages of BENCHMARKS.md that measure it
/// (lines "- `name` README `value` … `passage`, `passage`").
final class DocumentedFiguresTests: XCTestCase {
    struct Figure {
        let name: String
        let value: String
        let sources: [String]
    }

    var root: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    func read(_ path: String) throws -> String {
        try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)
    }

    /// Line breaks and runs of spaces do not matter: a figure may wrap.
    func flat(_ text: String) -> String {
        text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" }).joined(separator: " ")
    }

    func figures() throws -> [Figure] {
        try read("docs/figures.md").split(separator: "\n").filter { $0.hasPrefix("- `") }.map { (line: Substring) -> Figure in
            let quoted = line.split(separator: "`", omittingEmptySubsequences: false).enumerated()
                .filter { $0.offset % 2 == 1 }.map { String($0.element) }
            return Figure(name: quoted[0], value: quoted.count > 1 ? quoted[1] : "", sources: Array(quoted.dropFirst(2)))
        }
    }

    func testEachFigureOfTheReadmeIsMeasuredInBenchmarks() throws {
        let readme = try flat(read("README.md")), benchmarks = try flat(read("BENCHMARKS.md"))
        let list = try figures()
        XCTAssertGreaterThanOrEqual(list.count, 5, "docs/figures.md lists the README's figures")
        for f in list {
            XCTAssertFalse(f.value.isEmpty, "\(f.name): no value")
            XCTAssert(readme.contains(f.value), "README.md does not state \(f.name) = \(f.value) as docs/figures.md says")
            XCTAssertFalse(f.sources.isEmpty, "\(f.name): no passage of BENCHMARKS.md")
            for s in f.sources {
                XCTAssert(benchmarks.contains(flat(s)), "BENCHMARKS.md lacks \"\(s)\", the source of \(f.name)")
            }
        }
    }

    /// A number with a unit of time, ratio, memory, share or rate ("8.8 s", "2.4–2.7×",
    /// "4.92 GB", "×100"), not part of a word, a version or a size such as 384×216.
    func testTheReadmeStatesNoOtherFigure() throws {
        let readme = try flat(read("README.md"))
        let known = try Set(figures().map { $0.value })
        let number = "\\d+(?: \\d{3})*(?:\\.\\d+)?(?:[–-]\\d+(?:\\.\\d+)?)?"
        let unit = "(?:×|x|ms|s|minutes|min|hours|h|GB|MB|%|frames/s)"
        let regex = try NSRegularExpression(pattern: "(?<![\\w.])\(number) ?\(unit)(?![\\w/])|(?<!\\w)×\\d+(?:\\.\\d+)?")
        let text = readme as NSString
        let found = regex.matches(in: readme, range: NSRange(location: 0, length: text.length)).map { text.substring(with: $0.range) }
        XCTAssertFalse(found.isEmpty, "the pattern finds the README's figures")
        for figure in found where !known.contains(figure) {
            XCTFail("README.md states \(figure), which docs/figures.md does not trace to BENCHMARKS.md")
        }
    }
}
