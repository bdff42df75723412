#!/usr/bin/env bash
# The whole stack on this machine: installs what is missing, builds, starts
# a private RabbitMQ on loopback, the provider simulator and utpostd, sends
# a sample batch through it and shows the letters moving until each has
# reached a final state. The stack keeps running afterwards so you can look
# around with build/cli/utpostctl; `scripts/run-local.sh stop` stops it.
#
#   scripts/run-local.sh          # set up, start, send a batch of 40 letters
#   scripts/run-local.sh stop     # stop what it started
#
# Ports: AMQP 5673, utpost-sim 8443, utpostd 7443, its metrics 9464 (HTTP
# /metrics) and health 8081 (plain gRPC), all loopback only. State and logs
# live in .run/local/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
run=$root/.run/local
build=${UTPOST_BUILD_DIR:-$root/build}
amqp_port=5673 sim_port=8443 api_port=7443 metrics_port=9464 health_port=8081

# phase NAME: starts timing a phase; the summary at the end lists each.
phases=() phase_started=$(date +%s.%N)
phase() {
  local now
  now=$(date +%s.%N)
  [ ${#phases[@]} -gt 0 ] && phases[-1]+=" $(awk -v a="$now" -v b="$phase_started" 'BEGIN {printf "%.1f", a - b}')"
  phases+=("$1")
  phase_started=$now
  echo "== $1"
}

stop_all() {
  for p in utpostd utpost-sim; do
    if [ -f "$run/$p.pid" ]; then
      kill "$(cat "$run/$p.pid")" 2>/dev/null || true
      rm -f "$run/$p.pid"
    fi
  done
  scripts/rabbitmq.sh stop "$run/rabbitmq" 2>/dev/null || true
}

if [ "${1:-}" = stop ]; then
  stop_all
  echo "local stack stopped"
  exit 0
fi

phase "installing what is missing"
scripts/install-deps.sh
phase "building"
scripts/build.sh
stop_all
rm -rf "$run"
mkdir -p "$run/batch"

phase "starting RabbitMQ on 127.0.0.1:$amqp_port"
scripts/rabbitmq.sh start "$run/rabbitmq" "$amqp_port"

phase "starting utpost-sim on 127.0.0.1:$sim_port"
"$build/sim/utpost-sim" --listen "127.0.0.1:$sim_port" \
  --cert certs-dev/server.pem --key certs-dev/server.key \
  --persons sim/data/persons.yaml --sender-cert certs-dev/sender.pem \
  --organisations sim/data/organisations.yaml \
  --token-ca certs-dev/ca.pem --require-tokens \
  >"$run/utpost-sim.log" 2>&1 &
echo $! >"$run/utpost-sim.pid"

# wait_for NAME PATTERN: until NAME's log shows PATTERN; fails loudly if
# NAME exits or takes more than 30 s.
wait_for() {
  for _ in $(seq 1 300); do
    grep -q "$2" "$run/$1.log" 2>/dev/null && return 0
    if ! kill -0 "$(cat "$run/$1.pid")" 2>/dev/null; then
      echo "$1 did not start:" >&2
      tail -20 "$run/$1.log" >&2
      stop_all
      exit 1
    fi
    sleep 0.1
  done
  echo "$1 did not start within 30 s; see $run/$1.log" >&2
  stop_all
  exit 1
}
wait_for utpost-sim "listening on"

cat >"$run/utpostd.yaml" <<YAML
# Local development configuration (development certificates only).
server:
  listen: 127.0.0.1:$api_port
  cert_file: $root/certs-dev/server.pem
  key_file: $root/certs-dev/server.key
  client_ca_file: $root/certs-dev/ca.pem
store:
  sqlite_path: $run/utpost.db
broker:
  port: $amqp_port
tenants:
  - organisation_number: "964338531"
    name: Bergen kommune
    return_address: {name: Bergen kommune, address_lines: [Postboks 7700], postal_code: "5020", city: Bergen}
  - organisation_number: "958935420"
    name: Oslo kommune
    return_address: {name: Oslo kommune, address_lines: [Postboks 1], postal_code: "0037", city: Oslo}
operators: [operator]
receipts:
  key_file: $root/certs-dev/receipts.key
  cert_chain_file: $root/certs-dev/receipts.pem
providers:
  ca_file: $root/certs-dev/ca.pem
  registry_url: https://127.0.0.1:$sim_port
  digipost: {url: "https://127.0.0.1:$sim_port", sender_id: "100001", signing_key_file: $root/certs-dev/sender.key, certificate_ca_file: $root/certs-dev/ca.pem}
  # Printed letters get an address cover page for a C5 window envelope.
  print: {url: "https://127.0.0.1:$sim_port", cover_page: true}
  maskinporten:
    token_url: https://127.0.0.1:$sim_port/token
    audience: https://maskinporten.sim/
    client_id: utpost-local
    key_file: $root/certs-dev/sender.key
    cert_chain_file: $root/certs-dev/sender.pem
  business_registry: {url: "https://127.0.0.1:$sim_port"}
  altinn: {url: "https://127.0.0.1:$sim_port", resource_id: utpost-correspondence}
  dpi:
    url: https://127.0.0.1:$sim_port
    signing_key_file: $root/certs-dev/sender.key
    certificate_file: $root/certs-dev/sender.pem
    # The package signature carries the chain up to the root.
    certificate_root_file: $root/certs-dev/ca.pem
    provider_certificate_file: $root/certs-dev/dpi-provider.pem
    provider_ca_file: $root/certs-dev/ca.pem
retry:
  delays_seconds: [2, 5, 10]
  max_attempts: 4
observability:
  metrics_listen: 127.0.0.1:$metrics_port
  health_listen: 127.0.0.1:$health_port
  log_format: text
# Tenants' PDFs are opened in utpost-inspect workers (beside utpostd); the
# defaults, written out.
documents:
  max_pages: 1000
  max_page_tree_depth: 32
  max_decoded_bytes: 268435456
  inspector_workers: 2
  inspection_timeout_seconds: 10
  inspector_memory_bytes: 536870912
  inspector_cpu_seconds: 5
  inspector_letters_per_worker: 64
# Unit prices in øre (made-up figures) for the preflight's expected cost.
pricing:
  currency: NOK
  digital_per_letter: 50
  dpi_per_letter: 60
  altinn_per_letter: 70
  print_per_letter: 300
  print_per_sheet: 40
  postage_b: 2100
  postage_a: 2500
YAML

phase "starting utpostd on 127.0.0.1:$api_port"
"$build/gateway/utpostd" --config "$run/utpostd.yaml" >"$run/utpostd.log" 2>&1 &
echo $! >"$run/utpostd.pid"
wait_for utpostd "utpostd ready"

# A sample batch: the simulator's persons (mailbox, e-Boks, no mailbox,
# reserved, deleted, unregistered) and two of its organisations (one with
# an Altinn inbox, one without: print), in turn (sim/data/*.yaml).
recipients=(01817010055 15838210012 28879110078 30925910089 12860150180
            02916510260 09858810083 23897510170 04847910181 org:910000004
            org:932000008)
for i in $(seq -w 1 40); do
  r=${recipients[$((10#$i % ${#recipients[@]}))]}
  if [[ $r == org:* ]]; then who="organisation: \"${r#org:}\""; else who="person: \"$r\""; fi
  cat >"$run/batch/letter-$i.yaml" <<YAML
client_reference: demo-$i
title: Vedtak om eiendomsskatt 2027 ($i)
recipient:
  $who
  postal_address: {name: Mottaker $i, address_lines: [Storgata $i], postal_code: "5003", city: Bergen}
files: [$root/examples/vedtak.pdf]
YAML
done
# Paths in files: are relative to the letter file unless absolute.

ctl=("$build/cli/utpostctl" --server "127.0.0.1:$api_port")
op=(--cert certs-dev/operator.pem --key certs-dev/operator.key)
phase "preflight of the batch: where the letters would go and what it costs"
"${ctl[@]}" submit --batch "$run/batch" --preflight || true

phase "submitting 40 letters as Bergen kommune"
"${ctl[@]}" submit --batch "$run/batch" --concurrency 8

phase "following the batch (operator view: letters per state)"
# Letters per state from `status --json`, in the order of the letter's
# life, and how many are not final yet.
states_line() {
  python3 -c '
import json, sys
order = ["RECEIVED", "QUEUED", "ROUTED", "SENT_DIGITAL", "SENT_PRINT",
         "DELIVERED", "READ", "PRINTED", "PARKED", "FAILED", "CANCELLED"]
waiting = {"RECEIVED", "QUEUED", "ROUTED", "SENT_DIGITAL"}
counts = {}
for s in json.load(sys.stdin).get("letters", []):
    counts[str(s.get("state"))] = int(s.get("count", 0))
line = " ".join(f"{k}={counts[k]}" for k in order if counts.get(k))
line += "".join(f" {k}={v}" for k, v in counts.items() if k not in order)
print(sum(v for k, v in counts.items() if k in waiting), line)'
}
for _ in $(seq 1 120); do
  if ! status=$("${ctl[@]}" "${op[@]}" status --json 2>&1); then
    printf '\r%-100s' "(status: ${status%%$'\n'*})"
    sleep 1
    continue
  fi
  read -r waiting line < <(echo "$status" | states_line)
  printf '\r%-100s' "$line"
  [ "$waiting" -eq 0 ] && break
  sleep 1
done
echo
phase "final states"
"${ctl[@]}" list --page-size 40
echo
"${ctl[@]}" "${op[@]}" status
phase "done"
echo
echo "time per phase:"
for p in "${phases[@]::${#phases[@]}-1}"; do
  printf '  %-60s %6.1f s\n' "${p% *}" "${p##* }"
done
cat <<EOF

The stack is still running:
  utpostctl:  $build/cli/utpostctl --server 127.0.0.1:$api_port get <letter id>
              (tenant certificate by default; --cert/--key certs-dev/operator.* for status)
  metrics:    http://127.0.0.1:$metrics_port/metrics
  health:     grpc.health.v1 on 127.0.0.1:$health_port (services "liveness", "readiness")
  logs:       $run/utpostd.log, $run/utpost-sim.log
  stop it:    scripts/run-local.sh stop
EOF
