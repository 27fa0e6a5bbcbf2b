# shellcheck shell=bash
# Join and no-op benchmarks. Sourced by run.sh.
#
# Registry A holds 8 single-platform images (one 8 MiB random layer each);
# each tool joins them into one index on registry B under the tags v1 and
# latest, with the index annotation org.opencontainers.image.description:
#   oci-assemble  --images A/src:amd64,... --tags B/app:v1,B/app:latest --annotations ...
#   regctl        index create B/app:v1 --ref A/src:amd64 ... --annotation ...;
#                 image copy B/app:v1 B/app:latest
#   crane         index append -m A/src:amd64 ... -t B/app:v1; tag B/app:v1 latest
#                 (crane cannot annotate an index: it does a little less)
# Each timed join goes to a new registry B, started with empty storage
# (fresh_target). Timed runs go straight to the registries; one more run
# per tool goes through a counting proxy in front of each registry for the
# request counts (the proxy costs time, not requests).

JOIN_TOOLS=(oci-assemble regctl crane)
JOIN_ANNOTATION="org.opencontainers.image.description=bench"

# join_run TOOL A_HOST B_HOST REPO: one join job, sources on A_HOST.
join_run() {
  local tool=$1 a=$2 b=$3 repo=$4
  local srcs="${SRC_LIST//$REG_A\//$a/}" r
  local -a args=()
  case $tool in
    oci-assemble)
      in_env "$OA" --images "$srcs" --tags "$b/$repo:v1,$b/$repo:latest" \
        --annotations "index:$JOIN_ANNOTATION" --insecure-registries "$a,$b"
      ;;
    regctl)
      for r in ${srcs//,/ }; do args+=(--ref "$r"); done
      in_env "$REGCTL" --host "reg=$a,tls=disabled" --host "reg=$b,tls=disabled" \
        index create "$b/$repo:v1" "${args[@]}" --annotation "$JOIN_ANNOTATION" &&
        in_env "$REGCTL" --host "reg=$b,tls=disabled" image copy "$b/$repo:v1" "$b/$repo:latest"
      ;;
    crane)
      for r in ${srcs//,/ }; do args+=(-m "$r"); done
      in_env "$CRANE" index append --insecure "${args[@]}" -t "$b/$repo:v1" &&
        in_env "$CRANE" tag --insecure "$b/$repo:v1" latest
      ;;
    *) return 1 ;;
  esac
}

join_setup() {
  [ -n "${REG_A:-}" ] && return 0
  start_registry A
  start_registry B
  measure_registries "$REGPID_A" "$REGPID_B"
  start_proxy A "$REG_A" "${BENCH_LATENCY:-0}"
  # shellcheck disable=SC2153 # set by start_registry
  start_proxy B "$REG_B" "${BENCH_LATENCY:-0}"
  # Timed runs go straight to the registries, or through the proxies when
  # they add latency.
  TIMED_A=$REG_A TIMED_B=$REG_B
  if [ "${BENCH_LATENCY:-0}" != 0 ]; then
    TIMED_A=$PROXY_A TIMED_B=$PROXY_B
  fi
  log "bench: pushing 8 source images to A"
  SRC_LIST="$("$BENCHTOOL" pushsrc -registry "$REG_A" -repo src -bytes $((8 << 20)) -seed 1)"
  export -f join_run in_env
  export OA REGCTL CRANE WORK SRC_LIST REG_A JOIN_ANNOTATION
}

# fresh_target restarts registry B with empty storage (on a new port) and
# its proxy with it, so that a timed join finds nothing an earlier one left.
fresh_target() {
  restart_registry B
  measure_registries "$REGPID_A" "$REGPID_B"
  stop_pid "$PROXYPID_B"
  start_proxy B "$REG_B" "${BENCH_LATENCY:-0}"
  TIMED_B=$REG_B
  if [ "${BENCH_LATENCY:-0}" != 0 ]; then
    TIMED_B=$PROXY_B
  fi
}

