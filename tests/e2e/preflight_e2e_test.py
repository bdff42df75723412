"""utpostctl submit --batch DIR --preflight against a running stack: a
property-tax batch of persons with a Digipost mailbox, an e-Boks (DPI)
mailbox, a reservation (print), an organisation (Altinn), an invalid letter
and a DIGITAL_ONLY letter to a person without a mailbox. The answer gives
letters per channel, sheets, envelopes, cost and the failures with file and
reason; the store, the broker and the providers see nothing of it."""

import json
import os
import subprocess
import unittest

import grpc

from harness import (BERGEN, CERTS, CTL, PRICING, ROOT, Stack, letter_pb2,
                     load_persons, make_pdf, ops_pb2, write)

ADDRESS = """  postal_address:
    name: Kari Testesen
    address_lines: [Storgata 1]
    postal_code: "5003"
    city: Bergen
"""


class PreflightTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = Stack(extra_config=PRICING)
        cls.persons = load_persons()

    @classmethod
    def tearDownClass(cls):
        cls.stack.close()

    def ctl(self, *args):
        argv = [CTL, "--server", f"127.0.0.1:{self.stack.api_port}",
                "--cert", f"{CERTS}/tenant-{BERGEN}.pem",
                "--key", f"{CERTS}/tenant-{BERGEN}.key"] + list(args)
        return subprocess.run(argv, cwd=ROOT, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=300)

    def letter(self, directory, name, recipient, title="Eiendomsskatt 2027",
               mode="DIGITAL_THEN_PRINT", pages=1):
        write(os.path.join(directory, name + ".pdf"),
              make_pdf(name, pages=pages))
        title_line = f"title: {title}\n" if title else ""
        write(os.path.join(directory, name + ".yaml"),
              f"client_reference: skatt-{name}\n{title_line}"
              f"recipient:\n{recipient}"
              f"delivery_policy:\n  mode: {mode}\nfiles: [{name}.pdf]\n")

    def person(self, kind, i=0, address=True):
        return (f'  person: "{self.persons[kind][i]}"\n'
                + (ADDRESS if address else ""))

    def mixed_batch(self, label):
        d = os.path.join(self.stack.work, label)
        os.makedirs(d)
        self.letter(d, "a-digipost", self.person("mailbox", 0))
        self.letter(d, "b-digipost", self.person("mailbox", 1))
        self.letter(d, "c-eboks", self.person("eboks"))
        self.letter(d, "d-reserved", self.person("reserved"), pages=3)
        self.letter(d, "e-organisation", '  organisation: "910000004"\n')
        self.letter(d, "f-invalid", self.person("mailbox", 2), title="")
        self.letter(d, "g-digital-only", self.person("nomailbox"),
                    mode="DIGITAL_ONLY")
        return d

    def assert_nothing_stored_or_sent(self):
        stub = self.stack.letters()
        listed = stub.ListLetters(letter_pb2.ListLettersRequest())
        self.assertEqual(len(listed.letters), 0)
        status = self.stack.ops().GetStatus(ops_pb2.GetStatusRequest())
        self.assertEqual(len(status.letters), 0, status.letters)
        self.assertEqual(status.outbox_pending, 0)
        self.assertEqual(status.broker_error, "")
        self.assertTrue(status.queues)
        for q in status.queues:
            self.assertEqual(q.messages, 0, q.queue)
        deliveries = self.stack.deliveries()
        for channel in ("digipost", "print", "dpi", "altinn"):
            self.assertEqual(deliveries.get(channel) or {}, {}, channel)

    def test_mixed_batch_json(self):
        d = self.mixed_batch("mixed-json")
        r = self.ctl("submit", "--batch", d, "--preflight", "--json")
        self.assertEqual(r.returncode, 1, r.stderr)
        j = json.loads(r.stdout)
        self.assertEqual(j["letters"], 7)
        self.assertEqual(j["would_send"], 5)
        self.assertEqual(j["would_fail"], 2)
        channels = {c["channel"]: c for c in j["channels"]}
        self.assertEqual(list(channels), ["digital", "dpi", "altinn", "print"])
        self.assertEqual(channels["digital"]["letters"], 2)
        self.assertEqual(channels["dpi"]["letters"], 1)
        self.assertEqual(channels["altinn"]["letters"], 1)
        self.assertEqual(channels["print"]["letters"], 1)
        self.assertEqual(channels["print"]["sheets"], 3)
        self.assertEqual(channels["print"]["envelopes"], 1)
        # Numbers as numbers, zero values present.
        self.assertEqual(channels["dpi"]["sheets"], 0)
        self.assertIs(channels["dpi"]["configured"], True)
        self.assertIs(channels["print"]["paused"], False)
        print_cost = 300 + 3 * 40 + 2100
        self.assertEqual(channels["print"]["cost"], print_cost)
        self.assertEqual(j["print_sheets"], 3)
        self.assertEqual(j["envelopes"], 1)
        self.assertEqual(j["cost"], 2 * 50 + 60 + 70 + print_cost)
        self.assertEqual(j["cost_all_print"],
                         4 * (300 + 40 + 2100) + print_cost)
        self.assertEqual(j["currency"], "NOK")
        self.assertIs(j["priced"], True)
        self.assertEqual(j["failures_by_reason"]["INVALID_LETTER"], 1)
        self.assertEqual(j["failures_by_reason"]["NO_DIGITAL_CHANNEL"], 1)
        self.assertEqual(j["failures_by_reason"]["CHANNEL_NOT_CONFIGURED"], 0)
        by_file = {os.path.basename(o["file"]): o for o in j["outcomes"]}
        self.assertEqual(by_file["a-digipost.yaml"]["channel"], "digital")
        self.assertEqual(by_file["c-eboks.yaml"]["channel"], "dpi")
        self.assertEqual(by_file["d-reserved.yaml"]["channel"], "print")
        self.assertEqual(by_file["d-reserved.yaml"]["sheets"], 3)
        self.assertEqual(by_file["e-organisation.yaml"]["channel"], "altinn")
        self.assertEqual(by_file["f-invalid.yaml"]["failure"],
                         "INVALID_LETTER")
        self.assertIn("title", by_file["f-invalid.yaml"]["reason"])
        g = by_file["g-digital-only.yaml"]
        self.assertEqual(g["failure"], "NO_DIGITAL_CHANNEL")
        self.assertIn("DIGITAL_ONLY", g["reason"])
        # Person numbers are masked in what comes back.
        self.assertNotIn(self.persons["nomailbox"][0], r.stdout)
        self.assert_nothing_stored_or_sent()
        # The registry was asked (all persons in one look-up).
        registry = self.stack.deliveries().get("registry") or {}
        self.assertGreaterEqual(registry.get("requests", 0), 1)

    def test_mixed_batch_table_and_repeat(self):
        d = self.mixed_batch("mixed-table")
        for _ in range(2):  # Nothing stored: the same answer again.
            r = self.ctl("submit", "--batch", d, "--preflight")
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn("7 letters: 5 would go, 2 would fail", r.stdout)
            self.assertRegex(r.stdout, r"digital\s+2\s+0\s+0\s+1\.00")
            self.assertRegex(r.stdout, r"print\s+1\s+3\s+1\s+25\.20")
            self.assertRegex(r.stdout, r"total\s+5\s+3\s+1\s+27\.50")
            self.assertIn("f-invalid.yaml: INVALID_LETTER: title", r.stdout)
            self.assertIn("g-digital-only.yaml: NO_DIGITAL_CHANNEL: "
                          "DIGITAL_ONLY", r.stdout)
        self.assert_nothing_stored_or_sent()

    def test_all_good_batch_exits_0(self):
        d = os.path.join(self.stack.work, "good")
        os.makedirs(d)
        self.letter(d, "a", self.person("mailbox", 0))
        self.letter(d, "b", self.person("reserved", 1))
        r = self.ctl("submit", "--batch", d, "--preflight")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("2 letters: 2 would go, 0 would fail", r.stdout)

    def test_large_batch_is_split_into_calls_and_summed(self):
        # 1001 letters: more than one call takes.
        d = os.path.join(self.stack.work, "large")
        os.makedirs(d)
        write(os.path.join(d, "doc.pdf"), make_pdf("skatt", pages=2))
        lines = []
        for i in range(1001):
            kind = "mailbox" if i % 2 == 0 else "reserved"
            lines.append(json.dumps({
                "client_reference": f"large-{i}",
                "title": "Eiendomsskatt 2027",
                "recipient": {
                    "person": self.persons[kind][0],
                    "postal_address": {"name": "Kari Testesen",
                                       "address_lines": ["Storgata 1"],
                                       "postal_code": "5003",
                                       "city": "Bergen"}},
                "files": ["doc.pdf"]}))
        batch = os.path.join(d, "run.jsonl")
        write(batch, "\n".join(lines) + "\n")
        r = self.ctl("submit", "--batch", batch, "--preflight", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        j = json.loads(r.stdout)
        self.assertEqual(j["letters"], 1001)
        self.assertEqual(len(j["outcomes"]), 1001)
        channels = {c["channel"]: c for c in j["channels"]}
        self.assertEqual(channels["digital"]["letters"], 501)
        self.assertEqual(channels["print"]["letters"], 500)
        self.assertEqual(j["print_sheets"], 1000)
        self.assertEqual(j["cost"], 501 * 50 + 500 * (300 + 2 * 40 + 2100))
        self.assertEqual(j["outcomes"][1000]["client_reference"], "large-1000")
        self.assertEqual(j["outcomes"][1000]["channel"], "digital")

    def test_call_rules(self):
        stub = self.stack.letters()
        too_many = letter_pb2.PreflightLettersRequest(
            letters=[letter_pb2.SubmitLetterRequest()] * 1001)
        with self.assertRaises(grpc.RpcError) as e:
            stub.PreflightLetters(too_many, timeout=60)
        self.assertEqual(e.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("at most 1000", e.exception.details())
        # Operators do not preflight tenants' letters.
        operator = self.stack.letters(tenant=None,
                                      cert=f"{CERTS}/operator.pem",
                                      key=f"{CERTS}/operator.key")
        one = letter_pb2.PreflightLettersRequest(
            letters=[letter_pb2.SubmitLetterRequest()])
        with self.assertRaises(grpc.RpcError) as e:
            operator.PreflightLetters(one, timeout=60)
        self.assertEqual(e.exception.code(),
                         grpc.StatusCode.PERMISSION_DENIED)
        # An empty letter is an outcome, not an error of the call.
        r = stub.PreflightLetters(one, timeout=60)
        self.assertEqual(r.outcomes[0].failure, letter_pb2.INVALID_LETTER)
        self.assertEqual(r.totals.would_fail, 1)

    def test_paused_channel_is_shown(self):
        d = os.path.join(self.stack.work, "paused")
        os.makedirs(d)
        self.letter(d, "a", self.person("reserved"))
        ops = self.stack.ops()
        ops.PauseChannel(ops_pb2.PauseChannelRequest(channel="print"))
        try:
            r = self.ctl("submit", "--batch", d, "--preflight", "--json")
            human = self.ctl("submit", "--batch", d, "--preflight")
        finally:
            ops.ResumeChannel(ops_pb2.ResumeChannelRequest(channel="print"))
        self.assertEqual(r.returncode, 0, r.stderr)
        j = json.loads(r.stdout)
        channels = {c["channel"]: c for c in j["channels"]}
        self.assertIs(channels["print"]["paused"], True)
        self.assertIs(channels["digital"]["paused"], False)
        self.assertIs(j["outcomes"][0]["channel_paused"], True)
        self.assertEqual(j["would_send"], 1)
        self.assertRegex(human.stdout, r"print\s+1\s+1\s+1\s+24\.40  paused")

    def test_preflight_needs_batch(self):
        r = self.ctl("submit", "--preflight")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--preflight goes with --batch", r.stderr)


if __name__ == "__main__":
    unittest.main()
