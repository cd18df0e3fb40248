# The benchmark scripts' common part, sourced by bench/cluster.sh and
# bench/single.sh after they set OUT and QUIET_PCT: what is missing, a work
# folder with the binaries built from this tree, the servers they start
# (stopped on exit), and the waits.

me=bench/$(basename "$0")
pids=()

# prepare makes the work folder and the results folder, builds the gateway,
# walletsim and loadgen from this tree into the first (with norecovery.yaml),
# and stops every server started and removes the work folder on exit.
prepare() {
  work=$(mktemp -d)
  mkdir -p "$OUT/logs"
  trap 'stop_all; rm -rf "$work"' EXIT
  echo "building gateway, walletsim and loadgen into $work"
  go build -o "$work/gateway" ./cmd/gateway
  go build -o "$work/walletsim" ./cmd/walletsim
  go build -o "$work/loadgen" ./cmd/loadgen
  # the shipped config with recovery off, for the servers that compare it
  { cat config.yaml; printf 'recovery:\n  enabled: false\n'; } >"$work/norecovery.yaml"
  ulimit -n "$(ulimit -Hn)"
}

# stop_all stops every server started, the last started first: a node stops
# while the broker it leaves is still there (a NestJS node whose Redis has
# gone never finishes its stop). Each gets 10 s, then SIGKILL.
stop_all() {
  local i pid dog
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    pid=${pids[i]}
    kill "$pid" 2>/dev/null || true
    { sleep 10 && kill -9 "$pid" 2>/dev/null && echo "  (pid $pid did not stop within 10 s: killed)"; } &
    dog=$!
    wait "$pid" 2>/dev/null || true
    kill "$dog" 2>/dev/null || true
    wait "$dog" 2>/dev/null || true
  done
  pids=()
}

# wait_http waits up to 30 s for url to answer 200.
wait_http() {
  for _ in $(seq 300); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "$me: $1 did not answer; logs in $OUT/logs" >&2
  return 1
}

# wait_port waits up to 10 s for a listener on 127.0.0.1:$1.
wait_port() {
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "$me: nothing listens on port $1" >&2
  return 1
}

# wait_quiet waits, up to 2 minutes, until the machine's busy time over 2 s
# is at most QUIET_PCT % of one CPU: other work on a shared machine moves
# every figure.
wait_quiet() {
  local busy
  for _ in $(seq 60); do
    busy=$(
      { head -1 /proc/stat; sleep 2; head -1 /proc/stat; } | awk '
        { idle = $5 + $6; total = 0; for (i = 2; i <= 9; i++) total += $i
          if (NR == 1) { i0 = idle; t0 = total } else { printf "%d", 100 * ((total - t0) - (idle - i0)) / (total - t0) * ncpu } }' ncpu="$(nproc)"
    )
    ((busy <= QUIET_PCT)) && return 0
  done
  echo "  (the machine stayed busy: ${busy}% of a CPU)"
}

# start runs a command in the background, its output in a log, and records
# its pid in $started.
start() {
  local log=$1
  shift
  "$@" >"$OUT/logs/$log.log" 2>&1 &
  started=$!
  pids+=("$started")
}

# need_nestjs adds to missing what the NestJS side needs: node and a built
# NESTJS_DIR with dist/$1.
need_nestjs() {
  command -v node >/dev/null || missing+=("node (apt-get install nodejs)")
  if [[ -z "${NESTJS_DIR:-}" ]]; then
    missing+=("NESTJS_DIR: the NestJS service's folder, built with npm ci && npm run build (or leave NestJS out of SERVERS)")
  elif [[ ! -f "$NESTJS_DIR/dist/$1" ]]; then
    missing+=("$NESTJS_DIR/dist/$1: build it (cd \$NESTJS_DIR && npm ci && npm run build)")
  fi
}

# report_missing lists what is missing, all at once, and exits 2.
report_missing() {
  if ((${#missing[@]})); then
    echo "$me: missing:" >&2
    printf '  - %s\n' "${missing[@]}" >&2
    exit 2
  fi
}
