"""Scale-out under faults: two api and three worker processes of
utpostd on one PostgreSQL database and a three-node RabbitMQ cluster, all on
loopback. N letters (UTPOST_SCALEOUT_LETTERS, default 10000) go in through
both api processes, many in flight, to every channel: Digipost, DPI
(e-Boks), Altinn (an organisation's inbox), print, and print after a
digital letter is not read in time. In the middle of the batch one worker is
killed with SIGKILL and one broker node is stopped.

Then: every letter reaches the final state its recipient calls for; the
simulator accepted each letter once on each provider it should reach and
on no other (a resend cut off by the kill is refused there as a repeat and
counted); every timer fired at most once, and exactly once for the letters
that were never read; the exported receipt log verifies with
tests/audit/verify_export.py, with consistency proofs from the tree head
taken before the faults to the one after. Figures are printed."""

import collections
import concurrent.futures
import json
import os
import re
import subprocess
import sys
import threading
import time
import unittest

import grpc
from harness import (BERGEN, BUILD, CERTS, CTL, FINAL_STATES, OSLO, ROOT,
                     Letter, Process, cpu_of, cpu_seconds, cpu_tree,
                     free_port, letter_pb2, letter_pb2_grpc, load_persons,
                     make_pdf, read, submit_request, write)
from postgres_server import PostgresServer
from rabbit_cluster import ClusterStack
from utpost.v1 import audit_pb2, audit_pb2_grpc

sys.path.insert(0, os.path.join(ROOT, "tests", "audit"))
import verify_export  # noqa: E402

PYTHON = "/usr/bin/python3"
LETTERS = int(os.environ.get("UTPOST_SCALEOUT_LETTERS", "10000"))
# An organisation of sim/data/organisations.yaml with an Altinn inbox.
ORG_WITH_INBOX = "921000006"
DTP = letter_pb2.DeliveryPolicy.DIGITAL_THEN_PRINT
# Unread letters go to print this long after they reached the mailbox;
# the reader (sim/data/persons.yaml) opens hers after 5 s, well before
# her letters' deadline. The gateway learns of a read from the provider's
# event feed, which every worker polls and which lags behind by tens of
# seconds when a loaded machine has thousands of events to apply: a read
# learnt after the deadline rightly sends the letter to print, so the
# deadline leaves room for that.
UNREAD_AFTER = 3
READER_AFTER = 300
FALLBACK_REASON = "not read in time"

# Handed to the print provider, which reports it posted a little later
# (sim/print.h): a letter left in SENT_PRINT lost the provider's report.
PRINT_STATES = ("PRINTED",)
# Every kind of letter of the batch, out of 20: what its recipient is, and
# the final state and the providers (sim/v1/deliveries keys) it must reach.
KINDS = (
    [("digipost", "DELIVERED", ("digipost",))] * 10
    + [("dpi", "DELIVERED", ("dpi",))] * 2
    + [("altinn", "DELIVERED", ("altinn",))] * 2
    + [("print", PRINT_STATES, ("print",))] * 2
    + [("unread", PRINT_STATES, ("digipost", "print"))] * 2
    + [("reader", "READ", ("digipost",))] * 2
)
PROVIDERS = ("digipost", "dpi", "altinn", "print")
# One letter in this many is Oslo's, the rest Bergen's: Oslo's export is
# small enough for tests/audit/verify_export.py to check as an auditor runs
# it (one openssl process per signature); Bergen's, with most of the
# letters, goes through the same checks with each signature verified in
# this process (see SignatureChecker).
OSLO_EVERY = 51  # Prime to len(KINDS): Oslo gets every kind.


def kind_of(i):
    return KINDS[i % len(KINDS)]


def tenant_of(i):
    return OSLO if i % OSLO_EVERY == OSLO_EVERY - 1 else BERGEN


