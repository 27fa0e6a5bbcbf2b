# shellcheck shell=bash
# Layer push benchmark. Sourced by run.sh.
#
# One seeded tree (half random, half text), pushed as one layer onto scratch
# to a local registry by:
#   oci-assemble  layer mode: --base scratch --layers '- files: [TREE/:/data/]'
#   tar+crane     tar -cf - | gzip -6 (or zstd -3) > layer.tar.*; crane append
#                 (the same compression levels as oci-assemble's defaults,
#                 the CLIs' defaults, single-threaded as the CLIs are)
#   floor         tar -cf - | sha256sum: reading the tree and hashing it once
#   tar+pigz+crane  with BENCH_PIGZ=1: the gzip baseline with parallel pigz -6
# Each run pushes to a repository of its own, so nothing is skipped as
# already present.

# layer_mode_available: whether this oci-assemble has the --layers input.
layer_mode_available() {
  "$OA" --help 2>&1 | grep -qE '^[[:space:]]*--?layers([[:space:]=]|$)'
}

bench_layer() {
  echo "## Layer push"
  echo
  if ! layer_mode_available; then
    echo "SKIPPED: this oci-assemble has no --layers input yet"
    echo "(\`go run ./cmd/action --help | grep -- -layers\` finds nothing); the benchmark runs once layer mode lands."
    echo
    log "bench: layer: SKIPPED, oci-assemble has no --layers input yet"
    return 0
  fi
  if [ "${BENCH_PIGZ:-0}" = 1 ] && ! command -v pigz >/dev/null; then
    apt_install pigz
  fi
  start_registry L
  # shellcheck disable=SC2153 # REPS is run.sh's
  layer_size 256MiB $((256 << 20)) 2000 "$REPS" counts
  if [ "$BIG" = 1 ]; then
    layer_size 2GiB $((2 << 30)) "${BENCH_BIG_FILES:-16000}" "${BENCH_BIG_REPS:-1}"
  fi
}

# record_size TOOL REF FILE: appends TOOL and the size of REF's layer (its
# linux/amd64 image's last layer) to FILE.
record_size() {
  local size
  size="$(in_env "$CRANE" manifest --insecure --platform linux/amd64 "$2" 2>/dev/null | json_sizes | tail -1)"
  printf '%s\t%s\n' "$1" "$size" >>"$3"
}