latency_note() {
  if [ "${BENCH_LATENCY:-0}" != 0 ]; then
    echo ", every request held ${BENCH_LATENCY} by the proxies (BENCH_LATENCY)"
  else
    echo ", on loopback"
  fi
}

# counted TOOL NAME REPO: one job through the proxies, its counts in
# WORK/counts/NAME-TOOL.tsv.
counted() {
  local tool=$1 name=$2 repo=$3
  proxy_reset "$PROXY_A"
  proxy_reset "$PROXY_B"
  join_run "$tool" "$PROXY_A" "$PROXY_B" "$repo" >"$WORK/logs/$name-$tool-counted.log" 2>&1 ||
    { tail -20 "$WORK/logs/$name-$tool-counted.log" >&2; die "$tool ($name, counted) failed"; }
  { proxy_stats A "$PROXY_A"; proxy_stats B "$PROXY_B"; } >"$WORK/counts/$name-$tool.tsv"
}

count_table() {
  local name=$1 t
  local -a cols=()
  for t in "${JOIN_TOOLS[@]}"; do cols+=("$t=$WORK/counts/$name-$t.tsv"); done
  "$BENCHTOOL" counts "${cols[@]}"
}

# total FILE FIELD: sum of a countproxy column (2 requests, 3 bytes sent).
total() { awk -F'\t' -v f="$2" '{s += $f} END {print s + 0}' "$1"; }

bench_join() {
  echo "## Join: 8 images from registry A into an annotated index on registry B, 2 tags"
  echo
  join_setup
  local rep t
  for rep in $(seq "$REPS"); do
    for t in "${JOIN_TOOLS[@]}"; do
      fresh_target
      measure join "$t" "$rep" bash -c 'join_run "$@"' _ "$t" "$TIMED_A" "$TIMED_B" "join-$t-$rep"
    done
  done
  # The counted runs share one new B, each in a repository of its own: the
  # sources are on A, so nothing can be mounted and the counts are a fresh
  # registry's.
  join_watch >"$WORK/watch.md"
  fresh_target
  for t in "${JOIN_TOOLS[@]}"; do counted "$t" join "count-$t"; done

  echo "Wall time, $REPS run(s) per tool, ABC ABC ...$(latency_note):"
  echo
  "$BENCHTOOL" summary -in "$RESULTS" -group join -baseline regctl
  echo
  cat "$WORK/watch.md"
  echo "What each published (read back with crane):"
  echo
  for t in "${JOIN_TOOLS[@]}"; do
    local m v1 latest
    m="$(in_env "$CRANE" manifest --insecure "$REG_B/count-$t:v1")"
    v1="$(in_env "$CRANE" digest --insecure "$REG_B/count-$t:v1")"
    latest="$(in_env "$CRANE" digest --insecure "$REG_B/count-$t:latest")"
    local ann=no same=no
    grep -q '"org.opencontainers.image.description"' <<<"$m" && ann=yes
    [ "$v1" = "$latest" ] && same=yes
    echo "- $t: $(grep -o '"platform"' <<<"$m" | wc -l) platforms, index annotation: $ann, v1 = latest: $same, index $(printf %s "$m" | wc -c) bytes"
  done
  echo
  echo "Requests per job (one run through the counting proxies; A = source registry, B = target):"
  echo
  count_table join
  echo
  join_minimum
  for t in "${JOIN_TOOLS[@]}"; do
    local f="$WORK/counts/join-$t.tsv"
    echo "- $t: $(total "$f" 2) requests ($(awk "BEGIN {printf \"%.2f\", $(total "$f" 2) / $MIN_JOIN_REQ}") × the minimum), $(total "$f" 3) bytes sent ($(awk "BEGIN {printf \"%.4f\", $(total "$f" 3) / $MIN_JOIN_BYTES}") × the minimum)"
  done
  echo
}

