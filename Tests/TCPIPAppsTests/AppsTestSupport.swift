import Testing
@testable import TCPIPApps

/// Deterministic generator for chunkings (SplitMix64).
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension Array where Element == UInt8 {
    init(ascii s: String) { self = Array(s.utf8) }
}

func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

/// Splits `bytes` into pieces: sizes drawn from 1...maxPiece.
func randomChunks(_ bytes: [UInt8], maxPiece: Int, rng: inout SplitMix64) -> [[UInt8]] {
    var out: [[UInt8]] = []
    var i = 0
    while i < bytes.count {
        let n = Int.random(in: 1...maxPiece, using: &rng)
        out.append(Array(bytes[i..<Swift.min(bytes.count, i + n)]))
        i += n
    }
    return out
}

enum RequestOutcome: Equatable {
    case request(HTTPRequest)
    case error(HTTPRequestError)
}

/// Feeds the pieces one by one, pulling every request after each piece; stops at the first error.
func parseRequests(_ pieces: [[UInt8]], limits: HTTPRequestLimits = HTTPRequestLimits()) -> [RequestOutcome] {
    var parser = HTTPRequestParser(limits: limits)
    var out: [RequestOutcome] = []
    for piece in pieces {
        parser.feed(piece)
        do {
            while let r = try parser.next() { out.append(.request(r)) }
        } catch {
            out.append(.error(error))
            return out
        }
    }
    return out
}

func parseRequests(_ bytes: [UInt8], limits: HTTPRequestLimits = HTTPRequestLimits()) -> [RequestOutcome] {
    parseRequests([bytes], limits: limits)
}

enum ResponseOutcome: Equatable {
    case head(HTTPResponseHead)
    case body([UInt8])
    case end(HTTPHeaders)
    case error(HTTPResponseError)
}

/// Runs the response parser over the pieces (then EOF when `close`), merging adjacent body events.
func parseResponse(_ pieces: [[UInt8]], isHead: Bool = false, close: Bool = true,
                   limits: HTTPResponseLimits = HTTPResponseLimits()) -> [ResponseOutcome] {
    var parser = HTTPResponseParser(limits: limits, isResponseToHead: isHead)
    var out: [ResponseOutcome] = []
    func add(_ e: HTTPResponseEvent) {
        switch e {
        case .head(let h): out.append(.head(h))
        case .body(let b):
            if case .body(let prev)? = out.last { out[out.count - 1] = .body(prev + Array(b)) } else { out.append(.body(Array(b))) }
        case .end(let t): out.append(.end(t))
        }
    }
    do {
        for piece in pieces {
            try piece.withUnsafeBytes { raw in
                var consumed = 0
                while let e = try parser.next(raw, consumed: &consumed) { add(e) }
                #expect(consumed == raw.count)
            }
        }
        if close, let e = try parser.finish() { add(e) }
    } catch let e as HTTPResponseError {
        out.append(.error(e))
    } catch {
        Issue.record("unexpected error \(error)")
    }
    return out
}
