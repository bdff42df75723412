"""What an operator's tools see of a running stack: a /metrics scrape that
promtool accepts after letters went through, readiness that follows the
broker, reflection on the API port, a trace id shared by a letter's log
lines, the log level changed by SIGHUP, and a graceful exit on SIGTERM."""

import json
import os
import re
import signal
import subprocess
import tempfile
import threading
import time
import unittest

from harness import Stack, letter_pb2, load_persons, submit_request


def sample(text, name, **labels):
    """The value of the sample `name` with exactly these labels, or None."""
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    series = f"{name}{{{want}}}" if labels else name
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    return None


class ObservabilityTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = Stack()
        cls.persons = load_persons()

    @classmethod
    def tearDownClass(cls):
        cls.stack.close()

    def submit_and_wait(self, n=4, metadata=None):
        stub = self.stack.letters()
        ids = []
        people = self.persons["mailbox"] + self.persons["reserved"]
        for i in range(n):
            r = stub.SubmitLetter(
                submit_request(person=people[i % len(people)],
                               ref=f"obs-{time.time_ns()}-{i}"),
                metadata=metadata)
            ids.append(r.letter.id)
        self.stack.wait_final(stub, ids)
        return ids

    def test_1_scrape_passes_promtool_and_counts_what_happened(self):
        self.submit_and_wait()
        # The receipt follower and the probe run about once a second.
        deadline = time.time() + 15
        while True:
            text = self.stack.scrape_metrics()
            delivered = sum(
                float(l.rsplit(" ", 1)[1]) for l in text.splitlines()
                if l.startswith("utpost_letter_transitions_total{")
                and 'state="DELIVERED"' in l)
            if (delivered > 0 and sample(text, "utpost_queue_messages",
                                         queue="utpost.route") is not None) \
                    or time.time() > deadline:
                break
            time.sleep(0.5)
        with tempfile.NamedTemporaryFile("w", suffix=".prom") as f:
            f.write(text)
            f.flush()
            r = subprocess.run(f"promtool check metrics < {f.name}",
                               shell=True, capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr + text)

        self.assertGreater(delivered, 0, text)
        self.assertGreaterEqual(sample(
            text, "utpost_grpc_requests_total",
            method="/utpost.v1.LetterService/SubmitLetter", code="OK"), 4)
        self.assertGreater(sample(
            text, "utpost_delivery_latency_seconds_count",
            channel="digital"), 0)
        self.assertGreater(sample(
            text, "utpost_delivery_latency_seconds_count", channel="print"), 0)
        self.assertGreater(sample(
            text, "utpost_provider_requests_total", channel="digital",
            result="ok"), 0)
        self.assertIsNotNone(sample(text, "utpost_queue_consumers",
                                    queue="utpost.deliver.print"))
        self.assertEqual(sample(text, "utpost_dependency_up",
                                dependency="broker"), 1)
        self.assertEqual(sample(text, "utpost_ready"), 1)
        self.assertIsNotNone(sample(text, "utpost_outbox_pending"))
        # certs-dev certificates expire in the future.
        self.assertGreater(sample(
            text, "utpost_certificate_expiry_timestamp_seconds",
            certificate="server.cert_file"), time.time())
        # Bounded labels: no letter ids and no person numbers anywhere.
        self.assertNotRegex(text, r"[0-9a-f]{8}-[0-9a-f]{4}-")
        for p in self.persons["mailbox"] + self.persons["reserved"]:
            self.assertNotIn(p, text)

    def test_2_reflection_lists_the_services_on_the_api_port(self):
        names = self.stack.list_services(self.stack.channel())
        self.assertIn("utpost.v1.LetterService", names)
        self.assertIn("utpost.v1.OpsService", names)

    def test_3_readiness_follows_the_broker(self):
        self.stack.wait_health("", "SERVING")
        self.assertEqual(self.stack.health("readiness"), "SERVING")
        self.assertEqual(self.stack.health("liveness"), "SERVING")
        self.stack.broker.stop()
        try:
            self.stack.wait_health("readiness", "NOT_SERVING", timeout=30)
            self.assertEqual(self.stack.health(""), "NOT_SERVING")
            self.assertEqual(self.stack.health("liveness"), "SERVING")
        finally:
            self.stack.broker.start()
        self.stack.wait_health("readiness", "SERVING", timeout=60)
        self.assertEqual(self.stack.health(""), "SERVING")
        # And letters flow again.
        self.submit_and_wait(n=1)

    def test_4_a_letters_log_lines_share_the_clients_trace_id(self):
        trace = "4bf92f3577b34da6a3ce929d0e0e4736"
        [letter_id] = self.submit_and_wait(
            n=1, metadata=[("traceparent",
                            f"00-{trace}-00f067aa0ba902b7-01")])

        def logged():
            """The letter's log lines once its route and delivery lines are
            in the log (a thread copies them from the daemon's output)."""
            events = []
            with open(self.stack.daemon.log_path) as f:
                for line in f:
                    if line.startswith("{") and line.endswith("\n"):
                        events.append(json.loads(line))
            mine = [e for e in events if e.get("letter_id") == letter_id]
            stages = {e.get("stage") for e in mine}
            if "route" in stages and stages & {"deliver.digital",
                                               "deliver.print"}:
                return mine
            return None
        mine = self.stack.wait_until(
            logged, f"route and delivery lines of {letter_id} in the log",
            timeout=10)
        for e in mine:
            self.assertEqual(e.get("trace_id"), trace, e)
            self.assertIn("time", e)
            self.assertIn("level", e)
            self.assertIn("message", e)
        self.assertTrue(any(e.get("tenant") for e in mine), mine)

    def test_5_sighup_rereads_the_log_level(self):
        path = self.stack.config_path()
        with open(path) as f:
            config = f.read()
        with open(path, "w") as f:
            f.write(config.replace("log_level: info", "log_level: debug"))
        self.stack.daemon.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 10
        found = False
        while time.time() < deadline and not found:
            with open(self.stack.daemon.log_path) as f:
                found = "log level now debug" in f.read()
            time.sleep(0.2)
        self.assertTrue(found)
        self.assertIsNone(self.stack.daemon.proc.poll())

    def test_6_sigterm_stops_gracefully_with_exit_0(self):
        stub = self.stack.letters()
        ids = [stub.SubmitLetter(submit_request(
            person=self.persons["mailbox"][0],
            ref=f"obs-term-{time.time_ns()}-{i}")).letter.id for i in range(3)]
        # An open watch stream keeps the API draining for a few seconds,
        # long enough to see readiness turn first.
        watch = stub.WatchLetters(letter_pb2.WatchLettersRequest(only_new=True),
                                  timeout=60)

        def drain():
            try:
                for _ in watch:
                    pass
            except Exception:  # Ended by the shutdown.
                pass
        threading.Thread(target=drain, daemon=True).start()
        time.sleep(0.5)
        proc = self.stack.daemon.proc
        start = time.time()
        proc.send_signal(signal.SIGTERM)
        self.stack.wait_health("readiness", "NOT_SERVING", timeout=5)
        self.assertEqual(self.stack.health("liveness"), "SERVING")
        self.assertIsNone(proc.poll(), "exited before readiness was seen")
        self.assertEqual(proc.wait(timeout=30), 0)
        # Well inside the configured grace (20 s by default).
        self.assertLess(time.time() - start, 15)
        self.stack.daemon.close()
        # Nothing was lost: a new daemon finishes the letters.
        self.stack.start_daemon()
        self.stack.wait_final(self.stack.letters(), ids)
        self.stack.wait_health("readiness", "SERVING")


if __name__ == "__main__":
    unittest.main()
