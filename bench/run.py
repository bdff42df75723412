#!/usr/bin/python3
"""Measures Utpost and, in the same run on the same machine, the ceilings it
is built on; prints Utpost's figures as ratios to those ceilings.

  1. utpost-loadgen against a private stack (RabbitMQ, utpost-sim, utpostd,
     started by tests/e2e/harness.py): submit throughput and latency, then
     the time until every letter is final; once for each store engine of
     --store (SQLite, and PostgreSQL on a private server), each on a fresh
     stack.
  2. utpost-bench-broker against the first stack's RabbitMQ node: persistent
     publishes with confirms of messages the size of Utpost's work item.
  3. utpost-bench-echo: unary gRPC echo over the same mutual TLS, the stack
     stopped by then.

While the load runs, utpostd's resident set is sampled; afterwards each
process's CPU seconds during the load are printed (utpostd with its
utpost-inspect workers, utpost-sim, RabbitMQ, PostgreSQL, the load
generator), so a reader sees where the cores went.

Run from anywhere with /usr/bin/python3 (Debian's grpcio). The build folder
is $UTPOST_BUILD_DIR, by default build/ under the repository."""

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BUILD = os.environ.get("UTPOST_BUILD_DIR", "build")
if not os.path.isabs(BUILD):
    BUILD = os.path.join(ROOT, BUILD)
# The harness reads the same variable when it is imported.
os.environ["UTPOST_BUILD_DIR"] = BUILD
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
import harness  # noqa: E402

# The harness generates its Python stubs into a temporary folder at import
# and puts it first on the path; remove it when done.
STUBS = sys.path[0] if os.path.basename(sys.path[0]).startswith(
    "utpost-stubs-") else None


def run(argv):
    """Runs one benchmark program, echoing its output, and returns the JSON
    object of its last JSON line."""
    print("$ " + " ".join(os.path.relpath(a, ROOT) if a.startswith(ROOT)
                          else a for a in argv), flush=True)
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True,
                            cwd=ROOT)
    result = None
    for line in proc.stdout:
        line = line.rstrip("\n")
        if line.startswith("{"):
            try:
                result = json.loads(line)
                continue
            except ValueError:
                pass
        print("  " + line, flush=True)
    # wait4, for the CPU time the program used.
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = rc = os.waitstatus_to_exitcode(status)
    if result is None:
        raise SystemExit(f"{os.path.basename(argv[0])} exited {rc} "
                         "without a result")
    if rc != 0:
        print(f"  ({os.path.basename(argv[0])} exited {rc})", flush=True)
    result["cpu_seconds"] = usage.ru_utime + usage.ru_stime
    return result


class RssSampler(threading.Thread):
    """Samples a process's resident set (VmRSS) every `interval` seconds
    until stopped; `samples` is a list of (seconds since start, KiB)."""

    def __init__(self, pid, interval=0.5):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.samples = []
        self.stopped = threading.Event()

    def run(self):
        start = time.monotonic()
        while not self.stopped.is_set():
            self.samples.append((time.monotonic() - start,
                                 harness.memory_kib(self.pid, "VmRSS")))
            self.stopped.wait(self.interval)

    def stop(self):
        self.stopped.set()
        self.join()

    def at_fractions(self, fractions=(0.1, 0.5, 1.0)):
        """RSS in KiB at these fractions of the sampled time."""
        if not self.samples:
            return {}
        end = self.samples[-1][0]
        out = {}
        for f in fractions:
            t = f * end
            out[f] = next(kib for at, kib in self.samples if at >= t)
        return out


def process_cpu(stack, store):
    """CPU seconds so far of each part of the stack, by name."""
    cpu = {
        # With the utpost-inspect workers it has reaped and those alive.
        "utpostd": harness.cpu_tree(stack.daemon.proc.pid),
        "utpost-sim": harness.cpu_seconds(stack.sim.proc.pid),
        "rabbitmq": harness.cpu_of(stack.broker.dir),
    }
    if store == "postgres":
        cpu["postgres"] = harness.cpu_tree(harness.postgres_server().proc.pid)
    return cpu


def binary(name):
    path = os.path.join(BUILD, "bench", name)
    if not os.access(path, os.X_OK):
        raise SystemExit(f"{path} is missing; build it with cmake --build "
                         f"{os.path.relpath(BUILD, ROOT)} --target {name}")
    return path


def ratio(a, b):
    return a / b if b else float("nan")


STORES = ("sqlite", "postgres")