class SignatureChecker(verify_export.JwsChecker):
    """verify_export.JwsChecker with the same checks, but each ES256
    signature verified by OpenSSL through Debian's python3-cryptography in
    this process rather than by one openssl process per signature (tens of
    thousands here). Certificate chains are still checked by the openssl
    command line, once per signing certificate."""

    def __init__(self, ca_file, work):
        super().__init__(ca_file, work)
        self.loaded = {}

    def verify(self, jws):
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec, utils
        parts = jws.split(".")
        if len(parts) != 3:
            raise ValueError("not a compact JWS")
        header = json.loads(verify_export.b64url(parts[0]))
        if header.get("alg") != "ES256" or not header.get("x5c"):
            raise ValueError("not ES256 with x5c")
        pub = self._key_for(header["x5c"])
        if pub not in self.loaded:
            self.loaded[pub] = serialization.load_pem_public_key(read(pub))
        sig = verify_export.b64url(parts[2])
        if len(sig) != 64:
            raise ValueError("signature is not 64 bytes")
        der = utils.encode_dss_signature(int.from_bytes(sig[:32], "big"),
                                         int.from_bytes(sig[32:], "big"))
        try:
            self.loaded[pub].verify(der, (parts[0] + "." + parts[1]).encode(),
                                    ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            raise ValueError("signature does not verify") from None
        return json.loads(verify_export.b64url(parts[1]))


class ScaleoutStack(ClusterStack):
    """ClusterStack whose daemons keep their state in `pg`; `self.daemon`
    is the first api process; start_process() adds more, each with its own
    api, metrics and health ports."""

    def __init__(self, pg, **kw):
        self.pg = pg
        self.processes = {}
        super().__init__(nodes=3, **kw)

    def write_config(self, role):
        super().write_config(role)
        password_file = os.path.join(self.work, "store-password")
        write(password_file, (self.pg.password + "\n").encode())
        text = read(self.config_path()).decode()
        store = (f"store:\n  engine: postgres\n  postgres:\n"
                 f"    conninfo: \"{self.pg.conninfo()}\"\n"
                 f"    password_file: {password_file}\n    pool_size: 4\n")
        text, n = re.subn(r"store:\n  sqlite_path: [^\n]*\n", store, text)
        if n != 1:
            raise RuntimeError("no store block in the daemon configuration")
        write(self.config_path(), text)

    def start_process(self, name, role):
        """Starts one more utpostd on the same store, cluster and providers;
        returns its Process, with api_port and metrics_port set."""
        text = read(self.config_path()).decode()
        api_port, metrics_port = free_port(), free_port()
        for old, new in ((self.api_port, api_port),
                         (self.metrics_port, metrics_port),
                         (self.health_port, free_port())):
            text = text.replace(f"127.0.0.1:{old}\n", f"127.0.0.1:{new}\n")
        path = os.path.join(self.work, name + ".yaml")
        write(path, text)
        p = Process(name, [os.path.join(BUILD, "gateway", "utpostd"),
                           "--config", path, "--role", role],
                    self.log_dir, r"utpostd ready")
        p.api_port, p.metrics_port, p.role = api_port, metrics_port, role
        self.processes[name] = p
        return p

    def close(self, keep=False):
        for p in self.processes.values():
            p.stop()
        self.processes = {}
        super().close(keep)

    def channel_to(self, port, cert=f"{CERTS}/tenant-{BERGEN}.pem",
                   key=f"{CERTS}/tenant-{BERGEN}.key"):
        creds = grpc.ssl_channel_credentials(
            root_certificates=read(f"{CERTS}/ca.pem"),
            private_key=read(key), certificate_chain=read(cert))
        return grpc.secure_channel(f"127.0.0.1:{port}", creds)


def rfc3339(text):
    """Unix seconds of a receipt's time ("2026-12-01T23:02:22.419Z")."""
    from datetime import datetime
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def scrape(port):
    """Sums of the counters a process reports: {metric: total}."""
    import urllib.request
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics",
                                    timeout=10) as r:
            text = r.read().decode()
    except OSError:
        return {}
    out = collections.Counter()
    for line in text.splitlines():
        m = re.match(r"(utpost_[a-z_]+_total)(\{[^}]*\})? ([0-9.e+]+)$",
                     line)
        if m:
            out[m.group(1)] += float(m.group(3))
    return out


