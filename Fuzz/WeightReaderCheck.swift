// What every weight-reader target checks (scripts/fuzz.sh copies this file in beside the
// target): nothing may trap or read outside the bytes; a rejection must be an
// EngineError naming the file; every tensor read has exactly as many values as its
// shape says.
import Foundation

func checkWeightReader(file: String, _ decode: () throws -> [NamedArray]) {
    do {
        for a in try decode() {
            guard a.values.count == a.shape.reduce(1, *) else { fatalError("\(a.name): \(a.values.count) values for shape \(a.shape)") }
        }
    } catch let e as EngineError {
        guard "\(e)".contains(file) else { fatalError("error does not name the file: \(e)") }
    } catch {
        fatalError("not an EngineError: \(error)")
    }
}
