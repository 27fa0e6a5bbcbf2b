# shellcheck shell=bash
# Shared helpers of bench/run.sh: tools, registries, proxies, measuring.
# Sourced, not run. Everything it starts is recorded in PIDS and stopped by
# cleanup; everything it writes is under WORK, removed by cleanup.

REGISTRY_V3_VERSION=v3.1.2 # as .ci/run
CRANE_VERSION=v0.22.1
REGCTL_VERSION=v0.11.7

PIDS=()

log() { printf '%s\n' "$*" >&2; }
die() { log "bench: $*"; exit 1; }

# bench_tmpdir: BENCH_TMPDIR, else /dev/shm when it has 12 GiB free (the
# trees and the registries' storage then live in memory: a local disk's
# writeback stalls are noise no real registry push has), else TMPDIR.
bench_tmpdir() {
  if [ -n "${BENCH_TMPDIR:-}" ]; then
    echo "$BENCH_TMPDIR"
  elif [ -w /dev/shm ] && [ "$(df -Pk /dev/shm | awk 'NR == 2 {print $4}')" -gt $((12 << 20)) ]; then
    echo /dev/shm
  else
    echo "${TMPDIR:-/tmp}"
  fi
}

# bench_storage_dir: where the registries keep their blobs: BENCH_STORAGE,
# else a directory on disk (/var/tmp), as a registry's storage is.
bench_storage_dir() {
  if [ -n "${BENCH_STORAGE:-}" ]; then
    echo "$BENCH_STORAGE"
  else
    echo /var/tmp
  fi
}

setup_work() {
  WORK="$(mktemp -d "$(bench_tmpdir)/oci-assemble-bench.XXXXXX")"
  STORE="$(mktemp -d "$(bench_storage_dir)/oci-assemble-bench-registries.XXXXXX")"
  mkdir -p "$WORK/bin" "$WORK/logs" "$WORK/home/.docker" "$WORK/counts" "$WORK/empty-cache"
  echo '{}' >"$WORK/home/.docker/config.json"
  # shellcheck disable=SC2034 # used by the benchmarks
  ENV_CMD=(env -u GITHUB_OUTPUT -u GITHUB_STEP_SUMMARY -u GITHUB_ACTIONS -u GITLAB_CI -u CI
    HOME="$WORK/home" DOCKER_CONFIG="$WORK/home/.docker")
  RESULTS="$WORK/results.tsv"
  : >"$RESULTS"
  trap cleanup EXIT
  trap 'exit 130' INT TERM
}

cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  if [ "${BENCH_KEEP:-0}" = 1 ]; then
    log "bench: kept $WORK and $STORE"
  else
    rm -rf "$WORK" "$STORE"
  fi
}

