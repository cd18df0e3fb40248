#!/usr/bin/env bash
# The single-node benchmark: this gateway against the NestJS service it
# replaces, one node each, side by side in one sitting, every run on fresh
# processes, servers interleaved, after waiting for a quiet machine.
#
#   go        this gateway
#   go-norec  this gateway with recovery off (recovery.enabled: false)
#   base      the gateway built from BASE, a git ref (only when BASE is set):
#             a change's before and after in the same sitting
#   nestjs    NestJS: dist/main-ws.js (platform-ws) for /game,
#             dist/main-io.js (platform-socket.io) for long-polling
#
# The cases (CASES), each RUNS times:
#   steady    STEADY_CLIENTS clients in one room, RATE broadcasts/s, read by
#             loadgen's epoll reader and by a goroutine per client
#   flat      FLAT_CLIENTS clients, INFLIGHT broadcasts undelivered
#   p99       P99_CLIENTS clients (each) at RATE/s: latency by clients (steady
#             adds its point)
#   conns     CONN_CLIENTS (each) idle clients: the server's RSS per connection
#             and CPU per handshake
#   polling   POLL_CLIENTS Socket.IO clients on HTTP long-polling, paced (RATE)
#             and flat out (INFLIGHT)
# go-norec and base run steady (epoll reader) and flat only. Then the floor
# (BenchmarkLoopbackWriteFloor, OUT/floor.txt), and the charts and tables of
# medians (cmd/benchplot) into OUT.
#
# It installs nothing. It needs Go, curl, and for NestJS Node.js and
# NESTJS_DIR: a deployment of the NestJS service, built (npm ci && npm run
# build: dist/main-ws.js and dist/main-io.js).
#
# Usage: NESTJS_DIR=/path/to/nestjs bench/single.sh        (task bench-single)
#
# Settings (environment):
#   SERVERS          which of "go go-norec base nestjs" (all; base needs BASE)
#   CASES            which of "steady flat p99 conns polling" (all)
#   RUNS             runs of each (3: the tables take medians)
#   DURATION         measured phase of each fanout run (20s)
#   STEADY_CLIENTS   5000; RATE: broadcasts/s (10)
#   FLAT_CLIENTS     1000; INFLIGHT: 4
#   P99_CLIENTS      "1000 2000"
#   CONN_CLIENTS     "1000 5000 10000"
#   POLL_CLIENTS     200
#   OUT              results folder (bench/results/single-<UTC time>)
#   QUIET_PCT        before each run, wait (up to 2 min) until the machine is at
#                    most this busy, in % of one CPU, over 2 s (25)
#   PORT_BASE        first of the loopback ports used (18960)
set -euo pipefail
cd "$(dirname "$0")/.."

BASE=${BASE:-}
SERVERS=${SERVERS:-go go-norec ${BASE:+base} nestjs}
CASES=${CASES:-steady flat p99 conns polling}
RUNS=${RUNS:-3}
DURATION=${DURATION:-20s}
STEADY_CLIENTS=${STEADY_CLIENTS:-5000}
RATE=${RATE:-10}
FLAT_CLIENTS=${FLAT_CLIENTS:-1000}
INFLIGHT=${INFLIGHT:-4}
P99_CLIENTS=${P99_CLIENTS:-1000 2000}
CONN_CLIENTS=${CONN_CLIENTS:-1000 5000 10000}
POLL_CLIENTS=${POLL_CLIENTS:-200}
OUT=${OUT:-bench/results/single-$(date -u +%Y%m%dT%H%M%SZ)}
QUIET_PCT=${QUIET_PCT:-25}
PORT_BASE=${PORT_BASE:-18960}
export JWT_SECRET=${JWT_SECRET:-dev-secret-change-me}
# shellcheck source=bench/lib.sh
source bench/lib.sh

port=$PORT_BASE port_wallet=$((PORT_BASE + 3))

missing=()
command -v go >/dev/null || missing+=("go (https://go.dev/dl, /usr/local/go/bin on PATH)")
command -v curl >/dev/null || missing+=("curl (apt-get install curl)")
if [[ " $SERVERS " == *" nestjs "* ]]; then
  need_nestjs main-ws.js
  need_nestjs main-io.js
fi
if [[ " $SERVERS " == *" base "* ]] && ! git rev-parse --verify -q "${BASE:-HEAD}^{commit}" >/dev/null; then
  missing+=("BASE: a git ref of this repository (BASE=${BASE:-unset})")
fi
report_missing

prepare
if [[ " $SERVERS " == *" base "* ]]; then
  echo "building the gateway at $BASE"
  git worktree add -q --detach "$work/base" "$BASE"
  (cd "$work/base" && go build -o "$work/gateway-base" ./cmd/gateway)
  git worktree remove --force "$work/base"
