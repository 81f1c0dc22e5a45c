#!/usr/bin/env bash
# Captures one real Linux TCP conversation for the decoder's fixture:
# curl (client, 192.0.2.1, port 40000) fetches a ~20 KB file from python's
# http.server (192.0.2.2, port 80) across a veth pair between two network
# namespaces; tcpdump records the client side. Checksum offload is turned off
# so every checksum in the capture is the real one.
#
# Usage (as root): scripts/capture-kernel-curl.sh [OUTPUT.pcap]
# Default output: Tests/Fixtures/kernel-curl.pcap
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
    echo "capture-kernel-curl.sh: must run as root (creates network namespaces)" >&2
    exit 2
fi

here="$(cd "$(dirname "$0")/.." && pwd)"
out="$(realpath -m "${1:-$here/Tests/Fixtures/kernel-curl.pcap}")"
. "$here/scripts/lib/veth-pair.sh"
veth_pair_setup tcpipcap

# The file served: 20,000 bytes of printable text, the same on every run.
mkdir -p "$work/www"
/usr/bin/python3 -c 'import sys; sys.stdout.write(("swift-tcpip kernel capture fixture " * 600)[:20000])' > "$work/www/file.txt"

ip netns exec "$server" timeout 30 /usr/bin/python3 -m http.server 80 --bind 192.0.2.2 --directory "$work/www" \
    >"$work/server.log" 2>&1 &
pids+=($!)

# Wait (bounded) until the server listens.
for _ in $(seq 1 100); do
    if ip netns exec "$server" ss -ltn 2>/dev/null | grep -q '192.0.2.2:80'; then break; fi
    sleep 0.1
done
ip netns exec "$server" ss -ltn | grep -q '192.0.2.2:80' || { echo "server did not start" >&2; cat "$work/server.log" >&2; exit 1; }

ip netns exec "$client" timeout 30 tcpdump -i veth-c -s 0 -U -w "$work/capture.pcap" >"$work/tcpdump.log" 2>&1 &
tcpdump_pid=$!
pids+=($tcpdump_pid)
# Wait (bounded) until tcpdump has opened the interface.
for _ in $(seq 1 100); do
    if grep -q "listening on" "$work/tcpdump.log"; then break; fi
    sleep 0.1
done

ip netns exec "$client" curl --silent --show-error --max-time 10 --local-port 40000 \
    -o "$work/fetched.txt" http://192.0.2.2/file.txt
cmp "$work/www/file.txt" "$work/fetched.txt"

sleep 1  # let the close handshake finish
kill -INT "$tcpdump_pid"
wait "$tcpdump_pid" || true
cp "$work/capture.pcap" "$out"
echo "wrote $out ($(stat -c %s "$out") bytes)"
