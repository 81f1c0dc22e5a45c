#!/usr/bin/env python3
"""Writes the seed corpus of every fuzz target into fuzz/corpus/<target>/.

Standard library only. Valid messages of each kind (built here field by field,
with correct checksums) and a few malformed ones. Run from anywhere:
    python3 fuzz/make-seeds.py
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")


def csum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ip(a: str) -> bytes:
    return bytes(int(x) for x in a.split("."))


SRC, DST = ip("192.0.2.1"), ip("192.0.2.2")
MAC1, MAC2 = bytes.fromhex("020000000001"), bytes.fromhex("020000000002")


def tcp(sport=40000, dport=5001, seq=1, ack=0, flags=0x02, win=64240, options=b"", payload=b"", src=SRC, dst=DST, urg=0):
    assert len(options) % 4 == 0
    off = (20 + len(options)) // 4
    h = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, off << 4, flags, win, 0, urg) + options
    pseudo = src + dst + struct.pack("!BBH", 0, 6, len(h) + len(payload))
    c = csum(pseudo + h + payload)
    return h[:16] + struct.pack("!H", c) + h[18:] + payload


def udp(sport=5353, dport=53, payload=b"", src=SRC, dst=DST, checksum=True):
    h = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0)
    if checksum:
        c = csum(src + dst + struct.pack("!BBH", 0, 17, 8 + len(payload)) + h + payload) or 0xFFFF
        h = h[:6] + struct.pack("!H", c)
    return h + payload


def icmp(type_, code, rest: bytes, body=b""):
    m = struct.pack("!BBH", type_, code, 0) + rest + body
    return m[:2] + struct.pack("!H", csum(m)) + m[4:]


def ipv4(proto, payload, src=SRC, dst=DST, options=b"", ttl=64, ident=0x1234, flags_frag=0x4000, tos=0):
    assert len(options) % 4 == 0
    ihl = (20 + len(options)) // 4
    h = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, tos, 4 * ihl + len(payload), ident, flags_frag, ttl, proto, 0, src, dst) + options
    return h[:10] + struct.pack("!H", csum(h)) + h[12:] + payload


def eth(ethertype, payload, vlan=None):
    if vlan is None:
        return MAC2 + MAC1 + struct.pack("!H", ethertype) + payload
    return MAC2 + MAC1 + struct.pack("!HHH", 0x8100, vlan, ethertype) + payload


def arp(op=1, sha=MAC1, spa=SRC, tha=b"\0" * 6, tpa=DST, htype=1):
    return struct.pack("!HHBBH", htype, 0x0800, 6, 4, op) + sha + spa + tha + tpa


# TCP options
MSS = struct.pack("!BBH", 2, 4, 1460)
SACKOK = b"\x04\x02"
def TS(v, e): return struct.pack("!BBII", 8, 10, v, e)
NOP = b"\x01"
WS = struct.pack("!BBB", 3, 3, 7)
LINUX_SYN = MSS + SACKOK + TS(1000, 0) + NOP + WS
DATA_TS = NOP + NOP + TS(2000, 1000)
def SACK(*blocks): return struct.pack("!BB", 5, 2 + 8 * len(blocks)) + b"".join(struct.pack("!II", a, b) for a, b in blocks)

seg_syn = tcp(options=LINUX_SYN)
seg_synack = tcp(sport=5001, dport=40000, seq=7000, ack=2, flags=0x12, options=LINUX_SYN)
seg_data = tcp(seq=2, ack=7001, flags=0x18, win=502, options=DATA_TS, payload=b"hello, world\n" * 5)
seg_sack = tcp(seq=2, ack=7001, flags=0x10, options=DATA_TS + NOP + NOP + SACK((8000, 9000), (10000, 11000), (12000, 12500)))
seg_unknown = tcp(flags=0x02, options=MSS + struct.pack("!BB", 30, 6) + b"\xaa\xbb\xcc\xdd" + NOP + NOP)  # MPTCP-like kind 30
seg_eol = tcp(flags=0x11, options=NOP + b"\x00" + b"\xde\xad")  # EOL then garbage
seg_fin_rst_urg = tcp(flags=0x1F9 & 0xFF, urg=5, payload=b"x")
seg_badlen = bytearray(tcp(options=DATA_TS)); seg_badlen[21] = 1  # NOP NOP, then a length byte of 0? keep: kind NOP, next
seg_badlen[22] = 8; seg_badlen[23] = 40  # timestamps with length 40

udp_dns = udp(payload=bytes.fromhex("123401000001000000000000076578616d706c6503636f6d0000010001"))
udp_nock = udp(sport=68, dport=67, payload=b"\x01" * 20, checksum=False)
udp_long = bytearray(udp(payload=b"abcd")); udp_long[4:6] = struct.pack("!H", 200)

quoted_udp = ipv4(17, udp(payload=b"probe"))[:28]
icmp_echo = icmp(8, 0, struct.pack("!HH", 0x4242, 1), b"abcdefghijklmnopqrstuvwabcdefghi")
icmp_reply = icmp(0, 0, struct.pack("!HH", 0x4242, 1), b"abcdefgh")
icmp_port = icmp(3, 3, b"\0\0\0\0", quoted_udp)
icmp_fragneeded = icmp(3, 4, struct.pack("!HH", 0, 1400), ipv4(6, seg_data)[:28])
icmp_ttl = icmp(11, 0, b"\0\0\0\0", ipv4(6, seg_syn)[:48])
icmp_redirect = icmp(5, 1, ip("192.0.2.254"), quoted_udp)
icmp_param = icmp(12, 0, b"\x14\0\0\0", quoted_udp)
icmp_badquote = icmp(3, 1, b"\0\0\0\0", b"\x46" + quoted_udp[1:])

RR = struct.pack("!BBB", 7, 11, 4) + b"\0" * 8 + NOP  # record route, 12 bytes with the NOP
ip_tcp = ipv4(6, seg_syn)
ip_tcp_opts = ipv4(6, seg_data, options=RR)
ip_udp = ipv4(17, udp_dns)
ip_icmp = ipv4(1, icmp_echo)
ip_frag = ipv4(17, udp_dns[:16], flags_frag=0x2000 | 0, ident=7)
ip_frag2 = ipv4(17, udp_dns[16:], flags_frag=2)
ip_badsum = bytearray(ip_udp); ip_badsum[10] ^= 0xFF
ip_eol = ipv4(6, seg_syn, options=b"\x00\x44\x99\x01" + b"\xff" * 4)  # EOL then garbage
ip_ihl15 = ipv4(17, udp_nock, options=b"\x01" * 40)
ip_total_short = bytearray(ip_udp); ip_total_short[2:4] = struct.pack("!H", 12)

frame_syn = eth(0x0800, ip_tcp)
frame_data = eth(0x0800, ipv4(6, seg_data))
frame_vlan_arp = eth(0x0806, arp(), vlan=(3 << 13) | 100)
frame_arp = eth(0x0806, arp() + b"\0" * 18)
frame_icmp = eth(0x0800, ipv4(1, icmp_port))
frame_stacked = MAC2 + MAC1 + struct.pack("!HHHH", 0x8100, 5, 0x8100, 6) + b"\0" * 8
frame_ipv6 = eth(0x86DD, b"\x60" + b"\0" * 39)

seeds = {
    "ethernet": {"syn": frame_syn, "data": frame_data, "vlan-arp": frame_vlan_arp, "arp-padded": frame_arp,
                 "icmp": frame_icmp, "stacked-vlan": frame_stacked, "ipv6": frame_ipv6, "runt": frame_syn[:13],
                 "tagged-runt": frame_vlan_arp[:17]},
    "arp": {"request": arp(), "reply": arp(op=2, sha=MAC2, spa=DST, tha=MAC1, tpa=SRC), "padded": arp() + b"\0" * 18,
            "bad-htype": arp(htype=6), "bad-op": arp(op=3), "short": arp()[:27]},
    "ipv4": {"tcp-syn": ip_tcp, "tcp-rr-option": ip_tcp_opts, "udp": ip_udp, "icmp": ip_icmp, "frag1": ip_frag,
             "frag2": ip_frag2, "bad-checksum": bytes(ip_badsum), "eol-garbage": ip_eol, "ihl15": ip_ihl15,
             "total-short": bytes(ip_total_short), "padded": ip_udp + b"\0" * 10, "quoted": quoted_udp,
             "version6": b"\x60" + ip_udp[1:]},
    "icmp": {"echo": icmp_echo, "reply": icmp_reply, "port-unreachable": icmp_port, "frag-needed": icmp_fragneeded,
             "ttl-exceeded": icmp_ttl, "redirect": icmp_redirect, "param-problem": icmp_param,
             "bad-quote": icmp_badquote, "short": icmp_echo[:7], "timestamp": icmp(13, 0, b"\0\x01\0\x02", b"\0" * 12)},
    "udp": {"dns": udp_dns, "no-checksum": udp_nock, "length-past-end": bytes(udp_long), "short": udp_dns[:7],
            "empty": udp(payload=b""), "length-7": udp_dns[:4] + b"\0\x07\0\0"},
    "tcp": {"linux-syn": seg_syn, "syn-ack": seg_synack, "data-ts": seg_data, "sack3": seg_sack,
            "unknown-option": seg_unknown, "eol-garbage": seg_eol, "flags": seg_fin_rst_urg,
            "bad-option-length": bytes(seg_badlen), "offset-4": seg_syn[:12] + b"\x40" + seg_syn[13:],
            "offset-past-end": seg_syn[:36], "short": seg_syn[:19]},
}


def pcap(records, big=False, nano=False, linktype=1, snaplen=262144):
    e = ">" if big else "<"
    out = struct.pack(e + "IHHiIII", 0xA1B23C4D if nano else 0xA1B2C3D4, 2, 4, 0, 0, snaplen, linktype)
    for i, r in enumerate(records):
        out += struct.pack(e + "IIII", 1700000000 + i, (123456789 if nano else 123456) + i, len(r), len(r) + (4 if i == 1 else 0)) + r
    return out


def block(e, type_, body):
    n = 12 + len(body)
    return struct.pack(e + "II", type_, n) + body + struct.pack(e + "I", n)


def opt(e, code, value):
    pad = (-len(value)) % 4
    return struct.pack(e + "HH", code, len(value)) + value + b"\0" * pad


def pcapng(records, big=False, tsresol=None, extra=b"", sections=1):
    e = ">" if big else "<"
    out = b""
    for _ in range(sections):
        out += block(e, 0x0A0D0D0A, struct.pack(e + "IHHq", 0x1A2B3C4D, 1, 0, -1))
        idb_opts = opt(e, 2, b"veth0\0")
        if tsresol is not None:
            idb_opts += opt(e, 9, bytes([tsresol]))
        idb_opts += opt(e, 14, struct.pack(e + "q", 10)) + struct.pack(e + "HH", 0, 0)
        out += block(e, 1, struct.pack(e + "HHI", 1, 0, 0) + idb_opts)
        out += block(e, 1, struct.pack(e + "HHI", 101, 0, 96))
        for i, r in enumerate(records):
            pad = (-len(r)) % 4
            ts = 1700000000123456 + i
            out += block(e, 6, struct.pack(e + "IIIII", i % 2, ts >> 32, ts & 0xFFFFFFFF, len(r), len(r)) + r + b"\0" * pad)
        spb = records[0]
        out += block(e, 3, struct.pack(e + "I", len(spb)) + spb + b"\0" * ((-len(spb)) % 4))
        out += block(e, 5, struct.pack(e + "IIII", 0, 0, 0, 0))  # interface statistics: skipped
        out += extra
    return out


frames = [frame_syn, frame_data, frame_vlan_arp]
p_le = pcap(frames)
ng = pcapng(frames, tsresol=9)
seeds["pcap"] = {"le-micro": p_le, "be-nano": pcap(frames, big=True, nano=True), "raw-ip": pcap([ip_tcp, ip_udp], linktype=101),
                 "truncated-record": p_le[:-5], "header-only": p_le[:24], "short-header": p_le[:20],
                 "version-3": p_le[:4] + b"\x03\x00" + p_le[6:], "snaplen-cut": pcap([frame_data[:60]], snaplen=60)}
seeds["pcapng"] = {"le": ng, "be": pcapng(frames, big=True), "two-sections": pcapng(frames[:1], sections=2),
                   "binary-tsresol": pcapng(frames[:2], tsresol=0x8A), "truncated": ng[:-7],
                   "bad-interface": pcapng([frame_syn, frame_syn, frame_syn]).replace(b"\x01\x00\x00\x00", b"\x07\x00\x00\x00", 1),
                   "bad-byte-order": ng[:8] + b"\x11\x22\x33\x44" + ng[12:], "bad-trailer": ng[:28] + b"\x00" * 4 + ng[32:]}

for target, files in seeds.items():
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    for name, data in files.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(bytes(data))
print("wrote", sum(len(f) for f in seeds.values()), "seeds into", CORPUS)
