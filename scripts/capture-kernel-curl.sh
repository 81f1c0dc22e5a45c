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
suffix="$$-$RANDOM"
client="tcpipcap-c-$suffix"
server="tcpipcap-s-$suffix"
work="$(mktemp -d)"
pids=()

cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    ip netns del "$client" 2>/dev/null || true
    ip netns del "$server" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

ip netns add "$client"
ip netns add "$server"
ip link add veth-c netns "$client" type veth peer name veth-s netns "$server"
for ns in "$client" "$server"; do
    ip netns exec "$ns" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    ip netns exec "$ns" ip link set lo up
done
ip netns exec "$client" ip addr add 192.0.2.1/24 dev veth-c
ip netns exec "$server" ip addr add 192.0.2.2/24 dev veth-s
for pair in "$client veth-c" "$server veth-s"; do
    set -- $pair
    ip netns exec "$1" ethtool -K "$2" tx off tso off gso off gro off >/dev/null 2>&1 || true
    ip netns exec "$1" sysctl -q -w net.ipv6.conf."$2".disable_ipv6=1 || true
    ip netns exec "$1" ip link set "$2" up
done

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
