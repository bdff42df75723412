"""The hostile-input catalogue against a running stack: every case of
tests/hostile (bad fields from fields.py, hostile PDFs from pdfs.py) is sent
through SubmitLetter as raw bytes by an independent client (Debian's
python3-grpcio), and each gets its documented answer with the field named,
stores nothing, and leaves the daemon up, small and quick for everybody
else."""

import os
import sys
import threading
import time
import unittest

import grpc

from harness import (ROOT, Stack, letter_pb2, load_persons, make_pdf,
                     ops_pb2, submit_request)


def pdf_cases(person):
    """pdfs.cases() as SubmitLetter requests: (refused cases, accepted
    controls). A case that the API answers for a letter that may be printed
    goes with the default policy, the others as DIGITAL_ONLY."""
    refused, accepted = [], []
    for name, content, expected in pdfs.cases():
        mode = (letter_pb2.DeliveryPolicy.DIGITAL_THEN_PRINT
                if expected.may_print
                else letter_pb2.DeliveryPolicy.DIGITAL_ONLY)
        req = submit_request(person=person, ref=f"hostile-pdf-{name}",
                             documents=[("brev.pdf", content)], mode=mode)
        data = req.SerializeToString()
        if expected.code == "OK":
            accepted.append((name, data))
        else:
            # The message names the document's field, or "documents" for
            # what concerns the letter as a whole (sheets, a stopped worker).
            letter_wide = (expected.sandbox_only or
                           expected.message.startswith("documents:") or
                           any(w in expected.message for w in (
                               "not embedded", "not A4", "PDF version")))
            field = "documents" if letter_wide else "documents[0].content"
            refused.append(fields.Case(f"pdf-{name}", data, expected.code,
                                       field, (expected.message,)))
    return refused, accepted

sys.path.insert(0, os.path.join(ROOT, "tests", "hostile"))
import fields  # noqa: E402
import pdfs  # noqa: E402

# The daemon's memory may not grow past this across the whole catalogue.
MAX_RSS_BYTES = 512 << 20
# The longest any one answer may take: the inspection deadline (10 s by
# default) and a margin for a loaded machine.
MAX_SECONDS = 10 + 5


def rss_high_water(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


class HostileInputTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = Stack()
        cls.persons = load_persons()
        cls.person = cls.persons["mailbox"][0]
        cls.pdf = make_pdf()
        refused_pdfs, cls.good_pdfs = pdf_cases(cls.person)
        cls.catalogue = (fields.cases(letter_pb2, cls.person, cls.pdf) +
                         refused_pdfs)
        channel = cls.stack.channel()
        cls.submit_raw = channel.unary_unary(
            "/utpost.v1.LetterService/SubmitLetter",
            request_serializer=lambda b: b,
            response_deserializer=letter_pb2.SubmitLetterResponse.FromString)

    @classmethod
    def tearDownClass(cls):
        cls.stack.close()

    def stored(self):
        status = self.stack.ops().GetStatus(ops_pb2.GetStatusRequest())
        return sum(c.count for c in status.letters)

    def test_catalogue(self):
        self.assertGreaterEqual(len(self.catalogue), 80)
        names = [c.name for c in self.catalogue]
        self.assertEqual(len(names), len(set(names)), "case names repeat")
        before = self.stored()
        pid = self.stack.daemon.proc.pid
        slowest = (0.0, "")
        failures = []
        for case in self.catalogue:
            start = time.monotonic()
            try:
                self.submit_raw(case.request, timeout=60)
                failures.append(f"{case.name}: accepted")
                continue
            except grpc.RpcError as e:
                code, details = e.code(), e.details() or ""
            elapsed = time.monotonic() - start
            slowest = max(slowest, (elapsed, case.name))
            if code.name != case.code:
                failures.append(f"{case.name}: {code.name} {details!r}, "
                                f"want {case.code}")
            elif not details.startswith(case.field + ":"):
                failures.append(f"{case.name}: {details!r} does not name "
                                f"{case.field}")
            else:
                for word in case.words:
                    if word not in details:
                        failures.append(f"{case.name}: {details!r} lacks "
                                        f"{word!r}")
            if elapsed > MAX_SECONDS:
                failures.append(f"{case.name}: took {elapsed:.1f} s")
            self.assertIsNone(self.stack.daemon.proc.poll(),
                              f"utpostd died at {case.name}")
        self.assertEqual(failures, [], "\n".join(failures))
        self.assertEqual(self.stored(), before, "a refused letter was stored")
        hwm = rss_high_water(pid)
        print(f"catalogue: {len(self.catalogue)} cases, slowest "
              f"{slowest[0]:.2f} s ({slowest[1]}), utpostd VmHWM "
              f"{hwm >> 20} MiB", file=sys.stderr)
        self.assertLess(hwm, MAX_RSS_BYTES)

    def test_good_documents_are_accepted(self):
        """The catalogue's controls (a repaired xref table, an embedded
        TrueType font, ...) are letters like any other."""
        self.assertTrue(self.good_pdfs)
        for name, data in self.good_pdfs:
            with self.subTest(case=name):
                got = self.submit_raw(data, timeout=60)
                self.assertTrue(got.created)

    def test_normal_letter_beside_the_worst_cases(self):
        """A good letter submitted while the heaviest hostile requests are in
        flight is accepted, within a second or so."""
        heavy = [c for c in self.catalogue if c.name in (
            "pdf-decompression_bomb_1gib", "pdf-huge_page_count_100000",
            "pdf-content_stream_cpu_burner", "pdf-deep_page_tree_50000",
            "documents[0].file_name-utf8-overlong", "file-name-1MB")]
        self.assertEqual(len(heavy), 6)
        threads = [threading.Thread(
            target=lambda c=c: self._expect_refused(c)) for c in heavy[:6]]
        for t in threads:
            t.start()
        time.sleep(0.05)
        start = time.monotonic()
        got = self.stack.letters().SubmitLetter(
            submit_request(person=self.person, ref="hostile-neighbour"),
            timeout=30)
        elapsed = time.monotonic() - start
        for t in threads:
            t.join()
        self.assertTrue(got.created)
        self.assertLess(elapsed, 5.0)
        self.assertIsNone(self.stack.daemon.proc.poll())

    def _expect_refused(self, case):
        with self.assertRaises(grpc.RpcError):
            self.submit_raw(case.request, timeout=60)

    def test_list_and_watch_check_their_arguments(self):
        stub = self.stack.letters()
        with self.assertRaises(grpc.RpcError) as e:
            stub.ListLetters(letter_pb2.ListLettersRequest(state=999))
        self.assertEqual(e.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertTrue(e.exception.details().startswith("state:"))
        with self.assertRaises(grpc.RpcError) as e:
            stub.ListLetters(letter_pb2.ListLettersRequest(page_size=5000))
        self.assertEqual(e.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        with self.assertRaises(grpc.RpcError) as e:
            list(stub.WatchLetters(letter_pb2.WatchLettersRequest(cursor=-1),
                                   timeout=10))
        self.assertEqual(e.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertTrue(e.exception.details().startswith("cursor:"))
        # A name that is not UTF-8 names its field too.
        get_raw = self.stack.channel().unary_unary(
            "/utpost.v1.LetterService/GetLetter",
            request_serializer=lambda b: b,
            response_deserializer=letter_pb2.Letter.FromString)
        with self.assertRaises(grpc.RpcError) as e:
            get_raw(b"\x0a\x03\xc3\x28x", timeout=10)
        self.assertEqual(e.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertEqual(e.exception.details(),
                         "name: not valid UTF-8 (at byte 1)")


if __name__ == "__main__":
    unittest.main()
