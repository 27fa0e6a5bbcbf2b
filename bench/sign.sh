# shellcheck shell=bash
# Signing benchmark: what signing costs the join. Sourced by run.sh.
#
# The join of bench/join.sh (8 images from registry A into an annotated
# index on registry B, 2 tags), four ways:
#   oa              the join, unsigned
#   oa-sign         the join signed with a cosign key: the index and the 8
#                   platform manifests, each a Sigstore bundle referrer
#   oa-sign-prov    the same plus SLSA provenance attached to all 9
#   oa+cosign       the unsigned join, then cosign 3 signing the same 9
#                   manifests as its users do after a join:
#                   cosign sign --key --recursive B/app@DIGEST
# No transparency log (rekor-url: none; cosign with an empty signing
# config): the bench measures the step and the registries, not a public
# service.

SIGN_TOOLS=(oa oa-sign oa-sign-prov oa+cosign)

sign_setup() {
  join_setup
  COSIGN="$(command -v cosign)" || die "cosign not on PATH (.ci/run installs it)"
  if [ ! -f "$WORK/sign/cosign.key" ]; then
    mkdir -p "$WORK/sign"
    COSIGN_PASSWORD="" in_env "$COSIGN" generate-key-pair --output-key-prefix "$WORK/sign/cosign" >/dev/null 2>&1 ||
      die "cosign generate-key-pair failed"
    in_env "$COSIGN" signing-config create --out "$WORK/sign/sc.json" >/dev/null 2>&1 ||
      die "cosign signing-config create failed"
  fi
  export -f sign_run
  export COSIGN
}

# sign_run TOOL A_HOST B_HOST REPO: one job.
sign_run() {
  local tool=$1 a=$2 b=$3 repo=$4 digest
  local srcs="${SRC_LIST//$REG_A\//$a/}"
  local -a oa=("$OA" --images "$srcs" --tags "$b/$repo:v1,$b/$repo:latest"
    --annotations "index:$JOIN_ANNOTATION" --insecure-registries "$a,$b")
  local -a key=(--sign key --signing-key "$WORK/sign/cosign.key" --rekor-url none)
  case $tool in
    oa) in_env "${oa[@]}" ;;
    oa-sign) in_env "${oa[@]}" "${key[@]}" ;;
    oa-sign-prov) in_env "${oa[@]}" "${key[@]}" --provenance true ;;
    oa+cosign)
      digest="$(in_env "${oa[@]}" | sed -n 's/^digest=//p')" || return 1
      [ -n "$digest" ] || return 1
      COSIGN_PASSWORD="" in_env "$COSIGN" sign --yes --key "$WORK/sign/cosign.key" \
        --signing-config "$WORK/sign/sc.json" --allow-insecure-registry --recursive "$b/$repo@$digest"
      ;;
    *) return 1 ;;
  esac
}

sign_counted() {
  local tool=$1 repo=$2
  proxy_reset "$PROXY_A"
  proxy_reset "$PROXY_B"
  sign_run "$tool" "$PROXY_A" "$PROXY_B" "$repo" >"$WORK/logs/sign-$tool-counted.log" 2>&1 ||
    { tail -20 "$WORK/logs/sign-$tool-counted.log" >&2; die "$tool (sign, counted) failed"; }
  { proxy_stats A "$PROXY_A"; proxy_stats B "$PROXY_B"; } >"$WORK/counts/sign-$tool.tsv"
}

bench_sign() {
  echo "## Signing: the join signed, against the join alone and the join followed by cosign sign"
  echo
  sign_setup
  local rep t
  for rep in $(seq "$REPS"); do
    for t in "${SIGN_TOOLS[@]}"; do
      fresh_target
      measure sign "$t" "$rep" bash -c 'sign_run "$@"' _ "$t" "$TIMED_A" "$TIMED_B" "sign-$rep"
    done
  done
  fresh_target
  for t in "${SIGN_TOOLS[@]}"; do sign_counted "$t" "count-${t//[^a-z]/-}"; done
  echo "Wall time, $REPS run(s) per way, in turn$(latency_note):"
  echo
  "$BENCHTOOL" summary -in "$RESULTS" -group sign -baseline oa
  echo
  echo "Requests per job (through the counting proxies; A = sources, B = target):"
  echo
  local -a cols=()
  for t in "${SIGN_TOOLS[@]}"; do cols+=("$t=$WORK/counts/sign-$t.tsv"); done
  "$BENCHTOOL" counts "${cols[@]}"
  echo
  for t in "${SIGN_TOOLS[@]}"; do
    echo "- $t: $(total "$WORK/counts/sign-$t.tsv" 2) requests, $(total "$WORK/counts/sign-$t.tsv" 3) bytes sent"
  done
  echo
}
