# shellcheck shell=bash
# Archive and next-release benchmarks. Sourced by run.sh.
#
# nix      a docker archive of 4 uncompressed layers (the format nix's
#          streamLayeredImage writes), 256 MiB, plain and gzipped, pushed
#          to a registry started empty for every push by
#            oci-assemble  --images docker-archive:FILE --tags REG/nix:bench
#            skopeo        copy docker-archive:FILE docker://REG/nix:bench
#                          (empty blob-info cache)
#            crane         push FILE REG/nix:bench
#          (skopeo 1.9 and crane read only uncompressed archives: for the
#          gzipped one, gunzip -c first, inside the timed run)
# release  the target tag already holds last release's image, pushed by the
#          same tool; the new release changes 1 of its 4 layers:
#            archive: oci-assemble against skopeo (empty blob-info cache)
#            layer mode (4 layers of files): oci-assemble against
#            tar -cf per layer + crane append -f ... (crane keeps no state
#            either, so it compresses and uploads all 4)

NIX_TOOLS=(oci-assemble skopeo crane)

# nix_inputs: the 256 MiB tree, its archives, and the next release's.
nix_inputs() {
  [ -n "${NIX_TREE:-}" ] && return 0
  NIX_TREE="$WORK/nix-tree"
  log "bench: nix: generating the tree and archives"
  "$BENCHTOOL" gentree -dir "$NIX_TREE" -bytes $((256 << 20)) -files 2000 -seed 1 >&2
  # The next release: the last layer's directories replaced by new ones
  # of the same size (a quarter of the tree).
  "$BENCHTOOL" gentree -dir "$WORK/nix-new" -bytes $((64 << 20)) -files 500 -seed 2 >&2
  "$BENCHTOOL" mkarchive -tree "$NIX_TREE" -layers 4 -out "$WORK/nix.tar" >&2
  "$BENCHTOOL" mkarchive -tree "$NIX_TREE" -layers 4 -out "$WORK/nix.tar.gz" -gzip >&2
  "$BENCHTOOL" mkarchive -tree "$NIX_TREE" -layers 4 -replace "$WORK/nix-new" -out "$WORK/nix-next.tar" >&2
  cat "$WORK"/nix*.tar* >/dev/null
}

