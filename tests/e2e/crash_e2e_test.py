"""Nothing is lost: a letter whose SubmitLetter returned survives kill -9
of utpostd and is delivered exactly once after restart; a broker restart in
the middle of a batch of 1000 loses and duplicates nothing. The simulator
counts what reached the provider."""

import concurrent.futures
import time
import unittest

from harness import Letter, Stack, letter_pb2, load_persons, submit_request


class CrashTest(unittest.TestCase):
    def setUp(self):
        self.persons = load_persons()

    def submit_many(self, stub, n, prefix):
        people = self.persons["mailbox"]

        def one(i):
            return stub.SubmitLetter(submit_request(
                person=people[i % len(people)], ref=f"{prefix}-{i}"),
                timeout=60).letter.id

        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            return list(pool.map(one, range(n)))

    def assert_delivered_once(self, stack, stub, ids, timeout,
                              repeats_allowed=False):
        """Every letter DELIVERED, and the provider accepted each exactly
        once and no other message. `repeats_allowed`: a resend after a crash
        in the middle of a hand-off is refused by the provider as a
        duplicate (counted there, not delivered again)."""
        done = stack.wait_final(stub, ids, timeout=timeout)
        states = {}
        for l in done.values():
            name = Letter.State.Name(l.state)
            states[name] = states.get(name, 0) + 1
        self.assertEqual(states, {"DELIVERED": len(ids)})
        counts = stack.deliveries()["digipost"]
        self.assertEqual(sorted(counts), sorted(ids))
        for i in ids:
            self.assertEqual(counts[i]["accepted"], 1, i)
            if not repeats_allowed:
                self.assertEqual(counts[i]["duplicates"], 0, i)
        return sum(c["duplicates"] for c in counts.values())

    def test_kill9_before_delivery_then_restart_delivers_once(self):
        with Stack(role="api") as stack:
            stub = stack.letters()
            ids = self.submit_many(stub, 20, "kill-before")
            stack.daemon.kill9()
            self.assertEqual(stack.deliveries()["digipost"], {})
            stack.start_daemon(role="all")
            self.assert_delivered_once(stack, stack.letters(), ids, 120)

    def test_kill9_during_delivery_then_restart_delivers_once(self):
        with Stack() as stack:
            stub = stack.letters()
            # Each delivery takes 100 ms at the provider, so that the kill
            # comes while most letters are still on their way, however fast
            # or loaded the machine.
            stack.set_fault(endpoint="digipost", status=0, count=-1,
                            delay_ms=100)
            ids = self.submit_many(stub, 200, "kill-during")
            deadline = time.time() + 60
            while (len(stack.deliveries()["digipost"]) < 20
                   and time.time() < deadline):
                time.sleep(0.05)
            stack.daemon.kill9()
            at_kill = len(stack.deliveries()["digipost"])
            # Killed in the middle: some delivered, not all.
            self.assertGreaterEqual(at_kill, 20)
            self.assertLess(at_kill, len(ids))
            stack.start_daemon()
            self.assert_delivered_once(stack, stack.letters(), ids, 180,
                                       repeats_allowed=True)

    def test_broker_restart_in_a_batch_of_1000(self):
        with Stack() as stack:
            stub = stack.letters()
            with concurrent.futures.ThreadPoolExecutor(1) as bg:
                first = bg.submit(self.submit_many, stub, 500, "batch-a")
                deadline = time.time() + 60
                while (len(stack.deliveries()["digipost"]) < 100
                       and time.time() < deadline):
                    time.sleep(0.05)
                stack.broker.stop()
                ids = first.result()
            # The API keeps accepting while the broker is down: the letters
            # wait in the outbox.
            ids += self.submit_many(stub, 500, "batch-b")
            # The broker went down in the middle of the batch.
            self.assertLess(len(stack.deliveries()["digipost"]), len(ids))
            time.sleep(2)
            stack.broker.start()
            self.assert_delivered_once(stack, stub, ids, 300)


if __name__ == "__main__":
    unittest.main()