# layer_size LABEL BYTES FILES REPS [counts]
layer_size() {
  local label=$1 bytes=$2 files=$3 reps=$4 counts=${5:-}
  local tree="$WORK/tree-$label" rep comp
  log "bench: layer $label: generating $files files"
  "$BENCHTOOL" gentree -dir "$tree" -bytes "$bytes" -files "$files" -seed 1 >&2
  # Read it once so no tool pays for a cold page cache.
  tar -C "$tree" -cf - . | sha256sum >/dev/null
  local spec
  spec="$(printf -- '- files:\n    - %s/:/data/\n' "$tree")"
  local sizes="$WORK/layer-sizes-$label.tsv"
  : >"$sizes"
  for rep in $(seq "$reps"); do
    for comp in gzip zstd; do
      local g="layer-$label-$comp" ext cmd
      case $comp in
        gzip) ext=gz cmd="gzip -6" ;;
        zstd) ext=zst cmd="zstd -3 -q -c" ;;
      esac
      local file="$WORK/layer.tar.$ext" ref
      restart_registry L
      measure_registries "$REGPID_L"
      ref="$REG_L/layer-${label,,}-oa-$comp-$rep:bench"
      sync
      measure "$g" "oci-assemble $comp" "$rep" "${ENV_CMD[@]}" "$OA" \
        --base scratch --platforms linux/amd64 --layers "$spec" \
        --compression "$comp" --tags "$ref" --insecure-registries "$REG_L"
      if [ "$rep" = 1 ]; then record_size "oci-assemble $comp" "$ref" "$sizes"; fi
      restart_registry L
      measure_registries "$REGPID_L"
      ref="$REG_L/layer-${label,,}-crane-$comp-$rep:bench"
      sync
      # shellcheck disable=SC2016 # expanded by the inner shell
      measure "$g" "tar+crane $comp" "$rep" "${ENV_CMD[@]}" bash -c \
        'set -eo pipefail; tar -C "$1" -cf - . | $2 >"$3"; "$4" append --oci-empty-base --insecure -f "$3" -t "$5"' \
        _ "$tree" "$cmd" "$file" "$CRANE" "$ref"
      if [ "$rep" = 1 ]; then record_size "tar+crane $comp" "$ref" "$sizes"; fi
      if [ "$comp" = gzip ] && [ "${BENCH_PIGZ:-0}" = 1 ]; then
        restart_registry L
        measure_registries "$REGPID_L"
        ref="$REG_L/layer-${label,,}-pigz-$rep:bench"
        sync
        # shellcheck disable=SC2016
        measure "$g" "tar+pigz+crane gzip" "$rep" "${ENV_CMD[@]}" bash -c \
          'set -eo pipefail; tar -C "$1" -cf - . | pigz -6 >"$2"; "$3" append --oci-empty-base --insecure -f "$2" -t "$4"' \
          _ "$tree" "$file" "$CRANE" "$ref"
        if [ "$rep" = 1 ]; then record_size "tar+pigz+crane gzip" "$ref" "$sizes"; fi
      fi
      sync
      # shellcheck disable=SC2016
      measure "$g" "floor: tar to sha256sum" "$rep" bash -c \
        'set -eo pipefail; tar -C "$1" -cf - . | sha256sum >/dev/null' _ "$tree"
      rm -f "$file"
    done
  done
  if [ -n "$counts" ]; then
    layer_counts "$tree" "$spec" >"$WORK/layer-counts.md"
  fi
  rm -rf "$tree"

  local mib=$((bytes >> 20))
  echo "### $label tree ($files files, half random), $reps run(s) per tool, ABAB"
  echo
  for comp in gzip zstd; do
    local ratio=0.60
    [ "$comp" = zstd ] && ratio=0.35
    echo "$comp (target: ≤ $ratio × tar+crane, peak RSS ≤ 128 MiB):"
    echo
    "$BENCHTOOL" summary -in "$RESULTS" -group "layer-$label-$comp" -baseline "tar+crane $comp" \
      -target "oci-assemble $comp=$ratio" -rss-target "oci-assemble $comp=128"
    echo
  done
  echo "Compressed layer sizes ($mib MiB of files):"
  echo
  while IFS=$'\t' read -r tool size; do
    if [ -n "$size" ]; then
      echo "- $tool: $size bytes ($((size >> 20)) MiB)"
    else
      echo "- $tool: unknown (its manifest could not be read back)"
    fi
  done <"$sizes"
  echo
  if [ -n "$counts" ]; then
    cat "$WORK/layer-counts.md"
  fi
}

# layer_counts TREE SPEC: one zstd push per tool through a counting proxy;
# prints the table and the minimum.
layer_counts() {
  local tree=$1 spec=$2 t
  for t in oci-assemble crane; do
    restart_registry L
    start_proxy L "$REG_L"
    local ref="$PROXY_L/layer-count-$t:bench" lg="$WORK/logs/layer-count-$t.log"
    case $t in
      oci-assemble)
        in_env "$OA" --base scratch --platforms linux/amd64 --layers "$spec" \
          --compression zstd --tags "$ref" --insecure-registries "$PROXY_L" >"$lg" 2>&1 ;;
      crane)
        { tar -C "$tree" -cf - . | zstd -3 -q -c >"$WORK/layer.tar.zst" &&
          in_env "$CRANE" append --oci-empty-base --insecure -f "$WORK/layer.tar.zst" -t "$ref"; } >"$lg" 2>&1 ;;
    esac || { tail -20 "$lg" >&2; die "$t (layer, counted) failed"; }
    proxy_stats "" "$PROXY_L" | sed 's/^ //' >"$WORK/counts/layer-$t.tsv"
    stop_pid "$PROXYPID_L"
    rm -f "$WORK/layer.tar.zst"
  done
  echo "Requests per push (zstd, one run through a counting proxy):"
  echo
  "$BENCHTOOL" counts "oci-assemble=$WORK/counts/layer-oci-assemble.tsv" "crane=$WORK/counts/layer-crane.tsv"
  echo
  cat <<EOF
Minimum: the layer's digest is known only once it is compressed, so a client that compresses once
and keeps no copy sends the body before it knows the digest: \`POST\`, \`PATCH\` with the body, then
\`PUT ?digest=\` = 3 (a client that compresses to a file first can send \`POST\` + \`PUT ?digest=\` with
the body, 2, after reading the layer twice). The config's digest is known: \`POST\` + \`PUT\` with the
body = 2 (the spec's optional single \`POST ?digest=\` is answered 202 and dropped by distribution 2.8
and v3). The image manifest PUT by tag = 1: **6 requests** for an image streamed once, 5 for one read
twice, as crane does. oci-assemble publishes an index (\`--platforms\`), which adds the index PUT by
tag: **7 requests**. No ping, HEAD or read-back is required.

EOF
}
