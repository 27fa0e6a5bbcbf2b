#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Benchmarks of oci-assemble against crane and regctl on local registries.
#
#   bench/run.sh [--reps N] [--big] [layer|nix|release|many|join|noop|sign|all]
#
# layer  pushes a seeded 256 MiB tree as one gzip layer against
#        tar -cf + crane append -f and the tar | sha256sum floor; --big adds
#        a 2 GiB tree (slow).
# nix    pushes a 256 MiB docker archive of 4 uncompressed layers, plain and
#        gzipped, against skopeo copy and crane push.
# release  pushes the next release (1 of 4 layers changed) onto the tag
#        holding the previous one: archive against skopeo, layer mode
#        against tar + crane append.
# many   250,000 small files in one layer: peak RSS.
# join   joins 8 per-platform images from registry A into an annotated
#        index on registry B under 2 tags, against regctl and crane, and
#        counts the requests against the spec's minimum.
# noop   runs the same join again on a target that already has it.
# sign   the join signed (key; with provenance) against the join alone and
#        the join followed by cosign sign --recursive.
#
# Environment: BENCH_REPS (5), BENCH_BIG (0), BENCH_BIG_REPS (1), BENCH_MANY_FILES
# (250000), BENCH_MANY_REPS (3), BENCH_STORAGE (/var/tmp: registry storage),
# BENCH_REGISTRY (v3: distribution v3; v2: Debian's docker-registry 2.8),
# BENCH_LATENCY (0; e.g. 20ms: timed join and noop runs go through proxies
# holding each request that long), BENCH_KEEP (1 keeps the work directory),
# BENCH_TMPDIR, BENCH_RESULTS (file to copy the raw measurements to),
# BENCH_WATCH_REPS (5: join runs per tool under benchtool cpuwatch),
# BENCH_RELEASE_BIN (where crane and regctl are built as released).
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
# shellcheck source=nix.sh
. "$BENCH_DIR/nix.sh"
# shellcheck source=sign.sh
. "$BENCH_DIR/sign.sh"

REPS="${BENCH_REPS:-5}"
BIG="${BENCH_BIG:-0}"
what=()
while [ $# -gt 0 ]; do
  case "$1" in
    --reps) REPS="$2"; shift 2 ;;
    --reps=*) REPS="${1#*=}"; shift ;;
    --big) BIG=1; shift ;;
    layer|nix|release|many|join|noop|sign|all) what+=("$1"); shift ;;
    -h|--help) sed -n '3,28p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
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
    sign) bench_sign ;;
    nix) bench_nix ;;
    release) bench_release ;;
    many) bench_many ;;
    all) bench_layer; bench_nix; bench_release; bench_many; bench_join; bench_noop ;;
  esac
done

if [ -n "${BENCH_RESULTS:-}" ]; then
  cp "$RESULTS" "$BENCH_RESULTS"
  log "bench: raw measurements in $BENCH_RESULTS"
fi
