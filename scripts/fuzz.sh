#!/usr/bin/env bash
# Builds and runs the libFuzzer targets of fuzz/targets/ (one per parser, and the connection).
#
# Usage: scripts/fuzz.sh [seconds=60] [target...]
#   targets: ethernet arp ipv4 icmp udp tcp pcap pcapng connection (default: all)
#
# Each target is the core sources (Sources/TCPIP/**/*.swift) + fuzz/FuzzSupport.swift +
# fuzz/targets/<target>.swift compiled with `swiftc -sanitize=fuzzer,address` into
# fuzz/bin/<target> (rebuilt when a source is newer). It runs for the given seconds,
# seeded from fuzz/corpus/<target>/ (left untouched), new inputs going to a temp dir.
# Crashing inputs are kept in fuzz/out/ (git-ignored) and printed in hex.
# Exits non-zero if a target fails to build or crashes (trap, sanitizer report,
# broken invariant, timeout or out-of-memory).
set -uo pipefail

seconds="${1:-60}"
[ $# -gt 0 ] && shift
all_targets="ethernet arp ipv4 icmp udp tcp pcap pcapng connection"
targets="${*:-$all_targets}"
case "$seconds" in ''|*[!0-9]*) echo "usage: scripts/fuzz.sh [seconds] [target...]" >&2; exit 2 ;; esac

here="$(cd "$(dirname "$0")" && pwd)"
root="$(git -C "$here" rev-parse --show-toplevel 2>/dev/null || (cd "$here/.." && pwd))"
cd "$root"
mkdir -p fuzz/bin fuzz/out
export SWIFT_BACKTRACE=enable=no
core=$(find Sources/TCPIP -name '*.swift' | sort)

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

build() {  # target -> 0 when fuzz/bin/<target> is up to date
  local t="$1" bin="fuzz/bin/$1" src="fuzz/targets/$1.swift"
  [ -f "$src" ] || { echo "no such target: $t ($src)" >&2; return 1; }
  if [ -x "$bin" ] && [ -z "$(find $core fuzz/FuzzSupport.swift "$src" -newer "$bin" 2>/dev/null | head -1)" ]; then
    return 0
  fi
  echo "building $bin" >&2
  # ld.gold's "Cannot export local symbol '__asan_..." warnings are harmless noise.
  if ! swiftc -swift-version 6 -O -g -sanitize=fuzzer,address -parse-as-library -module-name "fuzz_$t" \
        $core fuzz/FuzzSupport.swift "$src" -o "$bin" 2> "$work/$t.build"; then
    grep -v 'Cannot export local symbol' "$work/$t.build" >&2
    return 1
  fi
  grep -v 'Cannot export local symbol' "$work/$t.build" | grep -E 'error|warning' >&2 || true
}

failed=0
summary=""
for t in $targets; do
  if ! build "$t"; then
    summary+=$(printf '%-9s %s' "$t" "BUILD FAILED")$'\n'; failed=1; continue
  fi
  mkdir -p "$work/new-$t"
  echo "fuzzing $t for ${seconds}s" >&2
  "fuzz/bin/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="fuzz/out/$t-" "$work/new-$t" "fuzz/corpus/$t" > "$work/$t.log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t.log" | tail -1)
  rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$work/$t.log" | tail -1)
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$work/$t.log" | tail -1)
  units=$(ls "$work/new-$t" | wc -l)
  if [ "$rc" -eq 0 ]; then
    result="ok"
  else
    result="CRASH (exit $rc)"; failed=1
    echo "---- $t: libFuzzer exit $rc; log tail:" >&2
    grep -vE '^#[0-9]+.*(NEW|REDUCE|pulse)' "$work/$t.log" | tail -40 >&2
    for a in $(grep -oE "fuzz/out/$t-[a-z]+-[0-9a-f]+" "$work/$t.log" | sort -u); do
      echo "---- $t: crashing input $a (hex):" >&2
      od -An -v -tx1 "$a" | tr -d ' \n' | fold -w 120 >&2; echo >&2
    done
  fi
  summary+=$(printf '%-9s %-14s %12s %-22s %8s %10s' "$t" "$result" "${execs:-?}" "${cov:-?}" "$units" "${rss:-?}")$'\n'
done

echo
printf '%-9s %-14s %12s %-22s %8s %10s\n' target result execs coverage new_units rss_mb
printf '%s' "$summary"
echo "($seconds s per target, $(date -u '+%Y-%m-%d %H:%M UTC'), $(git rev-parse --short HEAD 2>/dev/null))"
exit "$failed"
