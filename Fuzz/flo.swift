// libFuzzer target: the Middlebury .flo reader (scripts/fuzz.sh flo SECONDS).
// Any input is either rejected with a FlowError or decodes to a flow that survives an
// encode/decode round trip unchanged; nothing may crash or trap.
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFlo(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Data(bytes: data, count: size)
    do {
        let flow = try FloFile.decode(bytes, path: "fuzz")
        let again = try FloFile.decode(FloFile.encode(flow), path: "round trip")
        if again != flow { fatalError("round trip changed a \(flow.width)×\(flow.height) flow") }
    } catch is FlowError {
        // rejected with a message: fine
    } catch {
        fatalError("not a FlowError: \(error)")
    }
    return 0
}
