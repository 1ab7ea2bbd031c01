// libFuzzer target: the .caffemodel reader (scripts/fuzz.sh caffemodel): protobuf's wire
// format, V1 and new layers, blobs. The input bytes are a whole file. Nothing may trap or
// read outside the bytes; a rejection must be an EngineError naming the file; every blob
// read has exactly as many values as its shape says.
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCaffeModel(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Data(bytes: data, count: size)
    do {
        for a in try CaffeModel.decode(bytes, path: "fuzz.caffemodel") {
            guard a.values.count == a.shape.reduce(1, *) else { fatalError("\(a.name): \(a.values.count) values for shape \(a.shape)") }
        }
    } catch let e as EngineError {
        guard "\(e)".contains("fuzz.caffemodel") else { fatalError("error does not name the file: \(e)") }
    } catch {
        fatalError("not an EngineError: \(error)")
    }
    return 0
}
