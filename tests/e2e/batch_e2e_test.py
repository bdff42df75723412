"""SubmitBatch end to end, from Debian's grpcio (not Utpost's code): one
result per letter matched by index, bad letters failing alone with the
status SubmitLetter would give, every good letter final and delivered once,
a second run of the same batch idempotent; a single letter of another
tenant goes through while a bulk run streams; an operator's certificate is
refused; utpostctl submit --batch goes over the stream."""

import json
import os
import subprocess
import tempfile
import threading
import time
import unittest

import grpc
from harness import (BERGEN, CERTS, CTL, OSLO, Letter, Stack, letter_pb2,
                     load_persons, make_pdf, submit_request)


def batch(stub, requests, **kw):
    """Streams `requests` through SubmitBatch; returns the results by
    index, failing on a duplicate index."""
    results = {}
    for r in stub.SubmitBatch(iter(requests), **kw):
        assert r.index not in results, f"index {r.index} twice"
        results[r.index] = r
    return results


class BatchTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = Stack()
        cls.persons = load_persons()

    @classmethod
    def tearDownClass(cls):
        cls.stack.close()

    def test_results_by_index_bad_letters_alone_and_a_rerun_idempotent(self):
        stub = self.stack.letters()
        pdf = make_pdf("Eiendomsskatt 2027")
        mailbox = self.persons["mailbox"]
        requests = []
        for i in range(150):
            requests.append(submit_request(
                person=mailbox[i % len(mailbox)], ref=f"skatt-{i}",
                documents=[("skatt.pdf", pdf)]))
        # Three bad ones: not a PDF, an invalid person number, and the
        # reference of letter 0 with another body.
        requests[40] = submit_request(person=mailbox[0], ref="skatt-40",
                                      documents=[("skatt.pdf", b"no pdf")])
        requests[80] = submit_request(person="12345678901", ref="skatt-80",
                                      documents=[("skatt.pdf", pdf)])
        requests.append(submit_request(person=mailbox[0], ref="skatt-0",
                                       title="Another title",
                                       documents=[("skatt.pdf", pdf)]))
        results = batch(stub, requests)
        self.assertEqual(sorted(results), list(range(151)))
        for i, r in results.items():
            self.assertEqual(r.client_reference, requests[i].client_reference)
        self.assertEqual(results[40].code, grpc.StatusCode.INVALID_ARGUMENT
                         .value[0], results[40].message)
        self.assertIn("not a PDF", results[40].message)
        self.assertEqual(results[80].code,
                         grpc.StatusCode.INVALID_ARGUMENT.value[0])
        self.assertIn("recipient.person", results[80].message)
        self.assertEqual(results[150].code,
                         grpc.StatusCode.ALREADY_EXISTS.value[0])
        good = {i: r for i, r in results.items() if i not in (40, 80, 150)}
        for i, r in good.items():
            self.assertEqual(r.code, 0, (i, r.message))
            self.assertTrue(r.created)
            self.assertEqual(r.letter.client_reference, f"skatt-{i}")
        ids = [r.letter.id for r in good.values()]
        self.assertEqual(len(set(ids)), 148)

        final = self.stack.wait_final(stub, ids, timeout=180)
        self.assertEqual({Letter.State.Name(l.state) for l in final.values()},
                         {"DELIVERED"})
        counts = self.stack.deliveries()["digipost"]
        for i in ids:
            self.assertEqual(counts[i]["accepted"], 1, i)

        # The same batch again: the same letters, none created.
        again = batch(stub, requests[:150])
        for i, r in good.items():
            self.assertEqual(again[i].code, 0, again[i].message)
            self.assertFalse(again[i].created)
            self.assertEqual(again[i].letter.id, r.letter.id)
        listed = stub.ListLetters(letter_pb2.ListLettersRequest(
            client_reference="skatt-7"))
        self.assertEqual(len(listed.letters), 1)

    def test_another_tenants_letter_goes_through_during_a_bulk_run(self):
        bergen = self.stack.letters(BERGEN)
        oslo = self.stack.letters(OSLO)
        pdf = make_pdf("Eiendomsskatt")
        person = self.persons["mailbox"][0]

        def requests():
            for i in range(1500):
                yield submit_request(person=person, ref=f"bulk-{i}",
                                     documents=[("skatt.pdf", pdf)])

        received = []
        run = threading.Thread(target=lambda: received.extend(
            bergen.SubmitBatch(requests())))
        run.start()
        while len(received) < 100:
            time.sleep(0.01)
        waits = []
        for i in range(5):
            start = time.monotonic()
            reply = oslo.SubmitLetter(submit_request(
                person=person, ref=f"single-{i}",
                documents=[("vedtak.pdf", pdf)]), timeout=30)
            waits.append(time.monotonic() - start)
            self.assertTrue(reply.created)
        answered = len(received)
        run.join()
        print(f"figures: Oslo's single letters took "
              f"{', '.join(f'{w * 1000:.0f}' for w in waits)} ms while "
              f"Bergen's 1,500-letter stream ran ({answered} answered when "
              "the last was stored)", flush=True)
        self.assertLess(answered, 1500,
                        "the bulk run ended before the single letters")
        self.assertLess(max(waits), 5.0)
        self.assertEqual(sorted(r.index for r in received), list(range(1500)))
        self.assertEqual([r.index for r in received if r.code != 0], [])
        # Each tenant sees its own letters only.
        self.assertEqual(len(oslo.ListLetters(letter_pb2.ListLettersRequest(
            client_reference="bulk-1")).letters), 0)

    def test_an_operator_is_refused(self):
        ops_letters = self.stack.letters(
            tenant=None, cert=f"{CERTS}/operator.pem",
            key=f"{CERTS}/operator.key")
        with self.assertRaises(grpc.RpcError) as e:
            batch(ops_letters, [submit_request(
                person=self.persons["mailbox"][0], ref="op-1",
                documents=[("a.pdf", make_pdf())])])
        self.assertEqual(e.exception.code(), grpc.StatusCode.PERMISSION_DENIED)

    def test_utpostctl_submits_a_batch_file_over_the_stream(self):
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "vedtak.pdf"), "wb") as f:
                f.write(make_pdf("Vedtak"))
            with open(os.path.join(d, "run.jsonl"), "w") as f:
                for i in range(30):
                    f.write(json.dumps({
                        "client_reference": f"ctl-batch-{i}",
                        "recipient": {"person": self.persons["mailbox"][0]},
                        "title": "Vedtak", "files": ["vedtak.pdf"]}) + "\n")
            before = self.stack.scrape_metrics()
            out = subprocess.run(
                [CTL, "--server", f"127.0.0.1:{self.stack.api_port}",
                 "--ca", f"{CERTS}/ca.pem",
                 "--cert", f"{CERTS}/tenant-{BERGEN}.pem",
                 "--key", f"{CERTS}/tenant-{BERGEN}.key", "--json",
                 "submit", "--batch", os.path.join(d, "run.jsonl"),
                 "--concurrency", "2"],
                capture_output=True, text=True, timeout=120)
            self.assertEqual(out.returncode, 0, out.stderr + out.stdout)
            summary = json.loads(out.stdout.strip().splitlines()[-1])
            self.assertEqual(summary["submitted"], 30, out.stdout)
            self.assertEqual(summary["failed"], 0)
            after = self.stack.scrape_metrics()
        self.assertGreater(batch_calls(after), batch_calls(before))


def batch_calls(metrics):
    """SubmitBatch calls the daemon has finished, from its /metrics."""
    total = 0.0
    for line in metrics.splitlines():
        if line.startswith("utpost_grpc_requests_total{") and \
                "SubmitBatch" in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


if __name__ == "__main__":
    unittest.main()
