// libFuzzer target: the `-vf` filter-chain parser (scripts/fuzz.sh chain). The input
// bytes are the chain (UTF-8, invalid sequences replaced). Nothing may trap; a rejection
// must be a FilterChainError with a message and a caret line; parsing is deterministic;
// an accepted chain's geometry, resolved on a 640×360 frame, either gives a positive size
// or a reasoned EngineError.
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzChain(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let chain = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    do {
        let settings = try FilterChain.parse(chain)
        guard (try? FilterChain.parse(chain)) == settings else { fatalError("parse is not deterministic: \(chain)") }
        do {
            let (w, h) = try settings.geometry.outputSize(width: 640, height: 360)
            guard w > 0, h > 0 else { fatalError("geometry gave \(w)×\(h) for \(chain)") }
        } catch is EngineError {}
    } catch let e as FilterChainError {
        guard !e.message.isEmpty, e.position >= 0, e.position <= chain.count else { fatalError("bad error \(e)") }
        guard e.caret.hasSuffix("^") else { fatalError("no caret: \(e.caret)") }
    } catch {
        fatalError("not a FilterChainError: \(error) for \(chain)")
    }
    return 0
}
