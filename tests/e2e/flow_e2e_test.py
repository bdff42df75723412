"""Routing, fallback, deadlines and retries over the real broker, the
simulator and utpostd (issue 3).

The routing table runs every recipient kind x policy. The stack configures
every channel ("dpi" for e-Boks persons, "altinn" for organisations with an
inbox). UTPOST_E2E_CHANNELS (e.g. "dpi" or "none") lists the channels whose
rows expect them configured; the other rows' expectations are those of a
gateway without that channel (e-Boks persons park with a set-up reason,
never silently printed; organisations go to print or fail under
DIGITAL_ONLY), for runs against a stack configured that way.
"""

import os
import time
import unittest

from harness import (CHANNEL_PROVIDERS, Letter, Stack, at_or_past,
                     letter_pb2, load_persons, submit_request,
                     verify_jws_with_openssl)

# The states whose receipts say the letter was handed to someone, or that
# the one who has it reports it delivered or read.
HAND_OVER_STATES = {"SENT_DIGITAL", "SENT_PRINT", "DELIVERED", "READ",
                    "PRINTED"}

CHANNELS_ON = set(filter(None, os.environ.get(
    "UTPOST_E2E_CHANNELS", "dpi,altinn").split(",")))

DTP = letter_pb2.DeliveryPolicy.DIGITAL_THEN_PRINT
DO = letter_pb2.DeliveryPolicy.DIGITAL_ONLY
PO = letter_pb2.DeliveryPolicy.PRINT_ONLY

# Organisations of sim/data/organisations.yaml: one with an Altinn inbox
# whose recipient never reads by itself, and one without an inbox.
ORG_WITH_INBOX = "921000006"
ORG_WITHOUT_INBOX = "932000008"

# (recipient kind, policy, final state, channel, reason fragment or None).
# A letter handed over may be found further on by itself (at_or_past: the
# print provider posts it); it went through the state the row names.
BASE_ROWS = [
    ("mailbox", DTP, "DELIVERED", "digital", None),
    ("mailbox", DO, "DELIVERED", "digital", None),
    ("mailbox", PO, "SENT_PRINT", "print", None),
    ("reserved", DTP, "SENT_PRINT", "print", None),
    ("reserved", DO, "FAILED", "", "reserved"),
    ("reserved", PO, "SENT_PRINT", "print", None),
    ("unregistered", DTP, "SENT_PRINT", "print", None),
    ("unregistered", DO, "FAILED", "", "not registered"),
    ("unregistered", PO, "SENT_PRINT", "print", None),
    ("nomailbox", DTP, "SENT_PRINT", "print", None),
    ("nomailbox", DO, "FAILED", "", "no digital mailbox"),
    ("nomailbox", PO, "SENT_PRINT", "print", None),
    ("deleted", DTP, "SENT_PRINT", "print", None),
    ("deleted", DO, "FAILED", "", "deleted"),
    ("deleted", PO, "SENT_PRINT", "print", None),
    ("eboks", PO, "SENT_PRINT", "print", None),
    ("org-inbox", PO, "SENT_PRINT", "print", None),
    ("org-no-inbox", PO, "SENT_PRINT", "print", None),
]
# Rows that depend on channels another branch adds: (without, with).
DPI_ROWS = [
    (("eboks", DTP, "PARKED", "", "\"dpi\" is needed"),
     ("eboks", DTP, ("SENT_DIGITAL", "DELIVERED"), "dpi", None)),
    (("eboks", DO, "PARKED", "", "not configured"),
     ("eboks", DO, ("SENT_DIGITAL", "DELIVERED"), "dpi", None)),
]
ALTINN_ROWS = [
    (("org-inbox", DTP, "SENT_PRINT", "print", None),
     ("org-inbox", DTP, ("SENT_DIGITAL", "DELIVERED"), "altinn", None)),
    (("org-inbox", DO, "FAILED", "", "no organisation registry"),
     ("org-inbox", DO, ("SENT_DIGITAL", "DELIVERED"), "altinn", None)),
    (("org-no-inbox", DTP, "SENT_PRINT", "print", None),
     ("org-no-inbox", DTP, "SENT_PRINT", "print", None)),
    (("org-no-inbox", DO, "FAILED", "", "no organisation registry"),
     ("org-no-inbox", DO, "FAILED", "", "no digital inbox")),
]


