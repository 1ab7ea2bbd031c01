// libFuzzer target: the .caffemodel reader (scripts/fuzz.sh caffemodel): protobuf's wire
// format, V1 and new layers, blobs. The input bytes are a whole file; the checks are
// WeightReaderCheck.swift's.
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCaffeModel(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Data(bytes: data, count: size)
    checkWeightReader(file: "fuzz.caffemodel") { try CaffeModel.decode(bytes, path: "fuzz.caffemodel") }
    return 0
}
