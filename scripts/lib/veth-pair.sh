# Sourced by the capture scripts: two network namespaces, client 192.0.2.1 (veth-c) and
# server 192.0.2.2 (veth-s), joined by a veth pair, IPv6 off, offloads off (segments are
# what TCP sent, checksums are the real ones). Sets $client, $server, $work (a temporary
# directory) and the array pids (background processes to stop); everything is removed on
# exit, also on failure.
#   veth_pair_setup NAME-PREFIX
veth_pair_setup() {
    local suffix="$$-$RANDOM"
    client="$1-c-$suffix"
    server="$1-s-$suffix"
    work="$(mktemp -d)"
    pids=()
    trap veth_pair_cleanup EXIT
    ip netns add "$client"
    ip netns add "$server"
    ip link add veth-c netns "$client" type veth peer name veth-s netns "$server"
    for ns in "$client" "$server"; do
        ip netns exec "$ns" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
        ip netns exec "$ns" ip link set lo up
    done
    ip netns exec "$client" ip addr add 192.0.2.1/24 dev veth-c
    ip netns exec "$server" ip addr add 192.0.2.2/24 dev veth-s
    local pair
    for pair in "$client veth-c" "$server veth-s"; do
        set -- $pair
        ip netns exec "$1" ethtool -K "$2" tx off tso off gso off gro off >/dev/null 2>&1 || true
        ip netns exec "$1" sysctl -q -w net.ipv6.conf."$2".disable_ipv6=1 || true
        ip netns exec "$1" ip link set "$2" up
    done
}

veth_pair_cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    ip netns del "$client" 2>/dev/null || true
    ip netns del "$server" 2>/dev/null || true
    rm -rf "$work"
}
