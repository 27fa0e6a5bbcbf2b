# shellcheck shell=bash
# Layer push benchmark. Sourced by run.sh.
#
# One seeded tree (half random, half text), pushed as one gzip layer onto
# scratch to a registry started empty for every push, by:
#   oci-assemble  layer mode: --base scratch --layers '- files: [TREE/:/data/]'
#                 (its default gzip level)
#   tar+crane     tar -cf layer.tar; crane append -f layer.tar: crane
#                 compresses the tar itself, at its default level (gzip 1)
#   floor         tar -cf - | sha256sum: reading the tree and hashing it once

# layer_mode_available: whether this oci-assemble has the --layers input.
layer_mode_available() {
  # grep reads the whole help: with -q it would stop at the match, and the
  # help's writer, killed by SIGPIPE, would fail the pipeline (pipefail).
  "$OA" --help 2>&1 | grep -E '^[[:space:]]*--?layers([[:space:]=]|$)' >/dev/null
}

bench_layer() {
  echo "## Layer push"
  echo
  if ! layer_mode_available; then
    echo "SKIPPED: this oci-assemble has no --layers input"
    echo
    return 0
  fi
  start_registry L
  # shellcheck disable=SC2153 # REPS is run.sh's
  layer_size 256MiB $((256 << 20)) 2000 "$REPS" counts
  if [ "$BIG" = 1 ]; then
    layer_size 2GiB $((2 << 30)) "${BENCH_BIG_FILES:-16000}" "${BENCH_BIG_REPS:-1}"
  fi
}

# record_size TOOL REF FILE: appends TOOL and the size of REF's layers (its
# linux/amd64 image's, summed) to FILE.
record_size() {
  local size
  size="$(layer_bytes "$2")"
  printf '%s\t%s\n' "$1" "$size" >>"$3"
}

# layer_bytes REF: the sum of the sizes of REF's layers (linux/amd64).
layer_bytes() {
  local m
  m="$(in_env "$CRANE" manifest --insecure "$1" 2>/dev/null)" || return 0
  if grep -q '"manifests"' <<<"$m"; then
    m="$(in_env "$CRANE" manifest --insecure --platform linux/amd64 "$1" 2>/dev/null)" || return 0
  fi
  # The config is the first size, then one per layer.
  json_sizes <<<"$m" | tail -n +2 | awk '{s += $1} END {print s}'
}

# print_sizes FILE: the sizes recorded by record_size, as a list.
print_sizes() {
  local tool size
  while IFS=$'\t' read -r tool size; do
    if [ -n "$size" ]; then
      echo "- $tool: $size bytes"
    else
      echo "- $tool: unknown (its manifest could not be read back)"
    fi
  done <"$1"
}

# layer_size LABEL BYTES FILES REPS [counts]
layer_size() {
  local label=$1 bytes=$2 files=$3 reps=$4 counts=${5:-}
  local tree="$WORK/tree-$label" rep
  log "bench: layer $label: generating $files files"
  "$BENCHTOOL" gentree -dir "$tree" -bytes "$bytes" -files "$files" -seed 1 >&2
  # Read it once so no tool pays for a cold page cache.
  tar -C "$tree" -cf - . | sha256sum >/dev/null
  local spec g="layer-$label" ref
  spec="$(printf -- '- files:\n    - %s/:/data/\n' "$tree")"
  local sizes="$WORK/layer-sizes-$label.tsv"
  : >"$sizes"
  for rep in $(seq "$reps"); do
    restart_registry L
    measure_registries "$REGPID_L"
    ref="$REG_L/layer-${label,,}-oa-$rep:bench"
    measure "$g" "oci-assemble" "$rep" "${ENV_CMD[@]}" "$OA" \
      --base scratch --platforms linux/amd64 --layers "$spec" \
      --tags "$ref" --insecure-registries "$REG_L"
    if [ "$rep" = 1 ]; then record_size "oci-assemble" "$ref" "$sizes"; fi
    restart_registry L
    measure_registries "$REGPID_L"
    ref="$REG_L/layer-${label,,}-crane-$rep:bench"
    # shellcheck disable=SC2016 # expanded by the inner shell
    measure "$g" "tar+crane" "$rep" "${ENV_CMD[@]}" bash -c \
      'set -eo pipefail; tar -C "$1" -cf "$2" .; "$3" append --oci-empty-base --insecure -f "$2" -t "$4"' \
      _ "$tree" "$WORK/layer.tar" "$CRANE" "$ref"
    if [ "$rep" = 1 ]; then record_size "tar+crane" "$ref" "$sizes"; fi
    rm -f "$WORK/layer.tar"
    # shellcheck disable=SC2016
    measure "$g" "floor: tar to sha256sum" "$rep" bash -c \
      'set -eo pipefail; tar -C "$1" -cf - . | sha256sum >/dev/null' _ "$tree"
  done
  if [ -n "$counts" ]; then
    layer_counts "$tree" "$spec" >"$WORK/layer-counts.md"
  fi
  rm -rf "$tree"

  echo "### $label tree ($files files, half random), $reps run(s) per tool, alternating; load $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  echo "gzip (target: ≤ 0.60 × tar+crane, peak RSS ≤ 128 MiB):"
  echo
  "$BENCHTOOL" summary -in "$RESULTS" -group "$g" -baseline "tar+crane" \
    -target "oci-assemble=0.60" -rss-target "oci-assemble=128"
  echo
  echo "Compressed layer sizes (target: within 2 % of crane's or smaller):"
  echo
  print_sizes "$sizes"
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
          --tags "$ref" --insecure-registries "$PROXY_L" >"$lg" 2>&1 ;;
      crane)
        { tar -C "$tree" -cf "$WORK/layer.tar" . &&
          in_env "$CRANE" append --oci-empty-base --insecure -f "$WORK/layer.tar" -t "$ref"; } >"$lg" 2>&1 ;;
    esac || { tail -20 "$lg" >&2; die "$t (layer, counted) failed"; }
    proxy_stats "" "$PROXY_L" | sed 's/^ //' >"$WORK/counts/layer-$t.tsv"
    stop_pid "$PROXYPID_L"
    rm -f "$WORK/layer.tar"
  done
  echo "Requests per push (one run through a counting proxy):"
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
