import TCPIP

/// A `PacketProcessor` that puts a `LinkImpairment` (userspace netem) between the device
/// and `inner`, in both directions.
///
/// Inbound: a packet the loop read from the device enters the inbound line and reaches
/// `inner.receive` when it is due (at once without delay; a lost one never). Outbound:
/// whatever `inner.poll` writes enters the outbound line, and `poll` hands the loop each
/// packet when it is due, to write to the device. `nextDeadline` is the earliest of
/// `inner`'s and both lines'. Loop thread only, like any processor.
public final class ImpairedProcessor<Inner: PacketProcessor>: PacketProcessor {
    public let inner: Inner
    public let impairment: LinkImpairment
    /// Where `inner.poll` writes when the outbound line copies (it has faults).
    let scratch: UnsafeMutableRawBufferPointer
    /// Told of each packet the impairment dropped outright (lost, queue full, oversize):
    /// `.received` on the way in, `.sent` on the way out (e.g. for `--trace`).
    public var onDrop: ((LiveLadder.Direction, UnsafeRawBufferPointer, Instant) -> Void)?

    /// - Parameters:
    ///   - inbound, outbound: the faults of each direction (`FaultConfiguration(parsing:)`).
    ///   - seed: seeds the faults; the same seed replays the same decisions for the same
    ///     packets at the same times.
    ///   - maximumInboundSize: the largest packet or frame the device may deliver
    ///     (default: `inner.maximumPacketSize`); larger ones are dropped and counted.
    public init(_ inner: Inner, inbound: FaultConfiguration, outbound: FaultConfiguration, seed: UInt64,
                maximumInboundSize: Int? = nil) {
        self.inner = inner
        let size = max(inner.maximumPacketSize, maximumInboundSize ?? 0, 68)
        impairment = LinkImpairment(inbound: inbound, outbound: outbound, seed: seed, maximumPacketSize: size)
        scratch = .allocate(byteCount: size, alignment: 16)
    }

    /// The same faults both ways.
    public convenience init(_ inner: Inner, faults: FaultConfiguration, seed: UInt64, maximumInboundSize: Int? = nil) {
        self.init(inner, inbound: faults, outbound: faults, seed: seed, maximumInboundSize: maximumInboundSize)
    }

    deinit { scratch.deallocate() }

    public var tcpHost: IPv4Host { inner.tcpHost }
    public var maximumPacketSize: Int { impairment.maximumPacketSize }
    public var pingInterface: Interface? { inner.pingInterface }
    public var impairmentCounters: ImpairmentCounters? { impairment.counters }

    public func receive(packet: UnsafeRawBufferPointer, now: Instant) {
        if !impairment.receive(fromDevice: packet, now: now) { onDrop?(.received, packet, now) }
        deliverInbound(now: now)
    }

    /// Hands `inner` every inbound packet due by `now`.
    func deliverInbound(now: Instant) {
        while let p = impairment.nextInbound(now: now) { inner.receive(packet: p, now: now) }
    }

    /// Moves everything `inner` has to send now into the outbound line.
    func pumpOutbound(now: Instant) {
        while true {
            if impairment.sendsInPlace {
                if impairment.send(now: now, writingWith: { inner.poll(now: now, into: $0) }) == 0 { return }
            } else {
                let n = inner.poll(now: now, into: scratch)
                if n == 0 { return }
                let packet = UnsafeRawBufferPointer(rebasing: scratch[0..<n])
                if !impairment.send(toDevice: packet, now: now) { onDrop?(.sent, packet, now) }
            }
        }
    }

    public func poll(now: Instant, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        deliverInbound(now: now)
        pumpOutbound(now: now)
        guard let p = impairment.nextOutbound(now: now) else { return 0 }
        let n = min(p.count, buffer.count)
        buffer.baseAddress!.copyMemory(from: p.baseAddress!, byteCount: n)
        return n
    }

    public var nextDeadline: Instant? {
        switch (inner.nextDeadline, impairment.nextDeadline) {
        case (let a?, let b?): return min(a, b)
        case (let a?, nil): return a
        case (nil, let b?): return b
        case (nil, nil): return nil
        }
    }
}
