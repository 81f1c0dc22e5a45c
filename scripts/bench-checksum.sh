#!/usr/bin/env bash
# Checksum and TCP header figures of swift-tcpip next to the C reference checksum and
# libc memcpy, all measured in this run (see shared/baselines/README.md: figures from
# another run or another day are not comparable on this machine).
#
# Usage: scripts/bench-checksum.sh [--repeat R] [--callgrind] [--compare BIN]
#   --repeat R     measure each figure R times, interleaved, and print the median (default 3)
#   --callgrind    also count instructions per 1500-byte checksum with valgrind (repeatable)
#   --compare BIN  also measure another checksum-bench binary (e.g. built from an older
#                  commit) in the same interleaved runs: a before/after column
#
# Prints a table: size, ours, C reference, memcpy (GB/s = 1e9 bytes/s), ours/C, ours/memcpy;
# then ns per TCP header parse / emit and per 1500-byte segment checksum verify.
set -euo pipefail

repeat=3
callgrind=0
compare=""
while [ $# -gt 0 ]; do
  case "$1" in
    --repeat) repeat="$2"; shift 2 ;;
    --callgrind) callgrind=1; shift ;;
    --compare) compare="$2"; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

here="$(cd "$(dirname "$0")" && pwd)"
root="$(git -C "$here" rev-parse --show-toplevel 2>/dev/null || (cd "$here/.." && pwd))"
baselines=""
for cand in "$root/../shared/baselines/run" "$(dirname "$(git -C "$here" rev-parse --path-format=absolute --git-common-dir 2>/dev/null || echo /nonexistent)")/../shared/baselines/run" /work/shared/baselines/run; do
  if [ -x "$cand" ]; then baselines="$cand"; break; fi
done
if [ -z "$baselines" ]; then echo "bench-checksum: shared/baselines/run not found" >&2; exit 1; fi

cd "$root"
echo "building checksum-bench (release)..." >&2
swift build -c release --product checksum-bench >&2
bin="$(swift build -c release --show-bin-path)/checksum-bench"

# value of key= in a "name key=value ..." line
field() { awk -v k="$1" '{for(i=2;i<=NF;i++){split($i,a,"="); if(a[1]==k) print a[2]}}'; }
median() { sort -g | awk '{v[NR]=$1} END{ if (NR==0) print "nan"; else if (NR%2) print v[(NR+1)/2]; else printf "%.2f\n", (v[NR/2]+v[NR/2+1])/2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b+0 > 0) printf "%.2f", a/b; else print "nan" }'; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
sizes="64 1500 65536"
for r in $(seq 1 "$repeat"); do
  for n in $sizes; do
    "$baselines" checksum --size "$n" 2>/dev/null | field gb_s >> "$tmp/c.$n"
    "$bin" --only checksum --sizes "$n" 2>/dev/null | field gb_s >> "$tmp/swift.$n"
    [ -n "$compare" ] && "$compare" --only checksum --sizes "$n" 2>/dev/null | field gb_s >> "$tmp/compare.$n"
    "$baselines" memcpy --size "$n" 2>/dev/null | field gb_s >> "$tmp/memcpy.$n"
  done
done
cc="$("$baselines" checksum --size 64 2>/dev/null | field compiler)"

echo "# $(date -u '+%Y-%m-%d %H:%M UTC')  $(git -C "$root" rev-parse --short HEAD)  median of $repeat, C reference: $cc -O3"
printf '%-8s %10s %10s %12s %8s %13s\n' size swift_gb_s c_gb_s memcpy_gb_s swift/c swift/memcpy
for n in $sizes; do
  s="$(median < "$tmp/swift.$n")"; c="$(median < "$tmp/c.$n")"; m="$(median < "$tmp/memcpy.$n")"
  printf '%-8s %10s %10s %12s %8s %13s\n' "$n" "$s" "$c" "$m" "$(ratio "$s" "$c")" "$(ratio "$s" "$m")"
done
if [ -n "$compare" ]; then
  echo
  echo "# compared binary: $compare"
  printf '%-8s %12s %10s %9s %9s\n' size compare_gb_s c_gb_s compare/c swift/compare
  for n in $sizes; do
    x="$(median < "$tmp/compare.$n")"; s="$(median < "$tmp/swift.$n")"; c="$(median < "$tmp/c.$n")"
    printf '%-8s %12s %10s %9s %9s\n' "$n" "$x" "$c" "$(ratio "$x" "$c")" "$(ratio "$s" "$x")"
  done
fi

echo
echo "# TCP header (ns per operation, best of 5 runs)"
"$bin" --only tcp 2>/dev/null
[ -n "$compare" ] && { echo "# compared binary:"; "$compare" --only tcp 2>/dev/null; }

if [ "$callgrind" = 1 ]; then
  command -v valgrind >/dev/null || { echo "valgrind not installed (apt-get install valgrind)" >&2; exit 1; }
  iters=1000
  valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" --toggle-collect=bench_checksum_loop \
    "$bin" --iterations "$iters" --sizes 1500 >/dev/null 2>"$tmp/cg.err" || { cat "$tmp/cg.err" >&2; exit 1; }
  ir="$(awk '/^summary:/{print $2}' "$tmp/cg.out")"
  echo
  echo "# callgrind, instructions per checksum of 1500 B"
  echo "swift: $(awk -v i="$ir" -v k="$iters" 'BEGIN{printf "%.1f", i/k}')  ($ir for $iters, in bench_checksum_loop, incl. the byte flip)"
  if [ -n "$compare" ]; then
    valgrind --tool=callgrind --callgrind-out-file="$tmp/cgx.out" --toggle-collect=bench_checksum_loop \
      "$compare" --iterations "$iters" --sizes 1500 >/dev/null 2>&1 || true
    irx="$(awk '/^summary:/{print $2}' "$tmp/cgx.out" 2>/dev/null)"
    echo "compared binary: $(awk -v i="${irx:-0}" -v k="$iters" 'BEGIN{printf "%.1f", i/k}')"
  fi
  # The C reference binary (built by the baselines run above): its run length is timed, so take
  # two runs and divide the difference in instructions by the difference in calls.
  cbin="$(ls -t "${BASELINES_CACHE:-/tmp/baselines-cache}"/mem-clang-* 2>/dev/null | head -1 || true)"
  if [ -n "$cbin" ]; then
    for s in 0.1 0.3; do
      valgrind --tool=callgrind --callgrind-out-file="$tmp/cgc.$s" --toggle-collect=csum_acc64 "$cbin" checksum 1500 "$s" >/dev/null 2>&1
      echo "$(awk '/^summary:/{print $2}' "$tmp/cgc.$s") $(grep -o '^calls=[0-9]*' "$tmp/cgc.$s" | cut -d= -f2 | sort -n | tail -1)"
    done > "$tmp/cgc"
    echo "C reference: $(awk 'NR==1{i=$1;c=$2} NR==2{printf "%.1f", ($1-i)/($2-c)}' "$tmp/cgc")  (csum_acc64, $(basename "$cbin"))"
  fi
fi
