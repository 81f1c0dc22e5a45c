#!/usr/bin/env bash
# TCP benchmark: swift-tcpip's in-memory figures (tcp-bench, release) next to the
# reference stacks measured in the SAME run (shared/baselines; needs root for the
# kernel ones), and the ratios. The machine is noisy: compare ratios, not absolutes.
#   scripts/bench-tcp.sh [--seconds S] [--connections N] [--compare BEFORE_BINARY]
# --compare runs an older tcp-bench binary right after each of ours (same run) and prints
# its lines prefixed "before:" and its ratios beside ours.
set -uo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=3
CONNECTIONS=100000
BEFORE=""
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) SECONDS_EACH="$2"; shift 2 ;;
        --connections) CONNECTIONS="$2"; shift 2 ;;
        --compare) BEFORE="$2"; shift 2 ;;
        *) echo "usage: $0 [--seconds S] [--connections N] [--compare BEFORE_BINARY]" >&2; exit 2 ;;
    esac
done
RUN=""
for c in "../shared/baselines/run" "../../shared/baselines/run" "/work/shared/baselines/run"; do
    if [ -x "$c" ]; then RUN="$c"; break; fi
done

swift build -c release --product tcp-bench >&2 || exit 1
BENCH=".build/release/tcp-bench"

field() { # field LINE KEY
    awk -v k="$2" '{for(i=2;i<=NF;i++){split($i,a,"="); if(a[1]==k){print a[2]; exit}}}' <<<"$1"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a=="" || b=="" || b+0==0) print "n/a"; else printf "%.2f", a/b }'; }
baseline() { # baseline ARGS... -> one line or empty
    [ -n "$RUN" ] || { echo "baselines/run not found" >&2; return; }
    "$RUN" "$@" --seconds "$SECONDS_EACH" 2>/dev/null | tail -1
}

before() { [ -n "$BEFORE" ] || return; local l; l=$("$BEFORE" "$@"); echo "before: $l"; printf '%s' "$l" > "$BEFORE_OUT"; }
BEFORE_OUT=$(mktemp); trap 'rm -f "$BEFORE_OUT"' EXIT
echo "# swift-tcpip (one thread, in memory, two hosts, no faults)"
# Bulk with the library's default buffers (256 KiB), then with 4 MiB buffers (the
# setting of earlier runs, and the only one a --compare binary older than --buffer knows).
ours_bulk=(); ours_bulk4=(); before_bulk=()
for mss in 1460 8960 65495; do
    l=$("$BENCH" bulk --mss "$mss" --seconds "$SECONDS_EACH" --buffer 262144); echo "$l"; ours_bulk+=("$l")
done
for mss in 1460 8960 65495; do
    l=$("$BENCH" bulk --mss "$mss" --seconds "$SECONDS_EACH" --buffer 4194304); echo "$l"; ours_bulk4+=("$l")
    before bulk --mss "$mss" --seconds "$SECONDS_EACH"; before_bulk+=("$(cat "$BEFORE_OUT")")
done
ours_rr=$("$BENCH" rr --seconds "$SECONDS_EACH"); echo "$ours_rr"
before rr --seconds "$SECONDS_EACH"; before_rr=$(cat "$BEFORE_OUT")
ours_cps=$("$BENCH" cps --seconds "$SECONDS_EACH"); echo "$ours_cps"
before cps --seconds "$SECONDS_EACH"; before_cps=$(cat "$BEFORE_OUT")
ours_idle=$("$BENCH" idle --connections "$CONNECTIONS"); echo "$ours_idle"
before idle --connections "$CONNECTIONS"

