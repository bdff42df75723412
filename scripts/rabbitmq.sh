#!/usr/bin/env bash
# A private RabbitMQ node on loopback, in its own folder, started and stopped
# by pid. Nothing system-wide is touched.
#
#   scripts/rabbitmq.sh start DIR AMQP_PORT [CLUSTER OPTIONS]
#                                             # returns once it accepts connections
#   scripts/rabbitmq.sh stop DIR
#   scripts/rabbitmq.sh ctl DIR ARGS...       # rabbitmqctl against that node
#
# The node is named utpost-<port>@localhost; its distribution port is
# AMQP_PORT + 20000; it has its own epmd on AMQP_PORT + 10000.
#
# Cluster options (scripts/rabbitmq-cluster.sh passes them; a restart of a
# member needs none, its folder remembers them):
#   --epmd-port P   use the epmd on port P (shared by the cluster, left
#                   running by stop) instead of a private one
#   --cookie C      the Erlang cookie shared by the cluster
#   --peer PORT     a member, by AMQP port (repeat; include this node): a
#                   blank node joins the first one that answers (classic
#                   config peer discovery)
set -euo pipefail
cmd=${1:?usage: rabbitmq.sh start|stop|ctl DIR [PORT]}
dir=${2:?DIR}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

env_for() {
  local port=$1
  export HOME="$dir/home"
  export RABBITMQ_NODENAME="utpost-$port@localhost"
  export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
  export RABBITMQ_NODE_PORT=$port
  export RABBITMQ_DIST_PORT=$((port + 20000))
  if [ -f "$dir/epmd_port" ]; then
    ERL_EPMD_PORT=$(cat "$dir/epmd_port")
    export ERL_EPMD_PORT
  else
    export ERL_EPMD_PORT=$((port + 10000))
  fi
  export ERL_EPMD_ADDRESS=127.0.0.1
  export RABBITMQ_CONF_ENV_FILE="$dir/rabbitmq-env.conf"
  export RABBITMQ_CONFIG_FILE="$dir/rabbitmq.conf"
  export RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins"
  export RABBITMQ_MNESIA_BASE="$dir/mnesia"
  export RABBITMQ_LOG_BASE="$dir/log"
  export RABBITMQ_PID_FILE="$dir/rabbitmq.pid"
  # No busy-waiting schedulers: several nodes share a small machine.
  export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1} +sbwt none +sbwtdcpu none +sbwtdio none"
  export RABBITMQ_CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
}

case "$cmd" in
  start)
    port=${3:?AMQP_PORT}
    shift 3
    peers=()
    while [ $# -gt 0 ]; do
      case "$1" in
        --epmd-port) echo "${2:?}" >"$dir/epmd_port"; shift 2 ;;
        --cookie) cookie=${2:?}; shift 2 ;;
        --peer) peers+=("${2:?}"); shift 2 ;;
        *) echo "rabbitmq.sh: unknown option $1" >&2; exit 2 ;;
      esac
    done
    # A member restarted without options keeps the peers it was made with.
    if [ ${#peers[@]} -gt 0 ]; then
      printf '%s\n' "${peers[@]}" >"$dir/peers"
    elif [ -f "$dir/peers" ]; then
      mapfile -t peers <"$dir/peers"
    fi
    echo "$port" >"$dir/port"
    env_for "$port"
    mkdir -p "$HOME" "$RABBITMQ_MNESIA_BASE" "$RABBITMQ_LOG_BASE"
    if [ -n "${cookie:-}" ]; then
      rm -f "$HOME/.erlang.cookie"
      printf '%s' "$cookie" >"$HOME/.erlang.cookie"
      chmod 400 "$HOME/.erlang.cookie"
    fi
    : >"$RABBITMQ_CONF_ENV_FILE"
    {
      echo "listeners.tcp.default = 127.0.0.1:$port"
      echo "loopback_users = none"
      echo "log.console = false"
      echo "log.file.level = warning"
      if [ ${#peers[@]} -gt 0 ]; then
        echo "cluster_formation.peer_discovery_backend = classic_config"
        i=1
        for peer in "${peers[@]}"; do
          echo "cluster_formation.classic_config.nodes.$i = utpost-$peer@localhost"
          i=$((i + 1))
        done
      fi
    } >"$RABBITMQ_CONFIG_FILE"
    echo "[]." >"$RABBITMQ_ENABLED_PLUGINS_FILE"
    rm -f "$RABBITMQ_PID_FILE"
    nohup /usr/lib/rabbitmq/bin/rabbitmq-server >"$dir/server.out" 2>&1 &
    echo $! >"$dir/launcher.pid"
    for _ in $(seq 1 300); do
      if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        exit 0
      fi
      if ! kill -0 "$(cat "$dir/launcher.pid")" 2>/dev/null; then
        echo "rabbitmq.sh: broker exited during start; see $dir/server.out and $dir/log" >&2
        tail -20 "$dir/server.out" >&2 || true
        "$0" stop "$dir"  # Its epmd outlives it.
        exit 1
      fi
      sleep 0.2
    done
    echo "rabbitmq.sh: broker did not accept connections on $port within 60 s" >&2
    "$0" stop "$dir"
    exit 1
    ;;
  stop)
    [ -f "$dir/port" ] || exit 0
    env_for "$(cat "$dir/port")"
    if [ -f "$dir/launcher.pid" ]; then
      pid=$(cat "$dir/launcher.pid")
      /usr/lib/rabbitmq/bin/rabbitmqctl -n "$RABBITMQ_NODENAME" stop >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
      rm -f "$dir/launcher.pid"
    fi
    # epmd outlives the node; stop ours by its port. A cluster's shared
    # epmd is stopped by rabbitmq-cluster.sh once every member is down.
    [ ! -f "$dir/epmd_port" ] || exit 0
    epmd=$(ls /usr/lib/erlang/erts-*/bin/epmd 2>/dev/null | head -1)
    [ -z "$epmd" ] || "$epmd" -port "$ERL_EPMD_PORT" -kill >/dev/null 2>&1 || true
    ;;
  ctl)
    env_for "$(cat "$dir/port")"
    shift 2
    exec /usr/lib/rabbitmq/bin/rabbitmqctl -n "$RABBITMQ_NODENAME" "$@"
    ;;
  *)
    echo "usage: rabbitmq.sh start|stop|ctl DIR [PORT]" >&2
    exit 2
    ;;
esac
