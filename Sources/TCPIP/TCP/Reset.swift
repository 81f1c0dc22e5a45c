// RFC 9293 §3.10.7.1: the reset that answers a segment for which no connection exists.

extension TCPConnection {
    /// The sequence and acknowledgment numbers of the RST answering `seg` (nil ack: no ACK flag).
    static func resetFields(for seg: TCPHeaderView) -> (seq: SequenceNumber, ack: SequenceNumber?) {
        if seg.flags.contains(.ack) { return (seg.acknowledgmentNumber, nil) }
        return (SequenceNumber(0), seg.sequenceNumber + seg.sequenceLength)
    }

    /// Writes the RST answering a segment that matches no connection: ACK set → RST with
    /// seq = SEG.ACK and no ACK; otherwise RST+ACK with seq 0 and ack = SEG.SEQ + SEG.LEN
    /// (SYN and FIN count one). Never answers a RST (returns 0). `source`/`destination` are
    /// the addresses of the RST (the arriving segment's destination and source). Returns the
    /// RST's length, or 0 when `buffer` is shorter than 20 bytes.
    public static func resetFor(segment seg: TCPHeaderView, into buffer: UnsafeMutableRawBufferPointer,
                                source: IPv4Address, destination: IPv4Address) -> Int {
        guard !seg.flags.contains(.rst), buffer.count >= 20 else { return 0 }
        let r = resetFields(for: seg)
        let b = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<20])
        b.put16(seg.destinationPort, at: 0)
        b.put16(seg.sourcePort, at: 2)
        b.put32(r.seq.rawValue, at: 4)
        b.put32(r.ack?.rawValue ?? 0, at: 8)
        let flags: TCPFlags = r.ack == nil ? .rst : [.rst, .ack]
        b.put16(5 << 12 | flags.rawValue, at: 12)
        b.put16(0, at: 14)
        b.put16(0, at: 16)
        b.put16(0, at: 18)
        TCPHeader.fillChecksum(segment: b, source: source, destination: destination)
        return 20
    }
}
