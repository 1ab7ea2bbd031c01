import ArgumentParser
import Foundation
import VideoIO

/// `stylevid probe FILE`: the streams of a media file and their properties.
struct Probe: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show the streams of a video or image file.")
    @Argument(help: "A media file.") var file: String

    func run() throws {
        let r = try VideoReader(path: file)
        let i = r.info
        print("\(i.path): \(i.container)" + (i.duration.map { String(format: ", %.3f s", $0) } ?? ""))
        print(String(format: "video: %d×%d, %.3f fps (%@), time base %@, %@, rotation %d°",
                     i.width, i.height, i.frameRate.value, i.frameRate.description, i.timeBase.description,
                     i.frameCount.map { "\($0) frames" } ?? "frame count unknown", i.rotation))
        for s in i.streams { print("  stream \(s.index): \(s.kind) \(s.codec)\(s.details.isEmpty ? "" : ", " + s.details)") }
    }
}
