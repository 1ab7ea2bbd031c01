// libFuzzer target: the PyTorch reader (scripts/fuzz.sh pth): the pickle machine, the
// legacy stream's storages and the zip directory. The input bytes are a whole .pth file;
// the checks are WeightReaderCheck.swift's.
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTorchFile(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Data(bytes: data, count: size)
    checkWeightReader(file: "fuzz.pth") { try TorchFile.decode(bytes, path: "fuzz.pth") }
    return 0
}