# archive_push TOOL FILE REF: one push of a docker archive. skopeo 1.9 and
# crane read only uncompressed archives: a gzipped one is decompressed
# first, as their users must.
archive_push() {
  local tool=$1 file=$2 ref=$3 host=${3%%/*} plain=$2 rc
  if [ "$tool" != oci-assemble ] && [[ "$file" == *.gz ]]; then
    plain="${file%.gz}.$tool"
    gunzip -c "$file" >"$plain" || return 1
  fi
  case $tool in
    oci-assemble) "${ENV_CMD[@]}" "$OA" --images "docker-archive:$file" --tags "$ref" --insecure-registries "$host" ;;
    skopeo) "${ENV_CMD[@]}" "${SKOPEO[@]}" copy --dest-tls-verify=false "docker-archive:$plain" "docker://$ref" ;;
    crane) "${ENV_CMD[@]}" "$CRANE" push --insecure "$plain" "$ref" ;;
  esac
  rc=$?
  [ "$plain" = "$file" ] || rm -f "$plain"
  return $rc
}

bench_nix() {
  nix_inputs
  start_registry N
  local rep tool kind file sizes="$WORK/nix-sizes.tsv"
  : >"$sizes"
  for rep in $(seq "$REPS"); do
    for kind in plain gzip; do
      file="$WORK/nix.tar"
      [ "$kind" = gzip ] && file="$WORK/nix.tar.gz"
      for tool in "${NIX_TOOLS[@]}"; do
        restart_registry N
        measure_registries "$REGPID_N"
        local ref="$REG_N/nix-$rep:bench"
        # archive_push is a function: measure runs it through bash.
        measure "nix-$kind" "$tool" "$rep" bash -c "$(declare -f archive_push); $(declare -p ENV_CMD SKOPEO OA CRANE); archive_push \"\$@\"" _ "$tool" "$file" "$ref"
        if [ "$rep" = 1 ]; then record_size "$tool ($kind archive)" "$ref" "$sizes"; fi
      done
    done
  done
  echo "## nix archive: 4 uncompressed layers, 256 MiB ($(stat -c %s "$WORK/nix.tar") bytes; gzipped $(stat -c %s "$WORK/nix.tar.gz"))"
  echo
  echo "$REPS run(s) per tool, alternating; load $(cut -d' ' -f1-3 /proc/loadavg). Target: ≤ 0.60 × the faster of skopeo and crane."
  echo
  for kind in plain gzip; do
    echo "$kind archive:"
    echo
    "$BENCHTOOL" summary -in "$RESULTS" -group "nix-$kind" -baseline skopeo -rss-target "oci-assemble=128"
    echo
  done
  echo "Pushed layer bytes:"
  echo
  print_sizes "$sizes"
  echo
}

# release_layers_spec TREE LAST: 4 layers of the tree's 20 top-level
# directories, 5 each; LAST, when given, is the last layer's tree instead.
release_layers_spec() {
  local tree=$1 last=${2:-} i d
  for i in 0 1 2 3; do
    echo "- files:"
    if [ "$i" = 3 ] && [ -n "$last" ]; then
      echo "    - $last/:/data/"
      continue
    fi
    for d in $(seq $((i * 5)) $((i * 5 + 4))); do
      printf '    - %s/d%02d/:/data/d%02d/\n' "$tree" "$d" "$d"
    done
  done
}

# release_crane TREE LAST REF: tar each layer, then crane append them all.
release_crane() {
  local tree=$1 last=$2 ref=$3 i d args=()
  for i in 0 1 2 3; do
    local t="$WORK/rel-$i.tar"
    if [ "$i" = 3 ] && [ -n "$last" ]; then
      tar -C "$last" -cf "$t" --transform 's,^\./,data/,' . || return 1
    else
      local dirs=()
      for d in $(seq $((i * 5)) $((i * 5 + 4))); do dirs+=("$(printf 'd%02d' "$d")"); done
      tar -C "$tree" -cf "$t" --transform 's,^,data/,' "${dirs[@]}" || return 1
    fi
    args+=(-f "$t")
  done
  "${ENV_CMD[@]}" "$CRANE" append --oci-empty-base --insecure "${args[@]}" -t "$ref"
  rm -f "$WORK"/rel-*.tar
}

bench_release() {
  nix_inputs
  start_registry R
  local rep tool ref prev next
  prev="$(release_layers_spec "$NIX_TREE")"
  next="$(release_layers_spec "$NIX_TREE" "$WORK/nix-new")"
  for rep in $(seq "$REPS"); do
    for tool in oci-assemble skopeo; do
      restart_registry R
      ref="$REG_R/rel:latest"
      archive_push "$tool" "$WORK/nix.tar" "$ref" >"$WORK/logs/release-prev-$tool-$rep.log" 2>&1 || die "$tool: pushing the previous release failed"
      measure_registries "$REGPID_R"
      measure "release-archive" "$tool" "$rep" bash -c "$(declare -f archive_push); $(declare -p ENV_CMD SKOPEO OA CRANE); archive_push \"\$@\"" _ "$tool" "$WORK/nix-next.tar" "$ref"
    done
    for tool in oci-assemble tar+crane; do
      restart_registry R
      ref="$REG_R/rel:latest"
      if [ "$tool" = oci-assemble ]; then
        "${ENV_CMD[@]}" "$OA" --base scratch --platforms linux/amd64 --layers "$prev" --tags "$ref" --insecure-registries "$REG_R" >"$WORK/logs/release-prev-oa-$rep.log" 2>&1 || die "oci-assemble: previous release failed"
        measure_registries "$REGPID_R"
        measure "release-layers" "$tool" "$rep" "${ENV_CMD[@]}" "$OA" --base scratch --platforms linux/amd64 \
          --layers "$next" --tags "$ref" --insecure-registries "$REG_R"
      else
        release_crane "$NIX_TREE" "" "$ref" >"$WORK/logs/release-prev-crane-$rep.log" 2>&1 || die "crane: previous release failed"
        measure_registries "$REGPID_R"
        measure "release-layers" "$tool" "$rep" bash -c "$(declare -f release_crane); $(declare -p ENV_CMD CRANE WORK); release_crane \"\$@\"" _ "$NIX_TREE" "$WORK/nix-new" "$ref"
      fi
    done
  done
  echo "## Next release: 1 of 4 layers changed, the tag holds the previous release"
  echo
  echo "$REPS run(s) per tool, alternating; load $(cut -d' ' -f1-3 /proc/loadavg). Target: ≤ 0.35 × skopeo."
  echo
  echo "Archive (docker-archive, 4 uncompressed layers, 256 MiB):"
  echo
  "$BENCHTOOL" summary -in "$RESULTS" -group "release-archive" -baseline skopeo -target "oci-assemble=0.35"
  echo
  echo "Layer mode (4 layers of files, 256 MiB):"
  echo
  "$BENCHTOOL" summary -in "$RESULTS" -group "release-layers" -baseline tar+crane -target "oci-assemble=0.35"
  echo
}

# bench_many: 250,000 small files (128 MiB) in one layer: time and peak
# RSS of oci-assemble and of tar -cf + crane append.
bench_many() {
  local tree="$WORK/many" rep ref files="${BENCH_MANY_FILES:-250000}"
  log "bench: many: generating $files files"
  "$BENCHTOOL" gentree -dir "$tree" -bytes $((128 << 20)) -files "$files" -seed 3 >&2
  tar -C "$tree" -cf - . | sha256sum >/dev/null
  start_registry M
  local spec
  spec="$(printf -- '- files:\n    - %s/:/data/\n' "$tree")"
  for rep in $(seq "${BENCH_MANY_REPS:-3}"); do
    restart_registry M
    measure_registries "$REGPID_M"
    ref="$REG_M/many-oa-$rep:bench"
    measure many "oci-assemble" "$rep" "${ENV_CMD[@]}" "$OA" --base scratch --platforms linux/amd64 \
      --layers "$spec" --tags "$ref" --insecure-registries "$REG_M"
    restart_registry M
    measure_registries "$REGPID_M"
    ref="$REG_M/many-crane-$rep:bench"
    # shellcheck disable=SC2016
    measure many "tar+crane" "$rep" "${ENV_CMD[@]}" bash -c \
      'set -eo pipefail; tar -C "$1" -cf "$2" .; "$3" append --oci-empty-base --insecure -f "$2" -t "$4"; rm -f "$2"' \
      _ "$tree" "$WORK/many.tar" "$CRANE" "$ref"
  done
  rm -rf "$tree"
  echo "## Many files: $files small files (128 MiB) in one layer"
  echo
  echo "${BENCH_MANY_REPS:-3} run(s) per tool, alternating; load $(cut -d' ' -f1-3 /proc/loadavg). Target: peak RSS ≤ 64 MiB."
  echo
  "$BENCHTOOL" summary -in "$RESULTS" -group many -baseline tar+crane -rss-target "oci-assemble=64"
  echo
}