# join_watch runs each tool BENCH_WATCH_REPS more times (default 5,
# alternating) under benchtool cpuwatch and prints where the time went:
# both cores busy, cores waiting for the disk (a registry's fsync), or
# neither (round trips, process starts).
join_watch() {
  local wreps="${BENCH_WATCH_REPS:-5}" rep t f="$WORK/watch.tsv"
  : >"$f"
  for rep in $(seq "$wreps"); do
    for t in "${JOIN_TOOLS[@]}"; do
      fresh_target
      printf '%s\t%s\n' "$t" "$("$BENCHTOOL" cpuwatch -- bash -c 'join_run "$@"' _ "$t" "$TIMED_A" "$TIMED_B" "watch-$t-$rep" 2>"$WORK/logs/watch-$t-$rep.log")" >>"$f" ||
        die "$t (cpuwatch run $rep) failed: $(tail -5 "$WORK/logs/watch-$t-$rep.log")"
    done
  done
  echo "Where the time went, medians of $wreps more runs per tool under \`benchtool cpuwatch\` (the machine's CPU counters every 10 ms):"
  echo "saturated = at least 90 % of the cores busy (the tool and the registries); disk = less, with a quarter or more of the cores"
  echo "waiting for the disk (the registries' fsync of each blob); other = cores idle while a round trip or a process start is awaited."
  echo
  "$BENCHTOOL" watchtable -in "$f"
  echo
}

