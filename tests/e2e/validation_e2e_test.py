"""Each kind of bad input gets INVALID_ARGUMENT naming the field, and
nothing is stored."""

import unittest

import grpc

from harness import (Stack, letter_pb2, load_persons, make_pdf, ops_pb2,
                     submit_request)

K1 = [3, 7, 6, 1, 8, 9, 4, 5, 2]
K2 = [5, 4, 3, 2, 7, 6, 5, 4, 3, 2]


def with_check_digits(nine):
    """Appends classic mod-11 check digits (for numbers with bad dates)."""
    for individual in range(1000):
        base = nine[:6] + f"{individual:03d}"
        k1 = (11 - sum(int(d) * w for d, w in zip(base, K1)) % 11) % 11
        if k1 == 10:
            continue
        ten = base + str(k1)
        k2 = (11 - sum(int(d) * w for d, w in zip(ten, K2)) % 11) % 11
        if k2 == 10:
            continue
        return ten + str(k2)
    raise ValueError(nine)


class ValidationTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = Stack(extra_config="limits: {max_documents: 3, "
                                       "max_document_bytes: 200000}")
        cls.persons = load_persons()

    @classmethod
    def tearDownClass(cls):
        cls.stack.close()

    def stored(self):
        status = self.stack.ops().GetStatus(ops_pb2.GetStatusRequest())
        return sum(c.count for c in status.letters)

    def assert_invalid(self, req, field, *words):
        before = self.stored()
        with self.assertRaises(grpc.RpcError) as e:
            self.stack.letters().SubmitLetter(req)
        self.assertEqual(e.exception.code(), grpc.StatusCode.INVALID_ARGUMENT,
                         e.exception.details())
        details = e.exception.details()
        self.assertTrue(details.startswith(field + ":"),
                        f"{details!r} does not start with {field!r}")
        for w in words:
            self.assertIn(w, details)
        self.assertEqual(self.stored(), before)
        listed = self.stack.letters().ListLetters(
            letter_pb2.ListLettersRequest(
                client_reference=req.client_reference))
        self.assertEqual(len(listed.letters), 0)

    def good(self, **kw):
        return submit_request(person=self.persons["mailbox"][0], **kw)

    def test_bad_check_digit(self):
        good = self.persons["mailbox"][0]
        bad = good[:10] + str((int(good[10]) + 1) % 10)
        self.assert_invalid(submit_request(person=bad, ref="v-k2"),
                            "recipient.person", "check digit")
        # The full number never appears in the message.
        with self.assertRaises(grpc.RpcError) as e:
            self.stack.letters().SubmitLetter(submit_request(person=bad))
        self.assertNotIn(bad, e.exception.details())

    def test_bad_date_in_the_number(self):
        self.assert_invalid(
            submit_request(person=with_check_digits("320170123"),
                           ref="v-date"),
            "recipient.person", "date")

    def test_bad_organisation_number(self):
        self.assert_invalid(submit_request(organisation="964338532",
                                           ref="v-org"),
                            "recipient.organisation")

    def test_not_a_pdf(self):
        self.assert_invalid(
            self.good(ref="v-pdf", documents=[("a.pdf", b"hello, world")]),
            "documents[0].content", "PDF")

    def test_empty_document(self):
        self.assert_invalid(
            self.good(ref="v-empty", documents=[("a.pdf", b"")]),
            "documents[0].content", "empty")

    def test_two_documents_with_one_name(self):
        self.assert_invalid(
            self.good(ref="v-dup", documents=[("a.pdf", make_pdf()),
                                              ("a.pdf", make_pdf("other"))]),
            "documents[1].file_name", "a.pdf")

    def test_too_many_documents(self):
        self.assert_invalid(
            self.good(ref="v-many", documents=[(f"{i}.pdf", make_pdf())
                                               for i in range(4)]),
            "documents", "3")

    def test_too_large_document(self):
        big = make_pdf(pages=1) + b"%" + b"x" * 250000 + b"\n"
        self.assert_invalid(
            self.good(ref="v-big", documents=[("big.pdf", big)]),
            "documents[0].content", "200000")

    def test_no_documents(self):
        req = self.good(ref="v-none")
        del req.documents[:]
        self.assert_invalid(req, "documents")

    def test_missing_recipient(self):
        req = self.good(ref="v-norecipient")
        req.ClearField("recipient")
        self.assert_invalid(req, "recipient")

    def test_missing_client_reference(self):
        req = self.good()
        req.client_reference = ""
        self.assert_invalid(req, "client_reference")


if __name__ == "__main__":
    unittest.main()