# The demo's recipients (scripts/run-local.sh), in its proportions: Digipost
# mailboxes, a DPI (e-Boks) mailbox, persons without a mailbox, reserved,
# deleted and unregistered (print or failure), an organisation with an
# Altinn inbox and one without (print).
MIX = ["01817010055", "15838210012", "28879110078", "30925910089",
       "12860150180", "02916510260", "09858810083", "23897510170",
       "04847910181", "org:910000004", "org:932000008"]


def parse_stores(text):
    stores = [s.strip() for s in text.split(",") if s.strip()]
    for s in stores:
        if s not in STORES:
            raise SystemExit(f"--store {text}: {s!r} is not one of "
                             f"{', '.join(STORES)}")
    if not stores or len(set(stores)) != len(stores):
        raise SystemExit(f"--store {text}: name each store once")
    return stores


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-n", type=int, default=2000, help="letters to submit")
    p.add_argument("-c", type=int, default=32, help="submits in flight")
    p.add_argument("--rate", type=float, default=0,
                   help="letters a second at most (0: as fast as they "
                   "complete), to measure latency below saturation")
    p.add_argument("--store", default="sqlite",
                   help="the daemon's store engines, comma-separated, each "
                   "measured on a fresh stack in this run: sqlite, postgres "
                   "or sqlite,postgres (default sqlite)")
    p.add_argument("--mix", action="store_true",
                   help="the demo's mix of recipients (digital, DPI, Altinn, "
                   "print) instead of Digipost mailboxes only")
    p.add_argument("--bulk", action="store_true",
                   help="submit through SubmitBatch streams (one per "
                   "connection) instead of unary calls")
    p.add_argument("--connections", type=int, default=1,
                   help="the load generator's connections (with --bulk: "
                   "streams)")
    p.add_argument("--wait-timeout", type=int, default=1800,
                   help="seconds the load generator waits for final states")
    p.add_argument("--pdf-bytes", type=int, default=10240)
    p.add_argument("--broker-messages", type=int, default=20000)
    p.add_argument("--broker-in-flight", type=int, default=100)
    p.add_argument("--echo-requests", type=int, default=20000)
    args = p.parse_args()
    stores = parse_stores(args.store)

    loadgen = binary("utpost-loadgen")
    broker_bench = binary("utpost-bench-broker")
    echo = binary("utpost-bench-echo")
    certs = harness.CERTS
    persons = MIX if args.mix else harness.load_persons()["mailbox"]

    loads = {}
    broker = None
    for store in stores:
        # The harness reads its store engine when a Stack writes its
        # configuration; a PostgreSQL stack gets a fresh database on this
        # process's private server.
        harness.STORE_ENGINE = store
        print(f"== store: {store}", flush=True)
        with harness.Stack() as stack:
            cpu_before = process_cpu(stack, store)
            sampler = RssSampler(stack.daemon.proc.pid)
            sampler.start()
            loads[store] = run([
                loadgen, "--server", f"127.0.0.1:{stack.api_port}",
                "--ca", f"{certs}/ca.pem",
                "--cert", f"{certs}/tenant-{harness.BERGEN}.pem",
                "--key", f"{certs}/tenant-{harness.BERGEN}.key",
                "-n", str(args.n), "-c", str(args.c),
                "--pdf-bytes", str(args.pdf_bytes),
                "--persons", ",".join(persons), "--wait-delivered",
                "--connections", str(args.connections),
                "--rate", str(args.rate),
                "--wait-timeout", str(args.wait_timeout)]
                + (["--bulk"] if args.bulk else []))
            sampler.stop()
            cpu_after = process_cpu(stack, store)
            cpu = {name: cpu_after[name] - cpu_before[name]
                   for name in cpu_after}
            cpu["utpost-loadgen"] = loads[store]["cpu_seconds"]
            loads[store]["process_cpu_seconds"] = cpu
            loads[store]["utpostd_peak_rss_kib"] = harness.memory_kib(
                stack.daemon.proc.pid, "VmHWM")
            loads[store]["utpostd_rss_kib"] = sampler.at_fractions()
            if broker is None:
                broker = run([
                    broker_bench, "--port", str(stack.broker.port),
                    "--messages", str(args.broker_messages),
                    "--in-flight", str(args.broker_in_flight)])
    grpc_echo = run([
        echo, "-n", str(args.echo_requests), "-c", str(args.c),
        "--payload-bytes", str(args.pdf_bytes),
        "--ca", f"{certs}/ca.pem", "--server-cert", f"{certs}/server.pem",
        "--server-key", f"{certs}/server.key",
        "--cert", f"{certs}/tenant-{harness.BERGEN}.pem",
        "--key", f"{certs}/tenant-{harness.BERGEN}.key"])

    broker_rate = broker["messages_per_second"]
    echo_rate = grpc_echo["requests_per_second"]
    rows = [
        ("raw broker: publish + confirm",
         f"{broker_rate:,.0f} msgs/s ({broker['message_bytes']} B, "
         f"windows of {broker['in_flight']})"),
        ("raw gRPC: unary echo, mTLS",
         f"{echo_rate:,.0f} req/s ({grpc_echo['payload_bytes']} B, "
         f"{grpc_echo['concurrency']} in flight, p99 "
         f"{grpc_echo['latency_ms']['p99']:.1f} ms)"),
    ]
    summaries = {}
    for store, load in loads.items():
        submit = load["submit_per_second"]
        delivered = load.get("delivered_per_second", 0.0)
        lat = load["latency_ms"]
        rows += [
            (f"[{store}] submit throughput", f"{submit:,.0f} letters/s"),
            (f"[{store}] submit latency p50 / p99",
             f"{lat['p50']:.1f} / {lat['p99']:.1f} ms"),
            (f"[{store}] all final, from first submit",
             f"{load.get('all_final_seconds', float('nan')):.2f} s "
             f"({load.get('final', 0)}/{load.get('final_expected', 0)} "
             f"final, {load.get('handed_off', 0)} handed to a provider)"),
            (f"[{store}] delivered rate", f"{delivered:,.0f} letters/s"),
            (f"[{store}] stored to handed to a provider p50 / p99",
             "{p50:.0f} / {p99:.0f} ms".format(
                 **load.get("to_handed_off_ms",
                            {"p50": float("nan"), "p99": float("nan")}))),
            (f"[{store}] submit rate / raw gRPC rate",
             f"{ratio(submit, echo_rate):.3g}"),
            (f"[{store}] submit rate / raw broker rate",
             f"{ratio(submit, broker_rate):.3g}"),
            (f"[{store}] delivered rate / raw gRPC rate",
             f"{ratio(delivered, echo_rate):.3g}"),
            (f"[{store}] delivered rate / raw broker rate",
             f"{ratio(delivered, broker_rate):.3g}"),
            (f"[{store}] utpostd RSS peak; at 10 / 50 / 100 % of the run",
             f"{load['utpostd_peak_rss_kib'] / 1024:.0f} MiB; " + " / ".join(
                 f"{kib / 1024:.0f}" for kib in
                 load["utpostd_rss_kib"].values()) + " MiB"),
            (f"[{store}] CPU seconds during the run",
             ", ".join(f"{name} {sec:.1f}" for name, sec in
                       load["process_cpu_seconds"].items())),
        ]
        summaries[store] = {
            "submit_per_second": submit, "latency_ms": lat,
            "all_final_seconds": load.get("all_final_seconds"),
            "delivered_per_second": delivered,
            "to_handed_off_ms": load.get("to_handed_off_ms"),
            "submit_to_raw_grpc": ratio(submit, echo_rate),
            "submit_to_raw_broker": ratio(submit, broker_rate),
            "delivered_to_raw_grpc": ratio(delivered, echo_rate),
            "delivered_to_raw_broker": ratio(delivered, broker_rate),
            "utpostd_peak_rss_kib": load["utpostd_peak_rss_kib"],
            "utpostd_rss_kib": {f"{int(f * 100)}%": kib for f, kib in
                                load["utpostd_rss_kib"].items()},
            "process_cpu_seconds": load["process_cpu_seconds"],
            "complete": bool(load.get("complete")),
        }
    width = max(len(r[0]) for r in rows)
    print()
    print(f"Utpost: {args.n} letters, "
          + (f"SubmitBatch on {args.connections} stream(s)" if args.bulk
             else f"{args.c} in flight") + ", "
          + ("the demo's mix of recipients" if args.mix
             else "Digipost mailboxes") + ", "
          f"{args.pdf_bytes}-byte PDF, store {', '.join(stores)}; "
          "ceilings measured in the same run")
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")
    summary = {
        "letters": args.n, "concurrency": args.c, "bulk": args.bulk,
        "mix": args.mix, "connections": args.connections,
        "raw_broker_messages_per_second": broker_rate,
        "raw_grpc_requests_per_second": echo_rate,
        "stores": summaries,
        "complete": all(s["complete"] for s in summaries.values()),
    }
    print(json.dumps(summary))
    return 0 if summary["complete"] else 1


if __name__ == "__main__":
    try:
        rc = main()
    finally:
        if STUBS:
            shutil.rmtree(STUBS, ignore_errors=True)
    sys.exit(rc)
