// Classic pcap reader: PcapReader (and CaptureReader on the same bytes).
// The decoder (PacketDescriber) describes every record read.
// Invariants: records advance through the file and lie inside it; the only error
// after the header is truncatedRecord(index: records so far); CaptureReader.readAll
// gives the same records; records written back with PcapWriter read back equal.
func fuzzOne(_ input: UnsafeRawBufferPointer) {
    let bytes = Array(input)
    var r: PcapReader
    do { r = try PcapReader(bytes: bytes) } catch {
        consume(error); consume(error.description)
        let ng = bytes.count >= 4 && bytes[0] == 0x0A && bytes[1] == 0x0D && bytes[2] == 0x0D && bytes[3] == 0x0A
        if !ng { require(CaptureReader.readAll(bytes).error != nil, "CaptureReader read what PcapReader refused") }
        return
    }
    consume(r.bigEndian); consume(r.resolution); consume(r.versionMajor); consume(r.versionMinor)
    consume(r.snaplen); consume(r.linkType); consume(r.linkType.description)
    var records: [CaptureRecord] = []
    var failure: CaptureError? = nil
    var last = r.offset
    while true {
        do {
            guard let rec = try r.next() else { break }
            require(r.offset > last && r.offset <= bytes.count, "offset did not advance inside the file")
            require(r.offset - last == 16 + rec.bytes.count, "record size")
            last = r.offset
            consume(rec); consume(rec.isTruncated); consume(rec.timestamp.description)
            require(r.recordsRead == records.count + 1, "recordsRead")
            records.append(rec)
        } catch {
            consume(error.description)
            require(error == .truncatedRecord(index: records.count), "unexpected error \(error)")
            failure = error
            break
        }
    }
    let all = CaptureReader.readAll(bytes)
    require(all.records == records && all.error == failure, "CaptureReader disagrees")
    describeAll(records)
    let described = PacketDescriber.describe(capture: bytes)
    require(described.packets.count == records.count && described.error == failure, "describe(capture:) disagrees")

    // Write back what round-trips by construction and read it again.
    var w = PcapWriter(linkType: r.linkType, snaplen: UInt32.max, resolution: r.resolution, bigEndian: r.bigEndian)
    var kept: [CaptureRecord] = []
    for rec in records where rec.originalLength >= rec.bytes.count && rec.originalLength <= Int(UInt32.max)
        && rec.timestamp.nanoseconds >= 0 && rec.timestamp.nanoseconds / 1_000_000_000 <= Int64(UInt32.max) {
        w.append(rec)
        kept.append(rec)
    }
    let again = CaptureReader.readAll(w.bytes)
    require(again.error == nil && again.records == kept, "write/read round trip")
}