class ScaleoutTest(unittest.TestCase):
    def test_letters_survive_a_killed_worker_and_a_stopped_node(self):
        started = time.monotonic()
        with PostgresServer() as pg, ScaleoutStack(
                pg, role="api", retry_delays=(1, 2, 4), max_attempts=8,
                extra_config=(
                    "dispatch: {event_poll_interval_seconds: 1, "
                    "timer_scan_interval_ms: 200}\n"
                    "receipt_log:\n  tree_head_interval_seconds: 10\n")
        ) as stack:
            self.run_scenario(stack, pg, started)

    def run_scenario(self, stack, pg, started):
        persons = load_persons()
        cluster = stack.cluster
        print(f"cluster of 3 up in {cluster.start_seconds:.1f} s", flush=True)
        stack.daemon.api_port = stack.api_port
        stack.daemon.metrics_port = stack.metrics_port
        apis = [stack.daemon, stack.start_process("utpostd-api-2", "api")]
        workers = [stack.start_process(f"utpostd-worker-{i}", "worker")
                   for i in (1, 2, 3)]
        stubs = {t: [letter_pb2_grpc.LetterServiceStub(stack.channel_to(
            p.api_port, cert=f"{CERTS}/tenant-{t}.pem",
            key=f"{CERTS}/tenant-{t}.key")) for p in apis]
            for t in (BERGEN, OSLO)}
        pdf = make_pdf("Vedtak om skalering")

        def request(i):
            kind = kind_of(i)[0]
            ref = f"scale-{i}"
            if kind == "digipost":
                people = persons["mailbox"]
                return submit_request(person=people[i % len(people)], ref=ref,
                                      documents=[("vedtak.pdf", pdf)])
            if kind == "dpi":
                return submit_request(person=persons["eboks"][0], ref=ref,
                                      documents=[("vedtak.pdf", pdf)])
            if kind == "altinn":
                return submit_request(organisation=ORG_WITH_INBOX, ref=ref,
                                      documents=[("vedtak.pdf", pdf)],
                                      address=False)
            if kind == "print":
                return submit_request(person=persons["nomailbox"][0], ref=ref,
                                      documents=[("vedtak.pdf", pdf)])
            if kind == "unread":
                return submit_request(person=persons["mailbox"][0], ref=ref,
                                      documents=[("vedtak.pdf", pdf)],
                                      mode=DTP,
                                      print_if_unread_after=UNREAD_AFTER)
            return submit_request(person=persons["reader"][0], ref=ref,
                                  documents=[("vedtak.pdf", pdf)], mode=DTP,
                                  print_if_unread_after=READER_AFTER)

        ids = [None] * LETTERS
        via = collections.Counter()
        retried = collections.Counter()
        lock = threading.Lock()

        def submit(i):
            # Alternate api processes; a failed call goes to the other one
            # with the same client reference, which makes it idempotent.
            req = request(i)
            last = None
            for attempt in range(8):
                api = (i + attempt) % len(apis)
                try:
                    r = stubs[tenant_of(i)][api].SubmitLetter(req, timeout=60)
                except grpc.RpcError as e:
                    last = e
                    with lock:
                        retried[e.code().name] += 1
                    time.sleep(0.2 * (attempt + 1))
                    continue
                ids[i] = r.letter.id
                with lock:
                    via[apis[api].name] += 1
                return
            raise AssertionError(f"letter {i} not accepted: {last}")

        submitted = [0]

        def submit_all():
            with concurrent.futures.ThreadPoolExecutor(32) as pool:
                for _ in pool.map(submit, range(LETTERS)):
                    submitted[0] += 1

        audit = audit_pb2_grpc.ReceiptLogServiceStub(
            stack.channel_to(apis[1].api_port))
        submit_started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(1) as bg:
            batch = bg.submit(submit_all)
            # The faults come in the middle of the batch, with letters
            # still coming in and many on their way.
            stack.wait_until(
                lambda: batch.done() or submitted[0] >= LETTERS * 2 // 5,
                "two fifths of the batch submitted", timeout=1200,
                interval=0.1)
            fault_submitted = submitted[0]
            before = audit.GetTreeHead(
                audit_pb2.GetTreeHeadRequest(fresh=True), timeout=60)
            at_fault = stack.deliveries()
            delivered_at_fault = sum(
                sum(c["accepted"] for c in at_fault[p].values())
                for p in PROVIDERS)
            victim = workers[0]
            victim_metrics = scrape(victim.metrics_port)
            fault_at = time.monotonic()
            victim.kill9()
            cluster.stop_node(0)
            print(f"faults at {fault_at - submit_started:.1f} s: "
                  f"{fault_submitted} submitted, {delivered_at_fault} "
                  f"accepted by providers, tree head {before.tree_size}; "
                  f"{victim.name} killed (SIGKILL), broker node "
                  f"{cluster.node(0)} stopped", flush=True)
            batch.result()
        # The faults came while letters were on their way.
        self.assertLess(delivered_at_fault, LETTERS)
        submit_seconds = time.monotonic() - submit_started
        print(f"{LETTERS} letters submitted in {submit_seconds:.1f} s "
              f"({dict(via)}; retried calls {dict(retried)})", flush=True)
        self.assertNotIn(None, ids)
        self.assertEqual(len(set(ids)), LETTERS)
        # The batch went through both api processes.
        for p in apis:
            self.assertGreater(via[p.name], 0, p.name)

        # Every letter final and every timer gone (fired, or cleared by the
        # read); progress as it goes. SENT_PRINT is final for a letter but
        # the provider's POSTED report follows here.
        final = ",".join(str(s) for s in sorted(FINAL_STATES - {
            Letter.SENT_PRINT}))
        names = {Letter.State.Value(n): n for n in Letter.State.keys()}

        def progress():
            rows = pg.psql("SELECT state, COUNT(*) FROM letters "
                           "GROUP BY state ORDER BY state").splitlines()
            by_state = {names[int(s)]: int(n) for s, n in
                        (r.split("|") for r in rows)}
            done = int(pg.psql(f"SELECT COUNT(*) FROM letters WHERE state "
                               f"IN ({final})"))
            timers = int(pg.psql("SELECT COUNT(*) FROM timers"))
            return by_state, done, timers

        deadline = time.monotonic() + max(300, LETTERS // 10)
        last_print = 0
        while True:
            by_state, done, timers = progress()
            if done == LETTERS and timers == 0:
                break
            if time.monotonic() - last_print >= 10:
                print(f"  {time.monotonic() - submit_started:6.1f} s: "
                      f"{done}/{LETTERS} final, {timers} timers, {by_state}",
                      flush=True)
                last_print = time.monotonic()
            if time.monotonic() > deadline:
                self.fail(f"not every letter final: {by_state}, "
                          f"{timers} timers left; e.g.\n"
                          + self.describe_unfinished(pg, ids, final))
            time.sleep(1)
        all_seconds = time.monotonic() - submit_started
        print(f"every letter final {all_seconds:.1f} s after the first "
              f"submit: {by_state}", flush=True)

        # Each letter in the state its recipient calls for.
        states = dict(r.split("|") for r in pg.psql(
            "SELECT id, state FROM letters").splitlines())
        self.assertEqual(len(states), LETTERS)
        wrong = collections.Counter()
        for i, lid in enumerate(ids):
            kind, want, _ = kind_of(i)
            got = names[int(states[lid])]
            if got not in (want if isinstance(want, tuple) else (want,)):
                wrong[(kind, got)] += 1
        self.assertEqual(dict(wrong), {}, "letters not where they belong")

        # The providers took each letter once, where it belongs.
        counts = stack.deliveries()
        twice, repeats, misplaced = 0, 0, []
        for i, lid in enumerate(ids):
            kind, _, reach = kind_of(i)
            for p in PROVIDERS:
                c = counts[p].get(lid)
                if c:
                    repeats += c["duplicates"]
                    twice += max(0, c["accepted"] - 1)
                if (c is not None and c["accepted"] > 0) != (p in reach):
                    misplaced.append((lid, kind, p, c))
        self.assertEqual(twice, 0)
        self.assertEqual(misplaced[:5], [], f"{len(misplaced)} misplaced")
        # Only letters of this batch reached the providers.
        ours = set(ids)
        for p in PROVIDERS:
            self.assertEqual(set(counts[p]) - ours, set(), p)

        after = audit.GetTreeHead(audit_pb2.GetTreeHeadRequest(fresh=True),
                                  timeout=60)
        self.assertGreater(after.tree_size, before.tree_size)
        proof = audit.GetConsistencyProof(audit_pb2.GetConsistencyProofRequest(
            first=before.tree_size, second=after.tree_size), timeout=60)
        self.assertTrue(verify_export.verify_consistency(
            before.tree_size, after.tree_size, before.root_hash,
            after.root_hash, list(proof.hashes)),
            "the head after the faults does not extend the one before")

        # The exports, from the head before the faults on: Oslo's checked
        # by verify_export.py as an auditor runs it, Bergen's by the same
        # checks with the signatures verified in this process.
        heads = {}
        receipts = collections.defaultdict(list)
        figures = collections.Counter()
        timings = {}
        for tenant in (OSLO, BERGEN):
            export = os.path.join(stack.work, f"export-{tenant}.jsonl")
            t0 = time.monotonic()
            r = subprocess.run(
                [CTL, "--server", f"127.0.0.1:{apis[0].api_port}",
                 "--cert", f"{CERTS}/tenant-{tenant}.pem",
                 "--key", f"{CERTS}/tenant-{tenant}.key", "audit", "export",
                 "--heads-since", str(before.tree_size), "-o", export],
                cwd=ROOT, capture_output=True, text=True, timeout=900)
            self.assertEqual(r.returncode, 0, r.stderr)
            timings[f"export {tenant}"] = time.monotonic() - t0
            t0 = time.monotonic()
            if tenant == OSLO:
                r = subprocess.run(
                    [PYTHON, os.path.join(ROOT, "tests", "audit",
                                          "verify_export.py"),
                     export, "--ca", f"{CERTS}/ca.pem"],
                    capture_output=True, text=True, timeout=1800)
                self.assertEqual(r.returncode, 0,
                                 r.stdout[-3000:] + r.stderr)
                self.assertIn("NOTE complete", r.stdout)
                counts = {k: int(v) for k, v in re.findall(
                    r"(\w+) (\d+)", r.stdout.splitlines()[-1])}
            else:
                notes = []
                faults, counts = verify_export.verify_file(
                    export, f"{CERTS}/ca.pem", notes,
                    checker_class=SignatureChecker)
                self.assertEqual(faults[:10], [], f"{len(faults)} faults")
                self.assertTrue(any(n.startswith("complete") for n in notes),
                                notes)
            timings[f"verify {tenant}"] = time.monotonic() - t0
            figures.update({f"{k} {tenant}": v for k, v in counts.items()})
            heads[tenant] = []
            with open(export) as f:
                for line in f:
                    item = json.loads(line)
                    if item["type"] == "tree_head":
                        heads[tenant].append(item)
                    elif item["type"] == "receipt":
                        payload = json.loads(verify_export.b64url(
                            item["jws"].split(".")[1]))
                        self.assertEqual(payload["tenant"], tenant)
                        receipts[item["letter_id"]].append(payload)
            # The chain of heads starts at the one taken before the faults
            # and reaches past the one after; each link verified above.
            chain = heads[tenant]
            self.assertGreaterEqual(len(chain), 2)
            self.assertEqual(chain[0]["tree_size"], before.tree_size)
            self.assertEqual(bytes.fromhex(chain[0]["root_hash"]),
                             before.root_hash)
            self.assertGreaterEqual(chain[-1]["tree_size"], after.tree_size)
            self.assertEqual(counts["consistency"], len(chain) - 1)
            self.assertEqual(counts["inclusion"], counts["receipts"])
        self.assertEqual(set(receipts), ours)

        # No state change twice: each state once per letter (ROUTED twice
        # for the fallback to print), and every timer fired once at most:
        # once for the letters never read, never for the read ones.
        fired = collections.Counter()
        repeated = []
        read_lag = []  # Seconds from the mailbox to the gateway's READ.
        for i, lid in enumerate(ids):
            kind = kind_of(i)[0]
            seq = sorted(receipts[lid], key=lambda p: p["seq"])
            self.assertEqual([p["seq"] for p in seq],
                             list(range(1, len(seq) + 1)), lid)
            n = collections.Counter(p["state"] for p in seq)
            allowed = {"ROUTED": 2 if kind == "unread" else 1}
            for state, times in n.items():
                if times > allowed.get(state, 1):
                    repeated.append((lid, kind, state, times))
            fallbacks = sum(FALLBACK_REASON in p["reason"] for p in seq)
            fired[kind, fallbacks] += 1
            if kind == "reader" and n["READ"] == 1:
                at = {p["state"]: rfc3339(p["time"]) for p in seq}
                read_lag.append(at["READ"] - at["DELIVERED"])
        self.assertEqual(repeated[:5], [], f"{len(repeated)} repeated")
        for (kind, fallbacks), n in fired.items():
            self.assertEqual(fallbacks, 1 if kind == "unread" else 0,
                             (kind, n))

        # Where the machine's time went: CPU seconds of each part.
        cpu = {p.name: cpu_seconds(p.proc.pid) for p in apis + workers
               if p is not victim}
        cpu["utpost-sim"] = cpu_seconds(stack.sim.proc.pid)
        cpu["postgres"] = cpu_tree(pg.proc.pid)
        cpu["rabbitmq"] = cpu_of(cluster.dir)
        cpu["client and checks"] = sum(os.times()[:4])
        per_process = {}
        for p in workers:
            m = victim_metrics if p is victim else scrape(p.metrics_port)
            per_process[p.name] = int(
                m.get("utpost_provider_requests_total", 0))
        for p in apis:
            per_process[p.name] = via[p.name]
        print("figures: "
              f"letters {LETTERS}; submitted in {submit_seconds:.1f} s; all "
              f"final after {all_seconds:.1f} s; delivered twice {twice}; "
              f"repeats refused by providers {repeats}; timers fired "
              f"{sum(n for (k, f), n in fired.items() if f)}; reads learnt "
              f"{min(read_lag, default=0):.0f} to "
              f"{max(read_lag, default=0):.0f} s after delivery (the reader "
              f"opens hers 5 s after the provider has it); "
              f"{dict(figures)}; "
              + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items())
              + "; CPU seconds "
              + ", ".join(f"{k} {v:.0f}" for k, v in cpu.items())
              + "; letters per api and provider "
              f"requests per worker ({victim.name} until killed): "
              f"{per_process}; test {time.monotonic() - started:.1f} s",
              flush=True)
        # A worker that lived through the batch did some of the work.
        for p in workers[1:]:
            self.assertGreater(per_process[p.name], 0, p.name)

    @staticmethod
    def describe_unfinished(pg, ids, final):
        """Up to five letters not final, with the provider events kept."""
        index = {lid: i for i, lid in enumerate(ids)}
        out = []
        rows = pg.psql(f"SELECT id, state, channel, reason FROM letters "
                       f"WHERE state NOT IN ({final}) OR id IN (SELECT "
                       f"letter_id FROM timers) ORDER BY id LIMIT 5")
        for row in rows.splitlines():
            lid, state, channel, reason = row.split("|", 3)
            events = pg.psql(
                f"SELECT kind, applied, received_ms FROM provider_events "
                f"WHERE letter_id = '{lid}' ORDER BY received_seq")
            out.append(f"  {lid} (letter {index.get(lid)}, "
                       f"{kind_of(index.get(lid, 0))[0]}): state {state} "
                       f"via {channel!r}: {reason}; events: "
                       + (events.replace(chr(10), "; ") or "none"))
        return "\n".join(out)


if __name__ == "__main__":
    unittest.main()