# join_minimum prints and sets MIN_JOIN_REQ, MIN_JOIN_BYTES: what the
# distribution spec needs for this job, derived from the actual sizes.
join_minimum() {
  local n=0 blobs=0 manifests=0 r m s
  for r in ${SRC_LIST//,/ }; do
    m="$(in_env "$CRANE" manifest --insecure "$r")"
    manifests=$((manifests + $(printf %s "$m" | wc -c)))
    for s in $(json_sizes <<<"$m"); do blobs=$((blobs + s)); done
    n=$((n + 1))
  done
  local index
  index="$(in_env "$CRANE" manifest --insecure "$REG_B/count-oci-assemble:v1" | wc -c)"
  local tags=2
  referrer_minimum "$n"
  local one_step=$((3 * n + 2 * n + n + tags + REFERRERS_MIN))
  local two_step=$((one_step + 2 * n))
  MIN_JOIN_BYTES=$((blobs + manifests + tags * index))
  local probe upload
  probe="$(probe_single_post "$REG_B")"
  if [ "$probe" = "201" ]; then
    MIN_JOIN_REQ=$one_step
    upload="this registry stores a blob sent as one \`POST /blobs/uploads/?digest=\` with the body (probed: $probe), so each blob is 1 request = $((2 * n))"
  else
    MIN_JOIN_REQ=$two_step
    upload="each blob is a POST and a PUT with the body = $((4 * n)): the spec's single-request upload (\`POST /blobs/uploads/?digest=\` with the body, $((2 * n)) requests) is optional, and this registry answers it $probe and stores nothing (probed with curl before this table)"
  fi
  cat <<EOF
Minimum for this job under the distribution spec (anonymous registries, a target that has nothing):

- reads on A: $n manifest GET, $n config GET (the index needs each platform, which only the config holds), $n layer GET (A and B are different registries: no mount) = $((3 * n))
- blobs on B: $((2 * n)) blobs; $upload
- manifests on B: $n manifest PUT (before the index that names them), $tags index PUT by tag (a PUT by tag stores the manifest; no PUT by digest is needed) = $((n + tags))
- referrers on A (the sources have none here, but a job that carries them must look): $REFERRERS_NOTE
- no ping (anonymous), no blob or manifest HEAD (nothing can exist yet), no read-back: none is required
- **minimum: $MIN_JOIN_REQ requests** ($one_step on a registry with single-request uploads, $two_step without); bytes sent: blobs $blobs + manifests $manifests + $tags × index $index = **$MIN_JOIN_BYTES**

EOF
}

# referrer_minimum N sets REFERRERS_MIN and REFERRERS_NOTE: the requests
# referrer discovery needs for N platform images (signatures, SBOMs and
# attestations travel with the images). One tag list of A's repository
# finds every sha256-<hex> fallback and cosign tag at once; a registry with
# the referrers API is asked once per platform manifest (its referrers are
# in no tag), one without it once (its 404 says there is no API).
referrer_minimum() {
  local n=$1 first api
  first="$(in_env "$CRANE" digest --insecure "${SRC_LIST%%,*}")"
  api="$(curl -s -o /dev/null -w '%{http_code}' "http://$REG_A/v2/src/referrers/$first")"
  if [ "$api" = "200" ]; then
    REFERRERS_MIN=$((1 + n))
    REFERRERS_NOTE="1 tag list + $n referrers GET (A has the referrers API, probed: $api) = $REFERRERS_MIN"
  else
    REFERRERS_MIN=2
    REFERRERS_NOTE="1 tag list + 1 referrers GET answered $api (A has no referrers API; its fallback tags are in the tag list) = $REFERRERS_MIN"
  fi
}

# probe_single_post sends one small blob to registry $1 as a single-request
# upload and prints 201 when the registry stored it, else the POST's status.
probe_single_post() {
  local blob=$WORK/probe-blob digest code
  printf 'oci-assemble bench probe %s' "$RANDOM" >"$blob"
  digest="sha256:$(sha256sum "$blob" | cut -d' ' -f1)"
  code="$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/octet-stream' \
    --data-binary "@$blob" "http://$1/v2/bench-probe/blobs/uploads/?digest=$digest")"
  if [ "$code" = "201" ] && [ "$(curl -s -o /dev/null -w '%{http_code}' -I "http://$1/v2/bench-probe/blobs/$digest")" = "200" ]; then
    echo 201
  else
    echo "$code"
  fi
}

bench_noop() {
  echo "## No-op re-run: the same join again, on a target that has it"
  echo
  join_setup
  local rep t
  for t in "${JOIN_TOOLS[@]}"; do
    join_run "$t" "$REG_A" "$REG_B" "noop-$t" >"$WORK/logs/noop-$t-first.log" 2>&1 ||
      { tail -20 "$WORK/logs/noop-$t-first.log" >&2; die "$t (first join for noop) failed"; }
  done
  for rep in $(seq "$REPS"); do
    for t in "${JOIN_TOOLS[@]}"; do
      measure noop "$t" "$rep" bash -c 'join_run "$@"' _ "$t" "$TIMED_A" "$TIMED_B" "noop-$t"
    done
  done
  for t in "${JOIN_TOOLS[@]}"; do counted "$t" noop "noop-$t"; done

  echo "Wall time, $REPS run(s) per tool, ABC ABC ...$(latency_note):"
  echo
  "$BENCHTOOL" summary -in "$RESULTS" -group noop -baseline regctl
  echo
  echo "Requests per re-run (through the counting proxies):"
  echo
  count_table noop
  echo
  referrer_minimum 8
  local min=$((18 + REFERRERS_MIN))
  cat <<EOF
Minimum for a re-run: a client that keeps no state must read what it joins, 8 manifest GET and 8 config GET on A,
look for the images' referrers ($REFERRERS_NOTE),
then learn that both tags already point at the index it computed: 2 manifest HEAD on B. **Minimum: $min requests, 0 bytes sent.**

EOF
  for t in "${JOIN_TOOLS[@]}"; do
    local f="$WORK/counts/noop-$t.tsv"
    echo "- $t: $(total "$f" 2) requests ($(awk "BEGIN {printf \"%.2f\", $(total "$f" 2) / $min}") × the minimum), $(total "$f" 3) bytes sent"
  done
  echo
}
