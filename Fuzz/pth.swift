// libFuzzer target: the PyTorch reader (scripts/fuzz.sh pth): the pickle machine, the
// legacy stream's storages and the zip directory. The input bytes are a whole .pth file.
// Nothing may trap or read outside the bytes; a rejection must be an EngineError naming
// the file; every tensor read has exactly as many values as its shape says.
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTorchFile(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Data(bytes: data, count: size)
    do {
        for a in try TorchFile.decode(bytes, path: "fuzz.pth") {
            guard a.values.count == a.shape.reduce(1, *) else { fatalError("\(a.name): \(a.values.count) values for shape \(a.shape)") }
        }
    } catch let e as EngineError {
        guard "\(e)".contains("fuzz.pth") else { fatalError("error does not name the file: \(e)") }
    } catch {
        fatalError("not an EngineError: \(error)")
    }
    return 0
}
