/// The defaults of each kind of job, decided here once: the command line, the `-vf` chain
/// and the frei0r plugin all start from these values.
public enum Preset: String, Sendable, CaseIterable {
    /// A still image: `StyleConfig`'s own defaults (512 px, 200 evaluations per level,
    /// max pooling).
    case image
    /// A video: many frames, so a smaller size and first-frame budget, and
    /// `TemporalConfig.defaultPooling`.
    case video
    /// `stylevid photo`: photo-to-photo relighting at 384 px (guided upsampling brings it
    /// back to the photo's size), with the photorealism term.
    case photo

    /// Videos and photos are optimised at this size (longest side).
    public static let reducedSize = 384
    /// First-frame (photo: per level) evaluations of videos and photos.
    public static let reducedIterations = 100
    /// `stylevid photo`'s smoothing radius (measured: 0, see BENCHMARKS.md).
    public static let photoSmoothRadius = 0

    /// The style settings of this preset. `video` also applies to `stylevid photo` on a
    /// video (`Preset.photo.style(video: true)`).
    public func style(video: Bool = false) -> StyleConfig {
        var c = StyleConfig()
        if self != .image {
            c.size = Preset.reducedSize
            c.iterations = Preset.reducedIterations
        }
        if self == .photo {
            c.photorealWeight = StyleConfig.defaultPhotorealWeight
            c.smoothRadius = Preset.photoSmoothRadius
        }
        if self == .video || video { c.pooling = TemporalConfig.defaultPooling }
        c.initMode = Preset.start(photorealWeight: c.photorealWeight)
        return c
    }

    /// The start image when none is asked for. Relighting (a photorealism term) starts
    /// from the content recoloured to the reference's palette: from the content itself
    /// the term stops the colours long before they reach the reference's (measured).
    public static func start(photorealWeight: Float) -> InitMode {
        photorealWeight > 0 ? .colorTransfer : .content
    }
}
