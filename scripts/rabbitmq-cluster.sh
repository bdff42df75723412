#!/usr/bin/env bash
# A private RabbitMQ cluster on loopback, in its own folder: N nodes made
# with scripts/rabbitmq.sh, started and stopped by pid. Nothing system-wide
# is touched.
#
#   scripts/rabbitmq-cluster.sh start DIR BASE_PORT [N]  # default N = 3
#   scripts/rabbitmq-cluster.sh stop DIR                 # every node, and epmd
#   scripts/rabbitmq-cluster.sh stop-node DIR I          # I in 1..N
#   scripts/rabbitmq-cluster.sh kill-node DIR I          # SIGKILL, no goodbye
#   scripts/rabbitmq-cluster.sh start-node DIR I         # rejoins the cluster
#   scripts/rabbitmq-cluster.sh ports DIR                # AMQP ports, one a line
#   scripts/rabbitmq-cluster.sh ctl DIR I ARGS...        # rabbitmqctl on node I
#
# Node I (1-based) listens for AMQP on BASE_PORT + I - 1, is named
# utpost-<that port>@localhost and lives in DIR/node<I>; its distribution
# port is its AMQP port + 20000. All nodes share one epmd on
# BASE_PORT + 10000 and one Erlang cookie. Node 1 starts first; the others
# then start together and join it (classic config peer discovery), and
# `start` returns once every node runs and sees all N as running members.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
node_sh="$here/rabbitmq.sh"
cmd=${1:?usage: rabbitmq-cluster.sh start|stop|stop-node|kill-node|start-node|ports|ctl DIR ...}
dir=${2:?DIR}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

count() { cat "$dir/count"; }
base() { cat "$dir/base_port"; }
node_dir() { echo "$dir/node$1"; }

check_index() {
  local i=$1
  if ! [[ "$i" =~ ^[0-9]+$ ]] || [ "$i" -lt 1 ] || [ "$i" -gt "$(count)" ]; then
    echo "rabbitmq-cluster.sh: no node $i (1..$(count))" >&2
    exit 2
  fi
}

# Waits until node I reports as running every node started here (those
# with a launcher pid), which is all N after `start`.
await_members() {
  local i=$1 n=0 j
  for j in $(seq 1 "$(count)"); do
    [ ! -f "$(node_dir "$j")/launcher.pid" ] || n=$((n + 1))
  done
  for _ in $(seq 1 150); do
    running=$("$node_sh" ctl "$(node_dir "$i")" cluster_status --formatter json 2>/dev/null |
      python3 -c 'import json,sys; print(len(json.load(sys.stdin).get("running_nodes", [])))' \
        2>/dev/null || echo 0)
    [ "$running" = "$n" ] && return 0
    sleep 0.4
  done
  echo "rabbitmq-cluster.sh: node $i does not see $n running nodes within 60 s" >&2
  return 1
}

start_node() {
  local i=$1 b port
  b=$(base)
  port=$((b + i - 1))
  local args=(start "$(node_dir "$i")" "$port")
  if [ ! -f "$(node_dir "$i")/port" ]; then
    args+=(--epmd-port "$((b + 10000))" --cookie "$(cat "$dir/cookie")")
    for j in $(seq 1 "$(count)"); do args+=(--peer "$((b + j - 1))"); done
  fi
  "$node_sh" "${args[@]}"
}

case "$cmd" in
  start)
    b=${3:?BASE_PORT}
    n=${4:-3}
    echo "$b" >"$dir/base_port"
    echo "$n" >"$dir/count"
    [ -f "$dir/cookie" ] || od -An -N16 -tx1 /dev/urandom | tr -d ' \n' | tr a-f A-F >"$dir/cookie"
    started=$(date +%s.%N)
    if ! start_node 1; then "$0" stop "$dir"; exit 1; fi
    pids=()
    for i in $(seq 2 "$n"); do
      start_node "$i" &
      pids+=($!)
    done
    ok=1
    for pid in "${pids[@]}"; do wait "$pid" || ok=0; done
    if [ "$ok" = 1 ]; then
      for i in $(seq 1 "$n"); do await_members "$i" || { ok=0; break; }; done
    fi
    if [ "$ok" != 1 ]; then
      echo "rabbitmq-cluster.sh: cluster did not form; see $dir/node*/log" >&2
      "$0" stop "$dir"
      exit 1
    fi
    echo "rabbitmq-cluster.sh: $n nodes up in $(python3 -c "import time; print(round(time.time() - $started, 1))") s" >&2
    ;;
  stop)
    [ -f "$dir/count" ] || exit 0
    for i in $(seq 1 "$(count)"); do
      "$node_sh" stop "$(node_dir "$i")" &
    done
    wait
    epmd=$(ls /usr/lib/erlang/erts-*/bin/epmd 2>/dev/null | head -1)
    [ -z "$epmd" ] || "$epmd" -port "$(($(base) + 10000))" -kill >/dev/null 2>&1 || true
    ;;
  stop-node)
    i=${3:?I}
    check_index "$i"
    "$node_sh" stop "$(node_dir "$i")"
    ;;
  kill-node)
    i=${3:?I}
    check_index "$i"
    d=$(node_dir "$i")
    # The Erlang VM's pid is in the pid file the node writes; the launcher
    # (nohup'd rabbitmq-server) ends with it.
    for f in "$d/rabbitmq.pid" "$d/launcher.pid"; do
      [ ! -f "$f" ] || kill -9 "$(cat "$f")" 2>/dev/null || true
    done
    for _ in $(seq 1 50); do
      if [ ! -f "$d/launcher.pid" ] || ! kill -0 "$(cat "$d/launcher.pid")" 2>/dev/null; then
        break
      fi
      sleep 0.1
    done
    rm -f "$d/launcher.pid" "$d/rabbitmq.pid"
    ;;
  start-node)
    i=${3:?I}
    check_index "$i"
    start_node "$i"
    await_members "$i"
    ;;
  ports)
    for i in $(seq 1 "$(count)"); do echo $(($(base) + i - 1)); done
    ;;
  ctl)
    i=${3:?I}
    check_index "$i"
    shift 3
    exec "$node_sh" ctl "$(node_dir "$i")" "$@"
    ;;
  *)
    echo "usage: rabbitmq-cluster.sh start|stop|stop-node|kill-node|start-node|ports|ctl DIR ..." >&2
    exit 2
    ;;
esac