apt_install() {
  [ "$(id -u)" = 0 ] || die "$* missing; install it with apt-get install $*"
  log "bench: installing $* from Debian"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# go_tool NAME VERSION_CMD WANT PACKAGE@VERSION: the tool on PATH or in
# GOPATH/bin at the wanted version, else go install it.
go_tool() {
  local name=$1 vcmd=$2 want=$3 pkg=$4 have
  have="$(PATH="$GOBIN:$PATH" bash -c "$vcmd" 2>/dev/null || true)"
  if [[ "$have" != *"$want"* ]]; then
    log "bench: go install $pkg"
    go install "$pkg" || die "could not install $pkg"
  fi
  PATH="$GOBIN:$PATH" command -v "$name" || die "$name not found after go install"
}

# RELEASE_FLAGS build a Go tool the way its releases are built, static and
# stripped: crane's and regctl's release binaries are (CGO_ENABLED=0,
# -ldflags "-s -w"), and so is oci-assemble in its image (Dockerfile). A
# default go build links libc dynamically and starts a few milliseconds
# slower, which the join, two regctl runs, would count.
RELEASE_FLAGS=(-trimpath -ldflags "-s -w")

# release_tool NAME VERSION_CMD WANT PACKAGE@VERSION: the peer NAME, built
# with RELEASE_FLAGS into RELEASE_BIN once per version.
release_tool() {
  local name=$1 vcmd=$2 want=$3 pkg=$4 have
  have="$(PATH="$RELEASE_BIN:$PATH" bash -c "$vcmd" 2>/dev/null || true)"
  if [[ "$have" != *"$want"* ]] || [ ! -x "$RELEASE_BIN/$name" ]; then
    log "bench: go install $pkg (as released: CGO_ENABLED=0 ${RELEASE_FLAGS[*]})"
    mkdir -p "$RELEASE_BIN"
    CGO_ENABLED=0 GOBIN="$RELEASE_BIN" go install "${RELEASE_FLAGS[@]}" "$pkg" || die "could not install $pkg"
  fi
  echo "$RELEASE_BIN/$name"
}

# setup_tools locates or installs every tool and builds the helpers and the
# oci-assemble binary from this checkout.
setup_tools() {
  GOBIN="$(go env GOPATH)/bin"
  RELEASE_BIN="${BENCH_RELEASE_BIN:-${XDG_CACHE_HOME:-$HOME/.cache}/oci-assemble-bench/bin}"
  command -v go >/dev/null || die "go is not on PATH"
  [ -x /usr/bin/time ] || apt_install time
  command -v zstd >/dev/null || apt_install zstd
  command -v curl >/dev/null || apt_install curl
  command -v skopeo >/dev/null || apt_install skopeo
  command -v unshare >/dev/null || apt_install util-linux
  skopeo_cmd
  CRANE="$(release_tool crane 'crane version' "$CRANE_VERSION" "github.com/google/go-containerregistry/cmd/crane@$CRANE_VERSION")"
  [ -n "$CRANE" ] || exit 1
  REGCTL="$(release_tool regctl "regctl version --format '{{.VCSTag}}'" "$REGCTL_VERSION" "github.com/regclient/regclient/cmd/regctl@$REGCTL_VERSION")"
  [ -n "$REGCTL" ] || exit 1
  case "${BENCH_REGISTRY:-v3}" in
    v3)
      REGISTRY="$(go_tool registry 'registry --version' "${REGISTRY_V3_VERSION#v}" "github.com/distribution/distribution/v3/cmd/registry@$REGISTRY_V3_VERSION")" ;;
    v2)
      command -v docker-registry >/dev/null || apt_install docker-registry
      REGISTRY="$(command -v docker-registry)" ;;
    *) die "BENCH_REGISTRY=${BENCH_REGISTRY}: want v3 or v2" ;;
  esac
  [ -n "$REGISTRY" ] || exit 1

  log "bench: building helpers and oci-assemble"
  (cd "$BENCH_DIR" && go build -o "$WORK/bin/" ./benchtool ./countproxy) || die "building bench helpers failed"
  BENCHTOOL="$WORK/bin/benchtool"
  COUNTPROXY="$WORK/bin/countproxy"
  OA="$WORK/bin/oci-assemble"
  (cd "$ROOT" && CGO_ENABLED=0 go build "${RELEASE_FLAGS[@]}" -o "$OA" ./cmd/oci-assemble) ||
    die "building oci-assemble (go build ./cmd/oci-assemble) failed"
}

tool_versions() {
  local rev
  rev="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  if [ -n "$(git -C "$ROOT" status --porcelain -- cmd internal go.mod 2>/dev/null)" ]; then
    rev="$rev+uncommitted"
  fi
  echo "- oci-assemble: $rev ($(go version | cut -d' ' -f3))"
  echo "- crane: $("$CRANE" version)"
  echo "- regctl: $("$REGCTL" version --format '{{.VCSTag}}')"
  echo "- registry: $("$REGISTRY" --version 2>&1 | head -1)"
  echo "- $(skopeo --version); $(tar --version | head -1)"
  echo "- registry storage: $(df -P "$STORE" | awk 'NR == 2 {print $1}') ($STORE); inputs: $(df -P "$WORK" | awk 'NR == 2 {print $1}')"
  echo "- machine: $(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GiB memory, load $(cut -d' ' -f1-3 /proc/loadavg)"
}

# start_registry NAME: starts a registry on a free loopback port with its
# own storage under WORK and sets REG_<NAME> to its host:port.
start_registry() {
  local name=$1 dir="$STORE/registry-$1" port host
  mkdir -p "$dir/storage"
  for _ in 1 2 3 4 5; do
    port="$("$BENCHTOOL" freeport)"
    host="127.0.0.1:$port"
    cat >"$dir/config.yml" <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $dir/storage
  delete:
    enabled: true
http:
  addr: $host
  secret: bench
EOF
    "$REGISTRY" serve "$dir/config.yml" >"$dir/log" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    if wait_http "http://$host/v2/" "$pid"; then
      printf -v "REG_$name" '%s' "$host"
      printf -v "REGPID_$name" '%s' "$pid"
      return 0
    fi
    stop_pid "$pid"
  done
  die "registry $name did not start: $(tail -5 "$dir/log")"
}

# restart_registry NAME: stops registry NAME and starts it again with empty
# storage (on a new port: REG_NAME changes).
restart_registry() {
  local var="REGPID_$1"
  stop_pid "${!var}"
  rm -rf "$STORE/registry-$1"
  start_registry "$1"
}

# stop_pid PID: stops a process this script started and forgets it.
stop_pid() {
  local pid=$1 p keep=()
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  for p in "${PIDS[@]}"; do
    [ "$p" = "$pid" ] || keep+=("$p")
  done
  PIDS=("${keep[@]}")
}

