/// An 8-bit RGB image, packed (R, G, B per pixel), rows without padding. The common
/// currency between VideoIO and the engine: VideoIO knows nothing of tensors.
public struct RGBImage: Equatable, Sendable {
    public var width: Int
    public var height: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(pixels.count == width * height * 3,
                     "RGBImage: expected \(width * height * 3) bytes for \(width)×\(height), got \(pixels.count)")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    public init(width: Int, height: Int, fill: (UInt8, UInt8, UInt8) = (0, 0, 0)) {
        self.width = width
        self.height = height
        var p = [UInt8](repeating: 0, count: width * height * 3)
        for i in 0..<(width * height) { p[3 * i] = fill.0; p[3 * i + 1] = fill.1; p[3 * i + 2] = fill.2 }
        self.pixels = p
    }
}
