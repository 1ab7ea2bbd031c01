import ArgumentParser
import Engine
import Foundation
import Kernels
import Photoreal
import VideoIO

/// `stylevid photo-metrics RESULT CONTENT REFERENCE`: how much of the content's structure
/// a relit photo kept and how far its colours moved toward the reference.
struct PhotoMetrics: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "photo-metrics",
        abstract: "Measure a relit photo: structure kept from the content, colour distance to the reference (one JSON line).",
        discussion: """
            structure: mean of SSIM's structure term (Wang et al., 11×11 Gaussian windows) \
            between the result's and the content's luma, the content scaled to the result's \
            size; 1 = every edge in place, insensitive to the brightness and contrast changes \
            a relighting makes. lab_distance: √Σ(Δmean² + Δstd²) over the CIE Lab channels, \
            result vs reference (content_lab_distance: the same for the content, the \
            starting point). Lower lab_distance = colours closer to the reference's.
            """)
    @Argument(help: "The relit photo.") var result: String
    @Argument(help: "The photo it was made from.") var content: String
    @Argument(help: "The reference photo.") var reference: String

    func run() throws {
        let r = try ImageIO.read(result)
        let c = Tensor(image: try ImageIO.scale(try ImageIO.read(content), width: r.width, height: r.height))
        let ref = Tensor(image: try ImageIO.read(reference))
        let rt = Tensor(image: r)
        print(String(format: "{\"structure\": %.4f, \"lab_distance\": %.2f, \"content_lab_distance\": %.2f}",
                     ColorMetrics.structureSimilarity(rt, c), ColorMetrics.labDistance(rt, ref), ColorMetrics.labDistance(c, ref)))
    }
}