echo "# baselines (same run)"
k_bulk=$(baseline kernel-bulk --mtu 1500); echo "${k_bulk:-kernel-bulk: unavailable}"
k_bulk_off=$(baseline kernel-bulk --mtu 1500 --offload off); echo "${k_bulk_off:-kernel-bulk offload off: unavailable}"
k_lo=$(baseline kernel-loopback-bulk); echo "${k_lo:-kernel-loopback-bulk: unavailable}"
k_rr=$(baseline kernel-rr); echo "${k_rr:-kernel-rr: unavailable}"
k_cps=$(baseline kernel-cps); echo "${k_cps:-kernel-cps: unavailable}"
lwip=$(baseline lwip-bulk); echo "${lwip:-lwip-bulk: unavailable}"
g_bulk=$(baseline gvisor-mem-bulk --mtu 1500); echo "${g_bulk:-gvisor-mem-bulk: unavailable}"
g_rr=$(baseline gvisor-mem-rr); echo "${g_rr:-gvisor-mem-rr: unavailable}"
g_cps=$(baseline gvisor-mem-cps); echo "${g_cps:-gvisor-mem-cps: unavailable}"

b1460=$(field "${ours_bulk[0]}" gbit_s)
echo "# ratios (swift-tcpip / baseline)"
echo "bulk mss 1460 / kernel-veth-bulk mtu 1500 offload on:  $(ratio "$b1460" "$(field "$k_bulk" gbit_s)")"
echo "bulk mss 1460 / kernel-veth-bulk mtu 1500 offload off: $(ratio "$b1460" "$(field "$k_bulk_off" gbit_s)")"
echo "bulk mss 65495 / kernel-loopback-bulk:                 $(ratio "$(field "${ours_bulk[2]}" gbit_s)" "$(field "$k_lo" gbit_s)")"
echo "bulk 4 MiB buffers mss 1460 / kernel-veth offload on:   $(ratio "$(field "${ours_bulk4[0]}" gbit_s)" "$(field "$k_bulk" gbit_s)")"
echo "bulk 4 MiB buffers mss 1460 / lwip-bulk:                $(ratio "$(field "${ours_bulk4[0]}" gbit_s)" "$(field "$lwip" gbit_s)")"
echo "bulk 4 MiB buffers mss 65495 / kernel-loopback-bulk:    $(ratio "$(field "${ours_bulk4[2]}" gbit_s)" "$(field "$k_lo" gbit_s)")"
echo "bulk mss 1460 / lwip-bulk:                             $(ratio "$b1460" "$(field "$lwip" gbit_s)")"
echo "bulk mss 1460 / gvisor-mem-bulk mtu 1500:              $(ratio "$b1460" "$(field "$g_bulk" gbit_s)")"
echo "rr / kernel-rr:                                        $(ratio "$(field "$ours_rr" trans_s)" "$(field "$k_rr" trans_s)")"
echo "rr / gvisor-mem-rr:                                    $(ratio "$(field "$ours_rr" trans_s)" "$(field "$g_rr" trans_s)")"
echo "cps / kernel-cps:                                      $(ratio "$(field "$ours_cps" conn_s)" "$(field "$k_cps" conn_s)")"
echo "cps / gvisor-mem-cps:                                  $(ratio "$(field "$ours_cps" conn_s)" "$(field "$g_cps" conn_s)")"

if [ -n "$BEFORE" ]; then
    echo "# ratios of the --compare binary (same run)"
    echo "(before: 4 MiB buffers)"
    echo "before bulk mss 1460 / kernel-veth-bulk offload on:        $(ratio "$(field "${before_bulk[0]}" gbit_s)" "$(field "$k_bulk" gbit_s)")"
    echo "before bulk mss 65495 / kernel-loopback-bulk:              $(ratio "$(field "${before_bulk[2]}" gbit_s)" "$(field "$k_lo" gbit_s)")"
    echo "before bulk mss 1460 / lwip-bulk:                          $(ratio "$(field "${before_bulk[0]}" gbit_s)" "$(field "$lwip" gbit_s)")"
    echo "before rr / kernel-rr:                                     $(ratio "$(field "$before_rr" trans_s)" "$(field "$k_rr" trans_s)")"
    echo "before cps / kernel-cps:                                   $(ratio "$(field "$before_cps" conn_s)" "$(field "$k_cps" conn_s)")"
fi