def routing_rows():
    rows = list(BASE_ROWS)
    rows += [on if "dpi" in CHANNELS_ON else off for off, on in DPI_ROWS]
    rows += [on if "altinn" in CHANNELS_ON else off
             for off, on in ALTINN_ROWS]
    return rows


class FlowTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = Stack(
            retry_delays=(1, 2), max_attempts=6,
            extra_config="dispatch: {event_poll_interval_seconds: 1, "
                         "timer_scan_interval_ms: 200}\n")
        cls.persons = load_persons()

    @classmethod
    def tearDownClass(cls):
        cls.stack.close()

    def recipient(self, kind):
        if kind == "org-inbox":
            return {"organisation": ORG_WITH_INBOX}
        if kind == "org-no-inbox":
            return {"organisation": ORG_WITHOUT_INBOX}
        return {"person": self.persons[kind][0]}

    def timeline(self, stub, letter):
        entries = stub.GetLetter(
            letter_pb2.GetLetterRequest(name=letter.id)).timeline
        return [(Letter.State.Name(e.state), e.channel, e.reason)
                for e in entries]

    def handed_off(self, stub, letter_id):
        """When the letter was handed to its digital channel, from which its
        print_if_unread_after deadline counts."""
        entries = stub.GetLetter(
            letter_pb2.GetLetterRequest(name=letter_id)).timeline
        return max(e.time.seconds + e.time.nanos / 1e9 for e in entries
                   if Letter.State.Name(e.state) == "SENT_DIGITAL")

    def test_routing_table(self):
        stub = self.stack.letters()
        rows = routing_rows()
        ids = []
        for n, (kind, mode, _, _, _) in enumerate(rows):
            r = stub.SubmitLetter(submit_request(
                ref=f"table-{n}", mode=mode, **self.recipient(kind)))
            ids.append(r.letter.id)
        done = self.stack.wait_final(stub, ids, timeout=90)
        counts = self.stack.deliveries()
        for (kind, mode, state, channel, reason), i in zip(rows, ids):
            row = f"{kind} x {letter_pb2.DeliveryPolicy.Mode.Name(mode)}"
            with self.subTest(row=row):
                got = done[i]
                states = state if isinstance(state, tuple) else (state,)
                self.assertIn(Letter.State.Name(got.state),
                              at_or_past(*states), f"{row}: {got.reason}")
                went = [s for s, _, _ in self.timeline(stub, got)]
                self.assertTrue(set(states) & set(went), f"{row}: {went}")
                if channel:
                    self.assertEqual(got.channel, channel, row)
                if reason:
                    self.assertIn(reason, got.reason, row)
                # Nothing delivered twice, and only where it went.
                if channel == "digital":
                    self.assertEqual(counts["digipost"][i],
                                     {"accepted": 1, "duplicates": 0})
                    self.assertNotIn(i, counts["print"])
                elif channel == "print":
                    self.assertEqual(counts["print"][i],
                                     {"accepted": 1, "duplicates": 0})
                    self.assertNotIn(i, counts["digipost"])
                else:
                    self.assertNotIn(i, counts["digipost"])
                    self.assertNotIn(i, counts["print"])
                # Every hand-over receipt names who took the letter; checked
                # with openssl, not with Utpost's own verifier.
                handed = []
                for r in stub.GetReceipts(
                        letter_pb2.GetReceiptsRequest(name=i)).receipts:
                    payload = verify_jws_with_openssl(r.jws)
                    if payload["state"] in HAND_OVER_STATES:
                        handed.append((payload["state"], payload["channel"],
                                       payload["provider"]))
                if channel:
                    self.assertTrue(handed, row)
                for state_name, via, provider in handed:
                    self.assertEqual(provider, CHANNEL_PROVIDERS[via],
                                     f"{row}: {state_name} via {via}")

    def test_unread_goes_to_print_once_and_read_does_not(self):
        stub = self.stack.letters()
        # The event feed repeats every event and serves batches out of
        # order; neither may change the outcome.
        self.stack.set_fault(endpoint="digipost-events", duplicate=True,
                             out_of_order=True)
        self.addCleanup(self.stack.clear_faults)
        # The reader opens letters 5 s after delivery; the unread letter's
        # deadline comes well after that, and passes while the gateway is
        # down: the timer is in the store.
        unread = stub.SubmitLetter(submit_request(
            person=self.persons["mailbox"][0], ref="deadline-unread",
            print_if_unread_after=12)).letter
        read = stub.SubmitLetter(submit_request(
            person=self.persons["reader"][0], ref="deadline-read",
            print_if_unread_after=15)).letter
        self.stack.wait_state(stub, read.id, ["READ"], timeout=30)
        self.assertEqual(Letter.State.Name(stub.GetLetter(
            letter_pb2.GetLetterRequest(name=unread.id)).state), "DELIVERED")
        handed_off = self.handed_off(stub, unread.id)
        self.stack.daemon.stop()
        time.sleep(max(0, handed_off + 13 - time.time()))
        self.stack.start_daemon()
        printed = self.stack.wait_state(stub, unread.id,
                                        at_or_past("SENT_PRINT"), timeout=30)
        self.assertEqual(printed.channel, "print")
        timeline = self.timeline(stub, printed)
        went = [s for s, _, _ in timeline]
        self.assertEqual(
            went[:7],
            ["RECEIVED", "QUEUED", "ROUTED", "SENT_DIGITAL", "DELIVERED",
             "ROUTED", "SENT_PRINT"])
        # The print provider may have posted it since: nothing else.
        self.assertIn(went[7:], ([], ["PRINTED"]), went)
        self.assertIn("not read in time", timeline[5][2])
        # Past the read letter's deadline: still read, never printed.
        time.sleep(max(0, self.handed_off(stub, read.id) + 16 - time.time()))
        self.assertEqual(Letter.State.Name(stub.GetLetter(
            letter_pb2.GetLetterRequest(name=read.id)).state), "READ")
        # A failure reported after the read never moves the letter back
        # nor sends it to print.
        self.stack.sim_call("POST", "/sim/v1/events",
                            {"message_id": read.id, "type": "PRINT_FAILED"})
        time.sleep(3)
        self.assertEqual(Letter.State.Name(stub.GetLetter(
            letter_pb2.GetLetterRequest(name=read.id)).state), "READ")
        counts = self.stack.deliveries()
        self.assertEqual(counts["print"][unread.id],
                         {"accepted": 1, "duplicates": 0})
        self.assertEqual(counts["digipost"][unread.id],
                         {"accepted": 1, "duplicates": 0})
        self.assertNotIn(read.id, counts["print"])
        self.assertEqual(counts["digipost"][read.id],
                         {"accepted": 1, "duplicates": 0})

    def test_not_before_holds_the_letter_and_cancel_still_works(self):
        stub = self.stack.letters()
        at = int(time.time()) + 6
        held = stub.SubmitLetter(submit_request(
            person=self.persons["mailbox"][0], ref="later",
            not_before=at)).letter
        cancelled = stub.SubmitLetter(submit_request(
            person=self.persons["mailbox"][0], ref="later-cancelled",
            not_before=at)).letter
        time.sleep(1.5)
        self.assertEqual(Letter.State.Name(stub.GetLetter(
            letter_pb2.GetLetterRequest(name=held.id)).state), "QUEUED")
        stub.CancelLetter(letter_pb2.CancelLetterRequest(name=cancelled.id))
        done = self.stack.wait_state(stub, held.id, ["DELIVERED"], timeout=30)
        self.assertGreaterEqual(time.time(), at)
        self.assertGreaterEqual(done.update_time.seconds, at)
        counts = self.stack.deliveries()
        self.assertEqual(counts["digipost"][held.id],
                         {"accepted": 1, "duplicates": 0})
        self.assertNotIn(cancelled.id, counts["digipost"])
        self.assertEqual(Letter.State.Name(stub.GetLetter(
            letter_pb2.GetLetterRequest(name=cancelled.id)).state),
            "CANCELLED")

    def test_dropped_connections_and_timeouts_are_retried(self):
        stub = self.stack.letters()
        before = self.stack.deliveries()["faults_injected"].get("digipost", 0)
        # One answer cut off mid-way, then one never given (the gateway's
        # provider timeout is 5 s).
        self.stack.set_fault(endpoint="digipost", drop=True, count=1)
        dropped = stub.SubmitLetter(submit_request(
            person=self.persons["mailbox"][0], ref="dropped",
            mode=DO)).letter
        self.stack.wait_state(stub, dropped.id, ["DELIVERED"], timeout=30)
        self.stack.set_fault(endpoint="digipost", timeout_ms=8000, count=1)
        held = stub.SubmitLetter(submit_request(
            person=self.persons["mailbox"][0], ref="held",
            mode=DO)).letter
        self.stack.wait_state(stub, held.id, ["DELIVERED"], timeout=40)
        counts = self.stack.deliveries()
        self.assertEqual(counts["faults_injected"]["digipost"] - before, 2)
        for i in (dropped.id, held.id):
            self.assertEqual(counts["digipost"][i],
                             {"accepted": 1, "duplicates": 0})

    def test_server_errors_are_retried_until_the_provider_recovers(self):
        stub = self.stack.letters()
        before = self.stack.deliveries()["faults_injected"].get(
            "digipost", 0)
        self.stack.set_fault(endpoint="digipost", status=503, count=-1)
        try:
            ids = [stub.SubmitLetter(submit_request(
                person=self.persons["mailbox"][n % len(
                    self.persons["mailbox"])], ref=f"5xx-{n}",
                mode=DO)).letter.id for n in range(4)]

            def refused(i):
                l = stub.GetLetter(letter_pb2.GetLetterRequest(name=i))
                return (Letter.State.Name(l.state) == "ROUTED" and
                        "503" in l.reason)

            # Every letter refused and waiting for its retry, and tried
            # again at least once on average, while the provider fails.
            self.stack.wait_until(
                lambda: all(refused(i) for i in ids) and
                self.stack.deliveries()["faults_injected"]["digipost"] -
                before >= 2 * len(ids),
                "every letter refused with 503 and retried", timeout=30)
        finally:
            self.stack.clear_faults()
        done = self.stack.wait_final(stub, ids, timeout=60)
        counts = self.stack.deliveries()
        for i in ids:
            self.assertEqual(Letter.State.Name(done[i].state), "DELIVERED",
                             done[i].reason)
            self.assertEqual(counts["digipost"][i],
                             {"accepted": 1, "duplicates": 0})

    def test_client_errors_are_not_retried(self):
        stub = self.stack.letters()
        before = self.stack.deliveries()["faults_injected"].get(
            "digipost", 0)
        self.stack.set_fault(endpoint="digipost", status=400, count=-1,
                             error_type="CLIENT_DATA",
                             error_code="UNKNOWN_RECIPIENT")
        try:
            fallback = stub.SubmitLetter(submit_request(
                person=self.persons["mailbox"][0], ref="4xx-fallback",
                mode=DTP)).letter
            only = stub.SubmitLetter(submit_request(
                person=self.persons["mailbox"][0], ref="4xx-only",
                mode=DO)).letter
            done = self.stack.wait_final(stub, [fallback.id, only.id])
            # Time for a retry to show, had there been one.
            time.sleep(3)
            injected = self.stack.deliveries()["faults_injected"]["digipost"]
        finally:
            self.stack.clear_faults()
        self.assertEqual(injected - before, 2)
        f = done[fallback.id]
        o = done[only.id]
        self.assertIn(Letter.State.Name(f.state), at_or_past("SENT_PRINT"),
                      f.reason)
        self.assertEqual(f.channel, "print")
        timeline = self.timeline(stub, f)
        self.assertIn("SENT_PRINT", [s for s, _, _ in timeline])
        self.assertTrue(any("UNKNOWN_RECIPIENT" in reason and
                            "falling back to print" in reason
                            for _, _, reason in timeline))
        self.assertEqual(Letter.State.Name(o.state), "FAILED")
        self.assertIn("UNKNOWN_RECIPIENT", o.reason)
        counts = self.stack.deliveries()
        self.assertEqual(counts["print"][f.id],
                         {"accepted": 1, "duplicates": 0})
        self.assertNotIn(o.id, counts["print"])
        self.assertNotIn(f.id, counts["digipost"])


if __name__ == "__main__":
    unittest.main()
