#!/usr/bin/env bash
# The cluster benchmark: one room spread over two nodes, half the clients on
# each, every broadcast POSTed to node A, so that half the deliveries cross
# the broker. Side by side, in one sitting, each run on fresh processes:
#
#   nestjs      NestJS platform-socket.io ×2 + @socket.io/redis-adapter on redis-server
#   go-sio      this gateway ×2 + nats-server (JetStream), clients over Socket.IO
#   go-game     this gateway ×2 + nats-server (JetStream), clients over plain /game
#   go-game-norec  the same with recovery off (recovery.enabled: false): the
#               cost of the shared log, side by side
#
# each paced (CLIENTS clients, RATE broadcasts/s) and flat out (FLAT_CLIENTS
# clients, INFLIGHT broadcasts undelivered), RUNS times, servers interleaved.
# loadgen reports deliveries/s, lost, duplicates, latency (its own and its
# check clients'), the servers' summed CPU per delivery, the broker's CPU
# and RSS; its JSON lines go to OUT/cluster.jsonl, and cmd/benchplot turns
# them into charts and tables of medians (`task bench-plots RESULTS=OUT`).
#
# It installs nothing. It needs Go, curl, and for the NestJS side Node.js,
# redis-server (Debian: apt-get install redis-server) and NESTJS_DIR: a
# deployment of the NestJS service this gateway replaces, built (npm ci &&
# npm run build: dist/main-io.js), with @socket.io/redis-adapter, which it
# starts when REDIS_URL is set. nats-server is built from the version in
# go.mod unless NATS_SERVER names a binary.
#
# Usage: NESTJS_DIR=/path/to/nestjs bench/cluster.sh        (task bench-cluster)
#
# Settings (environment):
#   SERVERS       which of "nestjs go-sio go-game go-game-norec" (all)
#   LOADS         which of "paced flat" (both)
#   RUNS          runs of each (3: the tables take medians)
#   CLIENTS       paced: clients (2000); RATE: broadcasts/s (10)
#   FLAT_CLIENTS  flat out: clients (2000); INFLIGHT: broadcasts undelivered (4)
#   DURATION      measured phase of each run (20s)
#   CHECK         clients read by coder/websocket goroutines, reported apart (20)
#   READER        loadgen's reader: epoll or goroutine (epoll)
#   OUT           results folder (bench/results/cluster-<UTC time>)
#   QUIET_PCT     before each run, wait (up to 2 min) until the machine is at
#                 most this busy, in % of one CPU, over 2 s (25)
#   PORT_BASE     first of the loopback ports used (18950)
set -euo pipefail
cd "$(dirname "$0")/.."

SERVERS=${SERVERS:-nestjs go-sio go-game go-game-norec}
LOADS=${LOADS:-paced flat}
RUNS=${RUNS:-3}
CLIENTS=${CLIENTS:-2000}
RATE=${RATE:-10}
FLAT_CLIENTS=${FLAT_CLIENTS:-2000}
INFLIGHT=${INFLIGHT:-4}
DURATION=${DURATION:-20s}
CHECK=${CHECK:-20}
READER=${READER:-epoll}
OUT=${OUT:-bench/results/cluster-$(date -u +%Y%m%dT%H%M%SZ)}
QUIET_PCT=${QUIET_PCT:-25}
PORT_BASE=${PORT_BASE:-18950}
export JWT_SECRET=${JWT_SECRET:-dev-secret-change-me}
# shellcheck source=bench/lib.sh
source bench/lib.sh

port_a=$PORT_BASE port_b=$((PORT_BASE + 1)) port_broker=$((PORT_BASE + 2)) port_wallet=$((PORT_BASE + 3))

# What is missing, all at once.
missing=()
command -v go >/dev/null || missing+=("go (https://go.dev/dl, /usr/local/go/bin on PATH)")
command -v curl >/dev/null || missing+=("curl (apt-get install curl)")
if [[ " $SERVERS " == *" nestjs "* ]]; then
  command -v "${REDIS_SERVER:-redis-server}" >/dev/null || missing+=("redis-server (apt-get install redis-server), or REDIS_SERVER=/path/to/redis-server")
  need_nestjs main-io.js
fi
report_missing

