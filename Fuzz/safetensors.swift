// libFuzzer target: the safetensors reader (scripts/fuzz.sh safetensors). The input
// bytes are a whole file: 8-byte little-endian header length, JSON header, tensor data.
// Nothing may trap or read outside the bytes; a rejection must be an EngineError naming
// the file; every decoded tensor has exactly as many values as its shape says.
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafetensors(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Data(bytes: data, count: size)
    do {
        let arrays = try WeightFile.decodeSafetensors(bytes, path: "fuzz.safetensors")
        for a in arrays {
            guard a.values.count == a.shape.reduce(1, *) else { fatalError("\(a.name): \(a.values.count) values for shape \(a.shape)") }
        }
    } catch let e as EngineError {
        guard "\(e)".contains("fuzz.safetensors") else { fatalError("error does not name the file: \(e)") }
    } catch {
        fatalError("not an EngineError: \(error)")
    }
    return 0
}
