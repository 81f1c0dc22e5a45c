#!/usr/bin/env bash
# Throughput over a TAP device: the release `tcpip` binary against the Linux kernel in a
# network namespace, both directions, next to the reference stacks measured in the SAME run
# (shared/baselines: raw TAP frame rate, kernel veth with offloads off/on, lwIP and gVisor
# over the same kind of TAP), and the ratios. The machine is noisy: compare ratios.
#
#   scripts/bench-tap.sh [--seconds S] [--mtu "1500 9000"] [--repeat N] [--perf]
#                        [--args "EXTRA TCPIP ARGS"] [--compare BEFORE_BINARY] [--compare-args ARGS]
#                        [--no-baselines]
#
# rx: a kernel client (python3, one socket, 64 KiB send()s for S seconds, then shutdown(WR))
#     -> `tcpip serve discard --tap tap0 --mtu N`. Timed from connect until the server's FIN
#     (discard closes once it has read everything): every byte counted was read by the
#     application on our stack. Gbit/s = bytes * 8 / that time.
# tx: `tcpip serve http --root DIR` (a 4 GiB file on tmpfs: reads are page-cache copies)
#     -> `curl -o /dev/null --max-time S` in the namespace; Gbit/s = curl's size_download
#     * 8 / time_total (connect included).
# --args: extra options for our binary (e.g. "--offload"); --compare: an older binary run
# right after ours with the same options (except --args; --compare-args are its own),
# printed as "before".
# --perf: `perf record` of our process during the first MTU's rx and tx; top symbols printed.
# Needs root (namespaces, TAP); without it, prints why and exits 0.
set -uo pipefail
cd "$(dirname "$0")/.."
SECS=3
MTUS="1500 9000"
REPEAT=1
PERF=0
EXTRA=""
BEFORE=""
BEFORE_ARGS=""
BASELINES=1
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) SECS="$2"; shift 2 ;;
        --mtu) MTUS="$2"; shift 2 ;;
        --repeat) REPEAT="$2"; shift 2 ;;
        --perf) PERF=1; shift ;;
        --args) EXTRA="$2"; shift 2 ;;
        --compare) BEFORE="$2"; shift 2 ;;
        --compare-args) BEFORE_ARGS="$2"; shift 2 ;;
        --no-baselines) BASELINES=0; shift ;;
        *) echo "usage: $0 [--seconds S] [--mtu \"1500 9000\"] [--repeat N] [--perf] [--args ARGS] [--compare BIN] [--no-baselines]" >&2; exit 2 ;;
    esac
done
if [ "$(id -u)" != 0 ]; then
    echo "bench-tap: skipped: needs root (network namespaces and a TAP device)" >&2
    exit 0
fi
for tool in ip python3 curl timeout; do
    command -v "$tool" >/dev/null || { echo "bench-tap: $tool is missing" >&2; exit 1; }
done
RUN=""
for c in "../shared/baselines/run" "../../shared/baselines/run" "/work/shared/baselines/run"; do
    if [ -x "$c" ]; then RUN="$c"; break; fi
done

swift build -c release --product tcpip >&2 || exit 1
OURS="$(pwd)/.build/release/tcpip"

