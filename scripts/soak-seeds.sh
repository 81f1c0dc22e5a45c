#!/usr/bin/env bash
# Seeded simulation soak: SEEDS (default 1000) runs of two hosts over a faulty
# in-memory link, each moving 1 MB both ways at once and closing, in a release build.
# Failing seeds are printed; replay one alone with: SEED=<n> scripts/soak-seeds.sh
set -uo pipefail
cd "$(dirname "$0")/.."
export SEEDS="${SEEDS:-1000}"
start=$(date +%s)
swift build -c release --build-tests -Xswiftc -enable-testing >&2 || exit 1
built=$(date +%s)
log=$(mktemp)
swift test -c release -Xswiftc -enable-testing --skip-build \
    --filter 'SimulationSeededRunTests/seededFaultyRunsDeliverEveryByteInOrderAndClose' >"$log" 2>&1
status=$?
grep -E '↳ seed |failing seeds|passed after|failed after|error:' "$log" | sort -u
rm -f "$log"
echo "soak: ${SEED:+seed $SEED}${SEED:-$SEEDS seeds}: runs took $(( $(date +%s) - built )) s (build $(( built - start )) s), exit $status"
exit "$status"
