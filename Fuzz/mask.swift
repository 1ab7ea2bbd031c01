// libFuzzer target: the segmentation-mask reader and --mask-map (scripts/fuzz.sh mask).
// Bytes 0–1 give a width and height (1…48), the next w·h·3 bytes the RGB label image
// (zero-padded), the rest is a --mask-map text. Nothing may trap; every decoded map has
// labels within its names, distinct names, areas summing to 1; a map pairs with itself
// label for label; a parsed --mask-map either pairs or is rejected with a MaskError; the
// resized masks of a partition still sum to 1 at every pixel.
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMask(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 2 else { return 0 }
    let w = Int(data[0]) % 48 + 1, h = Int(data[1]) % 48 + 1
    var rgb = [UInt8](repeating: 0, count: w * h * 3)
    let pixelBytes = min(rgb.count, size - 2)
    for i in 0..<pixelBytes { rgb[i] = data[2 + i] }
    let rest = Data(bytes: data + 2 + pixelBytes, count: size - 2 - pixelBytes)
    do {
        let map = try LabelMap.decode(width: w, height: h, rgb: rgb, what: "fuzz")
        guard Set(map.names).count == map.names.count else { fatalError("duplicate label names \(map.names)") }
        guard map.labels.allSatisfy({ $0 >= 0 && Int($0) < map.names.count }) else { fatalError("label out of range") }
        guard abs(map.areas.reduce(0, +) - 1) < 1e-9 else { fatalError("areas sum to \(map.areas.reduce(0, +))") }
        let same = try MaskPairing(content: map, reference: map)
        guard same.pairs.allSatisfy({ $0.0 == $0.1 }), same.pairs.count == map.names.count else { fatalError("self-pairing \(same.pairs)") }
        let tw = Int(data[0]) % 17 + 1, th = Int(data[1]) % 13 + 1
        let masks = same.contentMasks(width: tw, height: th)
        for i in 0..<masks.plane {
            var s: Float = 0
            for c in 0..<masks.channels { s += masks.storage[c * masks.plane + i] }
            guard abs(s - 1) < 1e-4 else { fatalError("masks sum to \(s) at pixel \(i)") }
        }
        if let text = String(data: rest, encoding: .utf8), !text.isEmpty {
            do {
                let m = try MaskPairing.parseMap(text)
                let p = try MaskPairing(content: map, reference: map, map: m)
                guard p.pairs.allSatisfy({ $0.0 < map.names.count && $0.1 < map.names.count }) else { fatalError("pair out of range") }
            } catch is MaskError {}
        }
    } catch is MaskError {
        // rejected with a message: fine
    } catch {
        fatalError("not a MaskError: \(error)")
    }
    return 0
}