TAG="tapb-$$"
NS=""
SERVER_PID=""
WORK=$(mktemp -d /tmp/bench-tap.XXXXXX)
WWW=""
cleanup() {
    if [ -n "$SERVER_PID" ]; then kill -KILL "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null; fi
    if [ -n "$NS" ]; then
        for p in $(ip netns pids "$NS" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
        ip netns del "$NS" 2>/dev/null
    fi
    rm -rf "$WORK" "${WWW:-/nonexistent}"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# The file served: 4 GiB written to tmpfs (/dev/shm), so every read is a copy from the page
# cache. (A sparse file on disk made the kernel zero-fill a fresh page for every 4 KiB read:
# a third of the server's time went there.) curl's --max-time bounds each transfer.
WWW=$(mktemp -d /dev/shm/bench-tap-www.XXXXXX)
dd if=/dev/zero of="$WWW/big" bs=1M count=4096 status=none || { echo "cannot write $WWW/big" >&2; exit 1; }

# One namespace per measurement: TAP tap0 at 192.0.2.1/24 (kernel), our stack at 192.0.2.2.
ns_up() { # <mtu>
    NS="$TAG-$1-$RANDOM"
    ip netns add "$NS" || { echo "ip netns add failed" >&2; exit 1; }
    ip -n "$NS" link set lo up
    ip netns exec "$NS" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 2>/dev/null
    ip -n "$NS" tuntap add dev tap0 mode tap || { echo "cannot create TAP" >&2; exit 1; }
    ip -n "$NS" link set tap0 mtu "$1" up || { echo "cannot set MTU $1" >&2; exit 1; }
    ip -n "$NS" addr add 192.0.2.1/24 dev tap0
}
ns_down() {
    for p in $(ip netns pids "$NS" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
    ip netns del "$NS" 2>/dev/null
    NS=""
}
# start_server <binary> <mtu> <args...>: our server in the namespace, waits for its banner.
start_server() {
    local bin=$1 mtu=$2; shift 2
    : > "$WORK/server.log"
    ip netns exec "$NS" timeout $((SECS + 60)) "$bin" serve "$@" --tap tap0 --ip 192.0.2.2/24 --mtu "$mtu" \
        >"$WORK/server.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 100); do
        grep -q '^serving' "$WORK/server.log" && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.05
    done
    echo "server did not start: $(cat "$WORK/server.log")" >&2
    return 1
}
# stop_server: SIGTERM, wait (bounded), print its retransmit/drop counters on one line.
stop_server() {
    kill -TERM "$SERVER_PID" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
    SERVER_PID=""
    awk '/^retransmitted segments/{r=$3; gsub(/,/,"",r)} /^drops \(/{d=$2; gsub(/[():]/,"",d)} END{printf "retrans=%s drops=%s", r, d}' "$WORK/server.log"
}
perf_start() { # <out>
    PERF_PID=""
    [ "$PERF" = 1 ] && command -v perf >/dev/null || return 0
    # timeout -> (ip netns exec, which execs) tcpip: the innermost process is ours
    local pid=$SERVER_PID c
    for _ in 1 2 3; do c=$(pgrep -P "$pid" | head -1); [ -n "$c" ] && pid=$c || break; done
    perf record -F 1999 -g -p "$pid" -o "$1" -- sleep "$SECS" >/dev/null 2>&1 &
    PERF_PID=$!
}
perf_report() { # <out> <label>
    [ -n "${PERF_PID:-}" ] || return 0
    wait "$PERF_PID" 2>/dev/null
    local rep; rep=$(perf report -i "$1" --stdio --no-children --sort symbol 2>/dev/null | grep -E '^ +[0-9]' | sed -E 's/^ +//')
    echo "# perf: tcpip, $2: $(awk '/\[k\]/{k+=$1} /\[\.\]/{u+=$1} END{printf "kernel %.0f%%, user %.0f%% of samples", k, u}' <<<"$rep"); top symbols (self %):"
    head -12 <<<"$rep" | cut -c1-110
    echo "# perf: tcpip, $2: top user-space symbols (self %):"
    grep -F '[.]' <<<"$rep" | head -8 | cut -c1-110
}

# ours_rx <binary> <mtu> <label> [args]: kernel client -> serve discard
ours_rx() {
    local bin=$1 mtu=$2 label=$3; shift 3
    ns_up "$mtu"
    start_server "$bin" "$mtu" discard --port 5001 "$@" || { ns_down; return 1; }
    [ "$label" = ours ] && [ "$DO_PERF" = 1 ] && perf_start "$WORK/perf-rx.data"
    local out
    out=$(ip netns exec "$NS" timeout $((SECS + 30)) python3 - "$SECS" <<'EOF'
import socket, sys, time
secs = float(sys.argv[1])
buf = bytes(65536)
s = socket.create_connection(("192.0.2.2", 5001), timeout=30)
t0 = time.monotonic(); end = t0 + secs; n = 0
while time.monotonic() < end:
    n += s.send(buf)
s.shutdown(socket.SHUT_WR)
while s.recv(65536):   # discard closes once it has read everything: wait for its FIN
    pass
t = time.monotonic() - t0
print(f"bytes={n} seconds={t:.3f} gbit_s={n * 8 / t / 1e9:.2f}")
EOF
)
    local rc=$?
    [ "$label" = ours ] && [ "$DO_PERF" = 1 ] && perf_report "$WORK/perf-rx.data" "rx MTU $mtu"
    local counters; counters=$(stop_server)
    ns_down
    [ $rc = 0 ] || { echo "$label-tap-rx mtu=$mtu failed" | tee "$WORK/last"; return 1; }
    echo "$label-tap-rx mtu=$mtu $out $counters" | tee "$WORK/last"
}

# ours_tx <binary> <mtu> <label> [args]: serve http -> curl
ours_tx() {
    local bin=$1 mtu=$2 label=$3; shift 3
    ns_up "$mtu"
    start_server "$bin" "$mtu" http --port 8080 --root "$WWW" "$@" || { ns_down; return 1; }
    [ "$label" = ours ] && [ "$DO_PERF" = 1 ] && perf_start "$WORK/perf-tx.data"
    local out
    out=$(ip netns exec "$NS" curl -s -o /dev/null --max-time "$SECS" -w '%{size_download} %{time_total}' \
          http://192.0.2.2:8080/big)
    [ "$label" = ours ] && [ "$DO_PERF" = 1 ] && perf_report "$WORK/perf-tx.data" "tx MTU $mtu"
    local counters; counters=$(stop_server)
    ns_down
    local bytes=${out% *} t=${out#* }
    [ -n "$bytes" ] && [ "${bytes:-0}" -gt 0 ] || { echo "$label-tap-tx mtu=$mtu failed" | tee "$WORK/last"; return 1; }
    echo "$label-tap-tx mtu=$mtu bytes=$bytes seconds=$t gbit_s=$(awk -v b="$bytes" -v t="$t" 'BEGIN{printf "%.2f", b*8/t/1e9}') $counters" | tee "$WORK/last"
}

field() { awk -v k="$2" '{for(i=2;i<=NF;i++){split($i,a,"="); if(a[1]==k){print a[2]; exit}}}' <<<"$1"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a=="" || b=="" || b+0==0) print "n/a"; else printf "%.2f", a/b }'; }
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{v[NR]=$1} END{ if (NR==0) print ""; else if (NR%2) print v[(NR+1)/2]; else printf "%.2f\n", (v[NR/2]+v[NR/2+1])/2 }'; }
baseline() { # ARGS... -> one line (or "NAME unavailable")
    [ "$BASELINES" = 1 ] || return
    [ -n "$RUN" ] || { echo "$1 unavailable (baselines/run not found)"; return; }
    local l; l=$("$RUN" "$@" --seconds "$SECS" 2>/dev/null | tail -1)
    echo "${l:-$1 unavailable}"
}

declare -A VAL   # VAL[key] = space-separated gbit_s values over the repeats
add() { VAL[$1]="${VAL[$1]:-} $(field "$2" gbit_s)"; }

echo "# bench-tap $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD 2>/dev/null), ${SECS}s each, load $(cut -d' ' -f1-3 /proc/loadavg)"
[ -n "$EXTRA" ] && echo "# our options: $EXTRA"
[ -n "$BEFORE" ] && echo "# before: $BEFORE $BEFORE_ARGS"
FIRST_MTU=${MTUS%% *}
for r in $(seq "$REPEAT"); do
    for mtu in $MTUS; do
        DO_PERF=0; [ "$PERF" = 1 ] && [ "$r" = 1 ] && [ "$mtu" = "$FIRST_MTU" ] && DO_PERF=1
        for d in rx tx; do
            # shellcheck disable=SC2086
            : > "$WORK/last"; ours_$d "$OURS" "$mtu" ours $EXTRA; add "ours $d $mtu" "$(cat "$WORK/last")"
            if [ -n "$BEFORE" ]; then
                # shellcheck disable=SC2086
                : > "$WORK/last"; ours_$d "$BEFORE" "$mtu" before $BEFORE_ARGS; add "before $d $mtu" "$(cat "$WORK/last")"
            fi
        done
        [ "$BASELINES" = 1 ] || continue
        l=$(baseline tap-raw --mtu "$mtu" --direction read); echo "$l"; add "tap-raw rx $mtu" "$l"
        l=$(baseline tap-raw --mtu "$mtu" --direction write); echo "$l"; add "tap-raw tx $mtu" "$l"
        l=$(baseline kernel-bulk --mtu "$mtu" --offload off); echo "$l"; add "kernel-off $mtu" "$l"
        l=$(baseline kernel-bulk --mtu "$mtu" --offload on); echo "$l"; add "kernel-on $mtu" "$l"
        for d in rx tx; do
            l=$(baseline lwip-tap --direction "$d" --mtu "$mtu"); echo "$l"; add "lwip $d $mtu" "$l"
            l=$(baseline gvisor-tap --direction "$d" --mtu "$mtu"); echo "$l"; add "gvisor $d $mtu" "$l"
        done
    done
done

med() { median <<<"${VAL[$1]:-}"; }
# ratios per repeat (each against the references of the same repeat), then their median
ratios() { # <numerator key> <denominator keys...>: the median over repeats of num / max(denominators)
    local num=$1; shift
    local -a n; read -ra n <<<"${VAL[$num]:-}"
    local out="" i k best v
    for i in "${!n[@]}"; do
        best=""
        for k in "$@"; do
            local -a d; read -ra d <<<"${VAL[$k]:-}"
            v=${d[$i]:-}
            [ -n "$v" ] && { [ -z "$best" ] || awk -v a="$v" -v b="$best" 'BEGIN{exit !(a+0 > b+0)}'; } && best=$v
        done
        out="$out $(ratio "${n[$i]}" "$best")"
    done
    median <<<"$(tr ' ' '\n' <<<"$out" | grep -v '^n/a$' | tr '\n' ' ')"
}
echo "# summary (Gbit/s, median of $REPEAT runs; ratios = median over runs of ours / reference of the same run)"
printf '%-5s %-3s %7s %7s %7s %7s %7s %7s %7s %9s %9s %9s %9s %9s\n' mtu dir ours before tap-raw lwip gvisor k-off k-on "ours/best" "ours/raw" "ours/koff" "ours/kon" "ours/bef"
for mtu in $MTUS; do
    for d in rx tx; do
        printf '%-5s %-3s %7s %7s %7s %7s %7s %7s %7s %9s %9s %9s %9s %9s\n' "$mtu" "$d" \
            "$(med "ours $d $mtu")" "$(med "before $d $mtu")" "$(med "tap-raw $d $mtu")" "$(med "lwip $d $mtu")" \
            "$(med "gvisor $d $mtu")" "$(med "kernel-off $mtu")" "$(med "kernel-on $mtu")" \
            "$(ratios "ours $d $mtu" "lwip $d $mtu" "gvisor $d $mtu")" "$(ratios "ours $d $mtu" "tap-raw $d $mtu")" \
            "$(ratios "ours $d $mtu" "kernel-off $mtu")" "$(ratios "ours $d $mtu" "kernel-on $mtu")" \
            "$(ratios "ours $d $mtu" "before $d $mtu")"
    done
done
