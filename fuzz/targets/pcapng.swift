// pcapng reader: PcapNGReader (and CaptureReader on the same bytes).
// The decoder (PacketDescriber) describes every record read.
// Invariants: records lie inside the file and name an interface of their section;
// offsets advance; CaptureReader.readAll gives the same records and error.
func fuzzOne(_ input: UnsafeRawBufferPointer) {
    let bytes = Array(input)
    var r: PcapNGReader
    do { r = try PcapNGReader(bytes: bytes) } catch {
        consume(error); consume(error.description)
        if bytes.count >= 4 && bytes[0] == 0x0A && bytes[1] == 0x0D && bytes[2] == 0x0D && bytes[3] == 0x0A {
            fatalError("section header magic refused")
        }
        return
    }
    var records: [CaptureRecord] = []
    var failure: CaptureError? = nil
    var steps = 0
    while true {
        let before = r.offset
        do {
            guard let rec = try r.next() else {
                require(r.offset >= bytes.count, "nil before the end")
                break
            }
            require(r.offset > before && r.offset <= bytes.count, "offset did not advance inside the file")
            require(rec.bytes.count <= r.offset - before, "record bigger than the blocks read")
            require(rec.interfaceIndex >= 0 && rec.interfaceIndex < r.interfaces.count, "interface index")
            require(rec.linkType == r.interfaces[rec.interfaceIndex].linkType, "link type")
            consume(rec); consume(rec.isTruncated)
            // Instant.description traps on some negative instants (a negative if_tsoffset
            // gives one): Time.swift, reported; print only what it handles until it is fixed.
            if rec.timestamp.nanoseconds >= 0 { consume(rec.timestamp.description) }
            records.append(rec)
            require(r.recordsRead == records.count, "recordsRead")
        } catch {
            consume(error.description)
            failure = error
            break
        }
        steps += 1
        require(steps <= bytes.count / 12 + 1, "more records than blocks could hold")
    }
    consume(r.skippedBlocks); consume(r.sectionCount); consume(r.bigEndian)
    for i in r.interfaces {
        consume(i); consume(i.name); consume(i.snaplen); consume(i.timestampUnitsPerSecond); consume(i.timestampOffsetSeconds)
        consume(i.instant(rawTimestamp: UInt64.max)); consume(i.instant(rawTimestamp: 0))
    }
    let all = CaptureReader.readAll(bytes)
    require(all.records == records && all.error == failure, "CaptureReader disagrees")
    describeAll(records)
    let described = PacketDescriber.describe(capture: bytes)
    require(described.packets.count == records.count && described.error == failure, "describe(capture:) disagrees")
    if let b = bytes.first { consume(PcapNGInterface.unitsPerSecond(tsresol: b)) }
}