# start_proxy NAME UPSTREAM_HOST [DELAY]: a counting proxy in front of a
# registry, holding each request DELAY (a Go duration; default 0); sets
# PROXY_<NAME> to its host:port.
start_proxy() {
  local name=$1 upstream=$2 delay=${3:-0} addr="$WORK/proxy-$1.addr"
  rm -f "$addr"
  "$COUNTPROXY" -upstream "http://$upstream" -addr-file "$addr" -delay "$delay" >"$WORK/proxy-$1.log" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  for _ in $(seq 100); do
    [ -s "$addr" ] && break
    sleep 0.05
  done
  [ -s "$addr" ] || die "countproxy $name did not start: $(cat "$WORK/proxy-$1.log")"
  printf -v "PROXY_$name" '%s' "$(cat "$addr")"
  printf -v "PROXYPID_$name" '%s' "$pid"
}

wait_http() {
  local url=$1 pid=$2
  for _ in $(seq 300); do
    kill -0 "$pid" 2>/dev/null || return 1
    curl -fsS -o /dev/null "$url" 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}

proxy_reset() { curl -fsS -X POST "http://$1/_countproxy/reset"; }

# proxy_stats PREFIX HOST: the proxy's counters with PREFIX before each kind.
proxy_stats() { curl -fsS "http://$2/_countproxy/stats" | sed "s/^/$1 /"; }

# in_env CMD...: runs CMD with a HOME and docker config of its own, so no
# tool reads the user's credentials or writes the user's config, and outside
# CI, so oci-assemble writes no CI outputs. "${ENV_CMD[@]}" CMD... does the
# same where a function cannot run (under /usr/bin/time).
in_env() {
  env -u GITHUB_OUTPUT -u GITHUB_STEP_SUMMARY -u GITHUB_ACTIONS -u GITLAB_CI -u CI \
    HOME="$WORK/home" DOCKER_CONFIG="$WORK/home/.docker" "$@"
}

# measure GROUP TOOL REP CMD...: runs CMD under /usr/bin/time and appends
# GROUP TOOL REP WALL USER SYS MAXRSS_KIB SERVER_CPU to RESULTS, where
# SERVER_CPU is the CPU seconds the registries in MEASURE_PIDS spent
# meanwhile. Fails with the command's log when the command fails.
measure() {
  local group=$1 tool=$2 rep=$3
  shift 3
  local slug="${group}-${tool//[^A-Za-z0-9]/_}-$rep"
  local out="$WORK/logs/$slug.time" lg="$WORK/logs/$slug.log"
  local before after start end
  before="$(cpu_ticks)"
  start="$(date +%s%N)"
  if ! /usr/bin/time -q -f '%U	%S	%M' -o "$out" "$@" >"$lg" 2>&1; then
    log "bench: $tool ($group, run $rep) failed:"
    tail -20 "$lg" >&2
    return 1
  fi
  end="$(date +%s%N)"
  after="$(cpu_ticks)"
  local t server
  # GNU time's %e has centiseconds; the clock around it has what a
  # 20 ms no-op run needs.
  t="$(awk -v s="$start" -v e="$end" 'BEGIN {printf "%.3f", (e - s) / 1e9}')	$(tail -1 "$out")"
  server="$(awk -v a="$after" -v b="$before" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.2f", (a - b) / hz}')"
  printf '%s\t%s\t%s\t%s\t%s\n' "$group" "$tool" "$rep" "$t" "$server" >>"$RESULTS"
  log "  $group  $tool  run $rep: $(cut -f1 <<<"$t") s, $(($(cut -f4 <<<"$t") / 1024)) MiB, registry CPU $server s"
}

# measure_registries PID...: the registries whose CPU measure reports.
measure_registries() { MEASURE_PIDS="$*"; }

# cpu_ticks: user + system clock ticks of the processes in MEASURE_PIDS.
cpu_ticks() {
  local pid sum=0
  for pid in ${MEASURE_PIDS:-}; do
    [ -r "/proc/$pid/stat" ] || continue
    sum=$((sum + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
  done
  echo "$sum"
}

# skopeo_cmd: skopeo with an empty blob-info cache, as a CI job has: a
# private mount namespace hides the machine's cache (root's is
# /var/lib/containers/cache) behind an empty directory. Use as
# "${ENV_CMD[@]}" "${SKOPEO[@]}" copy ... (also under measure).
skopeo_cmd() {
  # shellcheck disable=SC2016 # expanded by the inner shell
  # A new directory for every call: skopeo writes its cache as it copies.
  # shellcheck disable=SC2034 # used by nix.sh
  SKOPEO=(unshare --mount -- bash -c 'mkdir -p /var/lib/containers/cache &&
    c="$(mktemp -d "$1/cache.XXXXXX")" && mount --bind "$c" /var/lib/containers/cache &&
    shift && exec skopeo "$@"' _ "$WORK/empty-cache")
}

# json_sizes: the "size" fields of a JSON manifest on stdin, one a line.
json_sizes() { grep -oE '"size": *[0-9]+' | grep -oE '[0-9]+$'; }
