#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Benchmarks of oci-assemble against crane and regctl on local registries.
#
#   bench/run.sh [--reps N] [--big] [layer|join|noop|all]
#
# layer  pushes a seeded 256 MiB tree as one layer (gzip, zstd) against
#        tar + crane append and the tar | sha256sum floor; --big adds the
#        peak-RSS runs on a 2 GiB tree (slow).
# join   joins 8 per-platform images from registry A into an annotated
#        index on registry B under 2 tags, against regctl and crane, and
#        counts the requests against the spec's minimum.
# noop   runs the same join again on a target that already has it.
#
# Environment: BENCH_REPS (5), BENCH_BIG (0), BENCH_BIG_REPS (1), BENCH_PIGZ (0),
# BENCH_REGISTRY (v3: distribution v3; v2: Debian's docker-registry 2.8),
# BENCH_LATENCY (0; e.g. 20ms: timed join and noop runs go through proxies
# holding each request that long), BENCH_KEEP (1 keeps the work directory),
# BENCH_TMPDIR, BENCH_RESULTS (file to copy the raw measurements to).
# See bench/README.md.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$BENCH_DIR/.." && pwd)"
# shellcheck source=lib.sh
. "$BENCH_DIR/lib.sh"
# shellcheck source=layer.sh
. "$BENCH_DIR/layer.sh"
# shellcheck source=join.sh
. "$BENCH_DIR/join.sh"

REPS="${BENCH_REPS:-5}"
BIG="${BENCH_BIG:-0}"
what=()
while [ $# -gt 0 ]; do
  case "$1" in
    --reps) REPS="$2"; shift 2 ;;
    --reps=*) REPS="${1#*=}"; shift ;;
    --big) BIG=1; shift ;;
    layer|join|noop|all) what+=("$1"); shift ;;
    -h|--help) sed -n '3,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument $1 (try --help)" ;;
  esac
done
[ ${#what[@]} -gt 0 ] || what=(all)
[[ "$REPS" =~ ^[1-9][0-9]*$ ]] || die "--reps $REPS: want a positive number"

setup_work
setup_tools
echo "## Tools"
tool_versions
echo "- registry flavour: ${BENCH_REGISTRY:-v3}; runs per tool: $REPS"
echo

for w in "${what[@]}"; do
  case "$w" in
    layer) bench_layer ;;
    join) bench_join ;;
    noop) bench_noop ;;
    all) bench_layer; bench_join; bench_noop ;;
  esac
done

if [ -n "${BENCH_RESULTS:-}" ]; then
  cp "$RESULTS" "$BENCH_RESULTS"
  log "bench: raw measurements in $BENCH_RESULTS"
fi
