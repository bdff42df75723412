"""The hostile PDF catalogue (tests/hostile/pdfs.py) submitted to a running
utpostd: each letter gets its documented answer, nothing refused is stored,
the daemon survives all of it with a small RSS, and normal letters go on
being accepted."""

import os
import sys
import time
import unittest

import grpc

from harness import Stack, letter_pb2, load_persons, ops_pb2, submit_request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "hostile"))
import pdfs  # noqa: E402  (the catalogue, found beside this folder)


def vm_kib(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return -1


class DocumentsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cases = pdfs.cases()
        cls.stack = Stack()
        cls.persons = load_persons()

    @classmethod
    def tearDownClass(cls):
        cls.stack.close()

    def stored(self):
        status = self.stack.ops().GetStatus(ops_pb2.GetStatusRequest())
        return sum(c.count for c in status.letters)

    def submit(self, name, content, may_print=True):
        mode = (letter_pb2.DeliveryPolicy.DIGITAL_THEN_PRINT if may_print
                else letter_pb2.DeliveryPolicy.DIGITAL_ONLY)
        req = submit_request(person=self.persons["mailbox"][0],
                             ref=f"hostile-{name}-{time.time_ns()}",
                             documents=[("brev.pdf", content)], mode=mode)
        return self.stack.letters().SubmitLetter(req, timeout=60)

    def test_every_case_gets_its_answer_and_the_daemon_stays_small(self):
        self.assertGreaterEqual(len(self.cases), 25)
        pid = self.stack.daemon.proc.pid
        for name, content, expected in self.cases:
            with self.subTest(case=name):
                before = self.stored()
                started = time.monotonic()
                if expected.code == "OK":
                    self.submit(name, content, expected.may_print)
                    self.assertEqual(self.stored(), before + 1)
                else:
                    with self.assertRaises(grpc.RpcError) as e:
                        self.submit(name, content, expected.may_print)
                    self.assertEqual(e.exception.code(),
                                     grpc.StatusCode.INVALID_ARGUMENT,
                                     e.exception.details())
                    self.assertIn(expected.message, e.exception.details())
                    self.assertEqual(self.stored(), before)
                # The inspection deadline (10 s) and a margin.
                self.assertLess(time.monotonic() - started, 15)
        # Still serving, and the bombs stayed in the workers.
        self.submit("after", pdfs.simple())
        peak = vm_kib(pid, "VmHWM")
        print(f"utpostd VmHWM after the catalogue: {peak} KiB",
              file=sys.stderr)
        self.assertLess(peak, 400 * 1024)


if __name__ == "__main__":
    unittest.main()
