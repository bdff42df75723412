"""A letter to a person with a mailbox reaches DELIVERED, one to a reserved
person SENT_PRINT (or PRINTED once the print provider posts it), and every
receipt of both verifies with the openssl CLI against the certs-dev CA."""

import hashlib
import unittest

from harness import (BERGEN, Letter, Stack, at_or_past, letter_pb2,
                     load_persons, submit_request, verify_jws_with_openssl)


class DeliveryTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = Stack()
        cls.persons = load_persons()

    @classmethod
    def tearDownClass(cls):
        cls.stack.close()

    def test_mailbox_delivered_and_reserved_printed_with_verifiable_receipts(self):
        stub = self.stack.letters()
        digital = stub.SubmitLetter(submit_request(
            person=self.persons["mailbox"][0], ref="e2e-digital"))
        printed = stub.SubmitLetter(submit_request(
            person=self.persons["reserved"][0], ref="e2e-print"))
        self.assertTrue(digital.created)
        self.assertEqual(digital.letter.state, Letter.RECEIVED)
        done = self.stack.wait_final(stub, [digital.letter.id,
                                            printed.letter.id])
        d = done[digital.letter.id]
        p = done[printed.letter.id]
        self.assertEqual(Letter.State.Name(d.state), "DELIVERED", d.reason)
        self.assertEqual(d.channel, "digital")
        # The print provider posts it 2 s after it took it: PRINTED.
        self.assertIn(Letter.State.Name(p.state), at_or_past("SENT_PRINT"),
                      p.reason)
        self.assertEqual(p.channel, "print")

        counts = self.stack.deliveries()
        self.assertEqual(counts["digipost"][d.id],
                         {"accepted": 1, "duplicates": 0})
        self.assertEqual(counts["print"][p.id],
                         {"accepted": 1, "duplicates": 0})
        self.assertNotIn(p.id, counts["digipost"])
        self.assertNotIn(d.id, counts["print"])

        for letter, want, later in (
                (d, ["RECEIVED", "QUEUED", "ROUTED", "SENT_DIGITAL",
                     "DELIVERED"], []),
                (p, ["RECEIVED", "QUEUED", "ROUTED", "SENT_PRINT"],
                 ["PRINTED"])):
            receipts = stub.GetReceipts(
                letter_pb2.GetReceiptsRequest(name=letter.name)).receipts
            expected = [Letter.State.Name(r.state) for r in receipts]
            self.assertEqual(expected[:len(want)], want)
            self.assertIn(expected[len(want):], ([], later), expected)
            prev = ""
            for seq, r in enumerate(receipts, start=1):
                payload = verify_jws_with_openssl(r.jws)
                self.assertEqual(payload["letter_id"], letter.id)
                self.assertEqual(payload["tenant"], BERGEN)
                self.assertEqual(payload["seq"], seq)
                self.assertEqual(payload["state"], expected[seq - 1])
                self.assertEqual(payload["prev"], prev)
                self.assertIn("time", payload)
                self.assertIn("channel", payload)
                prev = hashlib.sha256(r.jws.encode()).hexdigest()
                self.assertEqual(r.sha256, prev)

    def test_watch_streams_state_changes(self):
        stub = self.stack.letters()
        sent = stub.SubmitLetter(submit_request(
            person=self.persons["mailbox"][1], ref="e2e-watch"))
        seen = []
        stream = stub.WatchLetters(letter_pb2.WatchLettersRequest(cursor=0),
                                   timeout=60)
        for event in stream:
            if event.letter_id == sent.letter.id:
                seen.append(Letter.State.Name(event.state))
                if event.state == Letter.DELIVERED:
                    stream.cancel()
                    break
        self.assertEqual(seen, ["RECEIVED", "QUEUED", "ROUTED",
                                "SENT_DIGITAL", "DELIVERED"])


if __name__ == "__main__":
    unittest.main()
