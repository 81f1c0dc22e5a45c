#!/usr/bin/env bash
# Captures the Linux kernel's TCP in four situations, for `tcpip trace` golden tests:
#   trace-curl.pcap     curl fetches a 3,000-byte file from python's http.server
#   trace-refused.pcap  curl connects to a port nobody listens on (SYN, RST)
#   trace-loss.pcap     a 150,000-byte fetch with 5 % of packets dropped each way
#                       (iptables -m statistic inside each namespace; no netem here)
#   trace-zerowin.pcap  a reader that stops reading: the sender meets a zero window
#   trace-crossfin.pcap both sides close before either has the other's FIN (CLOSING)
#   trace-curl.pcapng   the first capture converted to pcapng by editcap
# Client 192.0.2.1 and server 192.0.2.2 live in two network namespaces joined by a
# veth pair; tcpdump records at the server's interface, headers only (snap length
# 128 bytes; the IP total length still tells every payload length). Offloads are off
# so segments are what TCP sent. Each capture is far below 200 KB.
#
# Usage (as root): scripts/capture-trace-fixtures.sh [OUTPUT-DIRECTORY]
# Default output: Tests/Fixtures/trace/
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
    echo "capture-trace-fixtures.sh: must run as root (creates network namespaces)" >&2
    exit 2
fi

here="$(cd "$(dirname "$0")/.." && pwd)"
outdir="$(realpath -m "${1:-$here/Tests/Fixtures/trace}")"
mkdir -p "$outdir"
. "$here/scripts/lib/veth-pair.sh"
veth_pair_setup tcpiptrace

mkdir -p "$work/www"
/usr/bin/python3 -c 'import sys; sys.stdout.write(("swift-tcpip trace fixture " * 200)[:3000])' > "$work/www/small.txt"
/usr/bin/python3 -c 'import sys; sys.stdout.write(("swift-tcpip trace fixture, lossy " * 5000)[:150000])' > "$work/www/big.txt"

ip netns exec "$server" timeout 120 /usr/bin/python3 -m http.server 80 --bind 192.0.2.2 --directory "$work/www" \
    >"$work/server.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
    if ip netns exec "$server" ss -ltn 2>/dev/null | grep -q '192.0.2.2:80'; then break; fi
    sleep 0.1
done
ip netns exec "$server" ss -ltn | grep -q '192.0.2.2:80' || { echo "server did not start" >&2; cat "$work/server.log" >&2; exit 1; }

# start_capture NAME: tcpdump at the server's interface into $work/NAME.pcap
start_capture() {
    ip netns exec "$server" timeout 60 tcpdump -i veth-s -s 128 -U -w "$work/$1.pcap" tcp >"$work/$1.log" 2>&1 &
    tcpdump_pid=$!
    pids+=($tcpdump_pid)
    for _ in $(seq 1 100); do
        if grep -q "listening on" "$work/$1.log"; then break; fi
        sleep 0.1
    done
}
# stop_capture NAME: waits for the last segments, stops tcpdump, copies the file out
stop_capture() {
    sleep 1
    kill -INT "$tcpdump_pid"
    wait "$tcpdump_pid" || true
    cp "$work/$1.pcap" "$outdir/$1.pcap"
    echo "wrote $outdir/$1.pcap ($(stat -c %s "$outdir/$1.pcap") bytes)"
}

# 1. A short fetch.
start_capture trace-curl
ip netns exec "$client" curl --silent --show-error --max-time 10 --local-port 40001 \
    -o "$work/small.out" http://192.0.2.2/small.txt
cmp "$work/www/small.txt" "$work/small.out"
stop_capture trace-curl

# 2. Connection refused: nothing listens on port 81.
start_capture trace-refused
if ip netns exec "$client" curl --silent --max-time 5 --local-port 40002 http://192.0.2.2:81/ -o /dev/null; then
    echo "port 81 unexpectedly answered" >&2; exit 1
fi
stop_capture trace-refused

# 3. Loss: 5 % of arriving TCP packets dropped in each namespace, after the capture point.
for ns in "$client" "$server"; do
    ip netns exec "$ns" iptables -A INPUT -p tcp -m statistic --mode random --probability 0.05 -j DROP
done
start_capture trace-loss
ip netns exec "$client" curl --silent --show-error --max-time 60 --local-port 40003 \
    -o "$work/big.out" http://192.0.2.2/big.txt
cmp "$work/www/big.txt" "$work/big.out"
stop_capture trace-loss
for ns in "$client" "$server"; do ip netns exec "$ns" iptables -F INPUT; done

# 4. Zero window: the client takes a small receive buffer and stops reading for 3 s.
start_capture trace-zerowin
ip netns exec "$server" timeout 30 /usr/bin/python3 -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("192.0.2.2", 9000)); s.listen(1); s.settimeout(20)
c, _ = s.accept(); c.settimeout(20)
c.sendall(b"z" * 120000); c.close()
' &
sender=$!
pids+=($sender)
for _ in $(seq 1 100); do
    if ip netns exec "$server" ss -ltn 2>/dev/null | grep -q '192.0.2.2:9000'; then break; fi
    sleep 0.1
done
ip netns exec "$client" timeout 30 /usr/bin/python3 -c '
import socket, time
c = socket.socket(); c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
c.bind(("192.0.2.1", 40004)); c.settimeout(20); c.connect(("192.0.2.2", 9000))
time.sleep(3)
n = 0
while True:
    b = c.recv(65536)
    if not b: break
    n += len(b)
c.close()
assert n == 120000, n
'
wait "$sender" || true
stop_capture trace-zerowin

# 5. Crossing FINs: the server drops the client's first FIN (after the capture point),
#    then closes its own side; each side sends its FIN before it has the other's, so the
#    client goes through CLOSING. The client's FIN comes again and both end in TIME-WAIT.
ip netns exec "$server" iptables -A INPUT -p tcp --dport 9001 --tcp-flags FIN FIN \
    -m statistic --mode nth --every 1000 --packet 0 -j DROP
start_capture trace-crossfin
ip netns exec "$server" timeout 30 /usr/bin/python3 -c '
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("192.0.2.2", 9001)); s.listen(1); s.settimeout(20)
c, _ = s.accept(); c.settimeout(20)
assert c.recv(100) == b"hello"
time.sleep(0.05)
c.sendall(b"world"); c.shutdown(socket.SHUT_WR)
while c.recv(100): pass
c.close()
' &
sender=$!
pids+=($sender)
for _ in $(seq 1 100); do
    if ip netns exec "$server" ss -ltn 2>/dev/null | grep -q '192.0.2.2:9001'; then break; fi
    sleep 0.1
done
ip netns exec "$client" timeout 30 /usr/bin/python3 -c '
import socket
c = socket.socket(); c.bind(("192.0.2.1", 40005)); c.settimeout(20); c.connect(("192.0.2.2", 9001))
c.sendall(b"hello"); c.shutdown(socket.SHUT_WR)
got = b""
while True:
    b = c.recv(100)
    if not b: break
    got += b
c.close()
assert got == b"world", got
'
wait "$sender" || true
stop_capture trace-crossfin
ip netns exec "$server" iptables -F INPUT

# The short fetch again as pcapng, to check both formats give the same ladder.
editcap -F pcapng "$outdir/trace-curl.pcap" "$outdir/trace-curl.pcapng"
echo "wrote $outdir/trace-curl.pcapng"
