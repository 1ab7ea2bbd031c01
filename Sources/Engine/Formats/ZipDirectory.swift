import Foundation

/// The central directory of a zip archive whose members are stored (not compressed), as
/// torch.save writes them: each member's name and the bytes of its data.
enum ZipDirectory {
    struct Damaged: Error { let message: String }
    struct Entry { var range: Range<Int> }

    static func read(_ data: Data) throws -> [String: Entry] {
        // the end-of-central-directory record: in the last 64 KB + 22 bytes
        let n = data.count
        guard n >= 22 else { throw Damaged(message: "a zip archive too short to hold its directory (truncated?)") }
        var eocd = -1
        var i = n - 22
        while i >= max(0, n - 22 - 65_535) {
            if data[data.startIndex + i] == 0x50, data[data.startIndex + i + 1] == 0x4B, data[data.startIndex + i + 2] == 0x05, data[data.startIndex + i + 3] == 0x06 { eocd = i; break }
            i -= 1
        }
        guard eocd >= 0 else { throw Damaged(message: "a zip archive without its directory (truncated?)") }
        var r = ByteReader(data, from: eocd + 10)
        var count = Int(try r.littleEndian(2))
        _ = try r.littleEndian(4)
        var dirOffset = Int(try r.littleEndian(4))
        if count == 0xFFFF || dirOffset == 0xFFFF_FFFF {
            // ZIP64: the locator right before the record points at the 64-bit record
            var loc = ByteReader(data, from: max(0, eocd - 20))
            guard eocd >= 20, try loc.littleEndian(4) == 0x0706_4B50 else { throw Damaged(message: "a zip archive whose ZIP64 directory is missing") }
            _ = try loc.littleEndian(4)
            let at = try loc.littleEndian(8)
            guard at < UInt64(n) else { throw Damaged(message: "a zip archive whose ZIP64 directory lies outside it") }
            var z = ByteReader(data, from: Int(at))
            guard try z.littleEndian(4) == 0x0606_4B50 else { throw Damaged(message: "a zip archive with a damaged ZIP64 directory") }
            try z.skip(28)
            let c = try z.littleEndian(8)
            try z.skip(8)
            let off = try z.littleEndian(8)
            guard c < UInt64(n), off < UInt64(n) else { throw Damaged(message: "a zip archive with a damaged ZIP64 directory") }
            count = Int(c); dirOffset = Int(off)
        }
        var entries: [String: Entry] = [:]
        var d = ByteReader(data, from: dirOffset)
        for _ in 0..<count {
            guard try d.littleEndian(4) == 0x0201_4B50 else { throw Damaged(message: "a zip archive with a damaged directory") }
            try d.skip(6)
            let method = try d.littleEndian(2)
            try d.skip(8)
            var size = try d.littleEndian(4)
            let unpacked = try d.littleEndian(4)
            let nameLength = Int(try d.littleEndian(2)), extraLength = Int(try d.littleEndian(2)), commentLength = Int(try d.littleEndian(2))
            try d.skip(8)
            var local = try d.littleEndian(4)
            let name = String(decoding: try d.bytes(nameLength), as: UTF8.self)
            var extra = ByteReader(data, from: d.position, to: d.position + extraLength)
            try d.skip(extraLength + commentLength)
            // ZIP64 extra field: the 64-bit values of the fields that read 0xFFFFFFFF
            while extra.remaining >= 4 {
                let id = try extra.littleEndian(2), length = Int(try extra.littleEndian(2))
                var field = ByteReader(data, from: extra.position, to: extra.position + length)
                try extra.skip(length)
                guard id == 1 else { continue }
                if unpacked == 0xFFFF_FFFF { _ = try field.littleEndian(8) }
                if size == 0xFFFF_FFFF { size = try field.littleEndian(8) }
                if local == 0xFFFF_FFFF { local = try field.littleEndian(8) }
            }
            guard method == 0 else { throw Damaged(message: "member \(name) of the zip archive is compressed; torch.save stores its members") }
            guard local < UInt64(n) else { throw Damaged(message: "member \(name) lies outside the zip archive (truncated?)") }
            var h = ByteReader(data, from: Int(local))
            guard try h.littleEndian(4) == 0x0403_4B50 else { throw Damaged(message: "member \(name) of the zip archive is damaged") }
            try h.skip(22)
            let skip = Int(try h.littleEndian(2)) + Int(try h.littleEndian(2))
            try h.skip(skip)
            guard size <= UInt64(h.remaining) else { throw Damaged(message: "member \(name) runs past the end of the zip archive (truncated?)") }
            entries[name] = Entry(range: h.position..<h.position + Int(size))
        }
        return entries
    }
}