prepare
NATS_SERVER=${NATS_SERVER:-}
if [[ -z "$NATS_SERVER" ]]; then
  echo "building nats-server into $work"
  go build -o "$work/nats-server" github.com/nats-io/nats-server/v2 # the version go.mod pins
  NATS_SERVER=$work/nats-server
fi

# cluster NAME RUN starts that cluster and sets proto, label, node_a/b and
# broker (pids).
cluster() {
  local name=$1 run=$2
  start "walletsim-$name-$run" "$work/walletsim" --addr "127.0.0.1:$port_wallet" --log-level warn
  wait_port "$port_wallet"
  case $name in
  nestjs)
    proto=socketio label="NestJS socket.io ×2 + Redis"
    start "redis-$run" "${REDIS_SERVER:-redis-server}" --port "$port_broker" --bind 127.0.0.1 --save '' --appendonly no
    broker=$started
    wait_port "$port_broker"
    for node in a b; do
      local port=$port_a
      [[ $node == b ]] && port=$port_b
      start "nestjs-$node-$run" env NODE_ENV=production LOG_LEVEL=warn HTTP_ADDR="127.0.0.1:$port" \
        REDIS_URL="redis://127.0.0.1:$port_broker" WALLET_HOST=127.0.0.1 WALLET_PORT="$port_wallet" NODE_ID="bench-$node" \
        node "$NESTJS_DIR/dist/main-io.js"
      # env execs node: $started is the server's own pid.
      printf -v "node_$node" %s "$started"
    done
    ;;
  go-sio | go-game | go-game-norec)
    proto=socketio label="gamegate ×2 + NATS, Socket.IO"
    local flags=()
    [[ $name == go-game ]] && proto=contract label="gamegate ×2 + NATS, /game"
    [[ $name == go-game-norec ]] && proto=contract label="gamegate ×2 + NATS, /game, recovery off" flags=(--config "$work/norecovery.yaml")
    start "nats-$name-$run" "$NATS_SERVER" -js -a 127.0.0.1 -p "$port_broker" -sd "$work/jetstream-$name-$run"
    broker=$started
    wait_port "$port_broker"
    for node in a b; do
      local port=$port_a
      [[ $node == b ]] && port=$port_b
      start "$name-$node-$run" env LOG_LEVEL=warn HTTP_ADDR="127.0.0.1:$port" CLUSTER_NATS_URL="nats://127.0.0.1:$port_broker" \
        NODE_ID="bench-$node" WALLET_SIMULATOR=false WALLET_HOST=127.0.0.1 WALLET_PORT="$port_wallet" "$work/gateway" "${flags[@]}"
      printf -v "node_$node" %s "$started"
    done
    ;;
  *)
    echo "$me: unknown server $name (SERVERS: nestjs go-sio go-game go-game-norec)" >&2
    exit 2
    ;;
  esac
  wait_http "http://127.0.0.1:$port_a/healthz"
  wait_http "http://127.0.0.1:$port_b/healthz"
}

echo "results: $OUT/cluster.jsonl, loadgen's summaries: $OUT/cluster.log"
failed=0
for run in $(seq "$RUNS"); do
  for load in $LOADS; do
    for name in $SERVERS; do
      wait_quiet
      cluster "$name" "$run"
      case $load in
      paced) args=(--clients "$CLIENTS" --rate "$RATE") ;;
      flat) args=(--clients "$FLAT_CLIENTS" --inflight "$INFLIGHT") ;;
      *)
        echo "$me: unknown load $load (LOADS: paced flat)" >&2
        exit 2
        ;;
      esac
      echo "── run $run/$RUNS, $load: $label"
      status=0
      "$work/loadgen" fanout "${args[@]}" --proto "$proto" --duration "$DURATION" --settle 1s \
        --url "http://127.0.0.1:$port_a" --url "http://127.0.0.1:$port_b" \
        --server-pid "$node_a" --server-pid "$node_b" --broker-pid "$broker" \
        --reader "$READER" --check-clients "$CHECK" --progress 0 --label "$label" \
        >>"$OUT/cluster.jsonl" 2> >(tee -a "$OUT/cluster.log" | grep -E '^  (deliveries|latency|check|server|broker|loadgen CPU|WARNING|error)' >&2) ||
        status=$?
      ((status == 0)) || { echo "  loadgen exit status $status"; failed=1; }
      stop_all
    done
  done
done

echo
go run ./cmd/benchplot -out "$OUT" "$OUT"
exit "$failed"
