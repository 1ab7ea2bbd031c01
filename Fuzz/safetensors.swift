// libFuzzer target: the safetensors reader (scripts/fuzz.sh safetensors). The input
// bytes are a whole file: 8-byte little-endian header length, JSON header, tensor data;
// the checks are WeightReaderCheck.swift's.
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafetensors(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Data(bytes: data, count: size)
    checkWeightReader(file: "fuzz.safetensors") { try WeightFile.decodeSafetensors(bytes, path: "fuzz.safetensors") }
    return 0
}