fi

# server NAME PROTO starts a wallet simulator and that server, fresh, for
# clients speaking PROTO (contract or socketio), and sets pid and label.
server() {
  local name=$1 proto=$2 run=$3
  start "walletsim-$name-$run" "$work/walletsim" --addr "127.0.0.1:$port_wallet" --log-level warn
  wait_port "$port_wallet"
  local gw=(env LOG_LEVEL=warn HTTP_ADDR="127.0.0.1:$port" WALLET_SIMULATOR=false WALLET_HOST=127.0.0.1 WALLET_PORT="$port_wallet")
  case $name in
  go) label=gamegate && start "$name-$run" "${gw[@]}" "$work/gateway" ;;
  go-norec) label="gamegate, recovery off" && start "$name-$run" "${gw[@]}" "$work/gateway" --config "$work/norecovery.yaml" ;;
  base) label="gamegate $BASE" && start "$name-$run" "${gw[@]}" "$work/gateway-base" ;;
  nestjs)
    local main=main-ws.js
    label="NestJS platform-ws"
    if [[ $proto == socketio ]]; then main=main-io.js label="NestJS platform-socket.io"; fi
    # env execs node: $started is the server's own pid.
    start "$name-$run" env NODE_ENV=production LOG_LEVEL=warn HTTP_ADDR="127.0.0.1:$port" \
      WALLET_HOST=127.0.0.1 WALLET_PORT="$port_wallet" node "$NESTJS_DIR/dist/$main"
    ;;
  *)
    echo "$me: unknown server $name (SERVERS: go go-norec base nestjs)" >&2
    exit 2
    ;;
  esac
  pid=$started
  wait_http "http://127.0.0.1:$port/healthz"
}

failed=0
# measure NAME RUN PROTO LABEL-SUFFIX SCENARIO ARGS... runs one loadgen run on
# a fresh server.
measure() {
  local name=$1 run=$2 proto=$3 suffix=$4 scenario=$5
  shift 5
  wait_quiet
  server "$name" "$proto" "$run"
  echo "── run $run/$RUNS, $scenario $*: $label$suffix"
  local status=0
  "$work/loadgen" "$scenario" "$@" --proto "$proto" --url "http://127.0.0.1:$port" --server-pid "$pid" \
    --progress 0 --label "$label$suffix" \
    >>"$OUT/single.jsonl" 2> >(tee -a "$OUT/single.log" | grep -E '^  (deliveries|latency|check|server|loadgen CPU|connected|WARNING|error)' >&2) ||
    status=$?
  ((status == 0)) || { echo "  loadgen exit status $status"; failed=1; }
  stop_all
}

has() { [[ " $1 " == *" $2 "* ]]; }

echo "results: $OUT/single.jsonl, loadgen's summaries: $OUT/single.log"
for run in $(seq "$RUNS"); do
  for name in $SERVERS; do
    all=1
    [[ $name == go-norec || $name == base ]] && all=0
    if has "$CASES" steady; then
      measure "$name" "$run" contract "" fanout --clients "$STEADY_CLIENTS" --rate "$RATE" --duration "$DURATION" --reader epoll
      ((all)) && measure "$name" "$run" contract ", goroutine reader" fanout --clients "$STEADY_CLIENTS" --rate "$RATE" --duration "$DURATION" --reader goroutine
    fi
    if has "$CASES" flat; then
      measure "$name" "$run" contract "" fanout --clients "$FLAT_CLIENTS" --inflight "$INFLIGHT" --duration "$DURATION"
    fi
    ((all)) || continue
    if has "$CASES" p99; then
      for n in $P99_CLIENTS; do
        measure "$name" "$run" contract "" fanout --clients "$n" --rate "$RATE" --duration "$DURATION"
      done
    fi
    if has "$CASES" conns; then
      for n in $CONN_CLIENTS; do
        measure "$name" "$run" contract "" connections --clients "$n"
      done
    fi
    if has "$CASES" polling; then
      measure "$name" "$run" socketio ", long-polling" fanout --transport polling --clients "$POLL_CLIENTS" --rate "$RATE" --duration "$DURATION"
      measure "$name" "$run" socketio ", long-polling" fanout --transport polling --clients "$POLL_CLIENTS" --inflight "$INFLIGHT" --duration "$DURATION"
    fi
  done
done

if has "$CASES" steady; then
  echo "── the floor: BenchmarkLoopbackWriteFloor"
  wait_quiet
  go test -run='^$' -bench=LoopbackWriteFloor -benchtime=3s -count="$RUNS" ./modules/gateway >"$OUT/floor.txt"
fi

echo
go run ./cmd/benchplot -out "$OUT" "$OUT"
exit "$failed"
