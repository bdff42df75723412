"""The operations metrics of a running utpostd, and the alert rules applied
to what it really exports: build info, the paused-channel gauge following
`PauseChannel` / `ResumeChannel` (and the consumers-missing alert quiet for
the paused channel, fed the scraped samples through `promtool test rules`),
and the receipt log's size and newest signed tree head."""

import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest

from harness import ROOT, Stack, letter_pb2, ops_pb2, submit_request

PERSON = "01817010055"  # Digipost mailbox in sim/data/persons.yaml.
ALERTS = os.path.join(ROOT, "deploy", "prometheus", "alerts.yml")


def samples(text, name):
    """{labels string: value} of every sample of `name`."""
    out = {}
    for line in text.splitlines():
        m = re.match(rf"^{name}(\{{[^}}]*\}})? (\S+)$", line)
        if m:
            out[m.group(1) or ""] = float(m.group(2))
    return out


def project_version():
    with open(os.path.join(ROOT, "CMakeLists.txt")) as f:
        return re.search(r"project\(utpost VERSION (\S+)", f.read()).group(1)


class OpsMetricsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = Stack(extra_config="receipt_log:\n"
                          "  tree_head_interval_seconds: 2\n")
        cls.work = tempfile.mkdtemp(prefix="utpost-opsmetrics-")

    @classmethod
    def tearDownClass(cls):
        cls.stack.close()
        shutil.rmtree(cls.work, True)

    def wait_for(self, predicate, what, timeout=20):
        deadline = time.time() + timeout
        text = ""
        while time.time() < deadline:
            try:
                text = self.stack.scrape_metrics()
            except OSError:  # The metrics port opens after the API's.
                text = ""
            if text and predicate(text):
                return text
            time.sleep(0.3)
        self.fail(f"{what} within {timeout} s; last scrape:\n{text}")

    def no_consumer_alerts(self, consumers, paused):
        """The UtpostQueueWithoutConsumers alerts that 10 minutes of these
        scraped samples give under deploy/prometheus/alerts.yml, through
        promtool: a set of (queue, channel)."""
        series = []
        for name, values in (("utpost_queue_consumers", consumers),
                             ("utpost_channel_paused", paused)):
            for labels, v in values.items():
                series.append(f"      - series: '{name}{labels}'\n"
                              f"        values: '{v:g}x15'\n")
        test = os.path.join(self.work, "t.yml")
        with open(test, "w") as f:
            f.write(f"rule_files:\n  - {ALERTS}\nevaluation_interval: 1m\n"
                    "tests:\n  - interval: 1m\n    input_series:\n"
                    + "".join(series)
                    + "    alert_rule_test:\n      - eval_time: 10m\n"
                    "        alertname: UtpostQueueWithoutConsumers\n"
                    "        exp_alerts: []\n")
        r = subprocess.run(["promtool", "test", "rules", test],
                           capture_output=True, text=True, timeout=60)
        if r.returncode == 0:
            return set()
        # The alerts promtool got instead of none, one Labels:{...} each.
        got = set()
        for labels in re.findall(r"Labels:\{([^}]*)\}", r.stdout + r.stderr):
            d = dict(re.findall(r'(\w+)="([^"]*)"', labels))
            got.add((d.get("queue"), d.get("channel", "")))
        self.assertTrue(got, r.stdout + r.stderr)
        return got

    def test_build_info_names_the_version(self):
        info = samples(self.wait_for(lambda t: "utpost_build_info{" in t,
                                     "a scrape"), "utpost_build_info")
        self.assertEqual(len(info), 1, info)
        labels, value = next(iter(info.items()))
        self.assertEqual(value, 1)
        self.assertIn(f'version="{project_version()}"', labels)
        self.assertRegex(labels, r'grpc_version="\d+\.\d+\.\d+"')

    def test_paused_channel_is_exported_and_the_alert_stays_quiet(self):
        ops = self.stack.ops()
        text = self.wait_for(
            lambda t: samples(t, "utpost_queue_consumers").get(
                '{queue="utpost.deliver.print"}', 0) > 0,
            "consumers on utpost.deliver.print")
        self.assertEqual(samples(text, "utpost_channel_paused")
                         .get('{channel="print"}'), 0)

        ops.PauseChannel(ops_pb2.PauseChannelRequest(channel="print"),
                         timeout=30)
        try:
            text = self.wait_for(
                lambda t: samples(t, "utpost_channel_paused").get(
                    '{channel="print"}') == 1
                and samples(t, "utpost_queue_consumers").get(
                    '{queue="utpost.deliver.print"}') == 0,
                "print paused and without consumers")
            consumers = samples(text, "utpost_queue_consumers")
            paused = samples(text, "utpost_channel_paused")
            self.assertEqual(paused.get('{channel="digital"}'), 0)
            # What the rules make of these very samples: no alert while
            # paused ...
            self.assertEqual(self.no_consumer_alerts(consumers, paused),
                             set())
            # ... and the alert, had the channel not been paused.
            unpaused = {k: 0.0 for k in paused}
            # Both lanes of print lose their consumers together.
            self.assertEqual(samples(text, "utpost_queue_consumers").get(
                '{queue="utpost.bulk.deliver.print"}'), 0)
            self.assertEqual(self.no_consumer_alerts(consumers, unpaused),
                             {("utpost.deliver.print", "print"),
                              ("utpost.bulk.deliver.print", "print")})
        finally:
            ops.ResumeChannel(ops_pb2.ResumeChannelRequest(channel="print"),
                              timeout=30)
        self.wait_for(
            lambda t: samples(t, "utpost_channel_paused").get(
                '{channel="print"}') == 0
            and samples(t, "utpost_queue_consumers").get(
                '{queue="utpost.deliver.print"}', 0) > 0,
            "print resumed with consumers")

    def test_receipt_log_size_and_newest_head(self):
        stub = self.stack.letters()
        letter = stub.SubmitLetter(submit_request(person=PERSON),
                                   timeout=30).letter
        self.stack.wait_final(stub, [letter.id])
        bundle = stub.GetReceipts(letter_pb2.GetReceiptsRequest(
            name=letter.name, evidence_bundle=True),
            timeout=30).evidence_bundle
        logged = bundle.tree_head.tree_size
        self.assertGreater(logged, 0)
        text = self.wait_for(
            lambda t: samples(t, "utpost_receipt_log_tree_head_size").get(
                "", 0) >= logged,
            "the head of the evidence bundle in the metrics")
        size = samples(text, "utpost_receipt_log_size")[""]
        self.assertGreaterEqual(size, logged)
        age = samples(text, "utpost_receipt_log_tree_head_age_seconds")[""]
        self.assertGreaterEqual(age, 0)
        self.assertLess(age, 60)
        self.assertEqual(samples(
            text, "utpost_receipt_log_tree_head_interval_seconds")[""], 2)


if __name__ == "__main__":
    unittest.main()
