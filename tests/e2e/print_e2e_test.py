"""Print, end to end: printability is checked at submission for letters that
may go to print (and only for those), and a printed letter reaches the
print provider with its address cover page."""

import unittest

import grpc

from harness import (Stack, letter_pb2, load_persons, make_pdf, ops_pb2,
                     submit_request)

A4 = (595, 842)
US_LETTER = (612, 792)


class PrintTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = Stack(print_config=", cover_page: true, max_sheets: 4")
        cls.persons = load_persons()

    @classmethod
    def tearDownClass(cls):
        cls.stack.close()

    def stored(self):
        status = self.stack.ops().GetStatus(ops_pb2.GetStatusRequest())
        return sum(c.count for c in status.letters)

    def assert_refused(self, req, *words):
        before = self.stored()
        with self.assertRaises(grpc.RpcError) as e:
            self.stack.letters().SubmitLetter(req)
        self.assertEqual(e.exception.code(), grpc.StatusCode.INVALID_ARGUMENT,
                         e.exception.details())
        details = e.exception.details()
        self.assertTrue(details.startswith("documents: not printable: "),
                        details)
        for w in words:
            self.assertIn(w, details)
        self.assertEqual(self.stored(), before)

    def letter_with_us_page(self, ref, mode=None):
        return submit_request(
            person=self.persons["mailbox"][0], ref=ref, mode=mode,
            documents=[("vedtak.pdf", make_pdf()),
                       ("vedlegg.pdf",
                        make_pdf("Vedlegg", pages=2, sizes=[A4, US_LETTER]))])

    def test_non_a4_page_is_refused_naming_document_and_page(self):
        for mode in (None, letter_pb2.DeliveryPolicy.DIGITAL_THEN_PRINT,
                     letter_pb2.DeliveryPolicy.PRINT_ONLY):
            self.assert_refused(
                self.letter_with_us_page(f"p-us-{mode}", mode),
                "documents[1] (vedlegg.pdf) page 2: 215.9 x 279.4 mm, "
                "not A4 portrait")

    def test_same_letter_digital_only_is_accepted_and_delivered(self):
        stub = self.stack.letters()
        reply = stub.SubmitLetter(self.letter_with_us_page(
            "p-us-digital", letter_pb2.DeliveryPolicy.DIGITAL_ONLY))
        self.assertTrue(reply.created)
        done = self.stack.wait_final(stub, [reply.letter.id])
        self.assertEqual(done[reply.letter.id].state,
                         letter_pb2.Letter.DELIVERED)

    def test_too_many_sheets_for_the_envelope(self):
        # 4 pages, simplex, and the cover page: 5 sheets; 4 fit.
        self.assert_refused(
            submit_request(person=self.persons["mailbox"][0], ref="p-sheets",
                           documents=[("vedtak.pdf", make_pdf(pages=4))]),
            "documents: 5 sheets with the address cover page, an envelope "
            "holds 4")

    def test_printed_letter_reaches_the_provider_with_its_cover_page(self):
        stub = self.stack.letters()
        reply = stub.SubmitLetter(submit_request(
            person=self.persons["reserved"][0], ref="p-cover",
            documents=[("vedtak.pdf", make_pdf(pages=2))]))
        done = self.stack.wait_final(stub, [reply.letter.id])
        letter = done[reply.letter.id]
        self.assertIn(letter.state, (letter_pb2.Letter.SENT_PRINT,
                                     letter_pb2.Letter.PRINTED),
                      letter.reason)
        self.assertEqual(letter.channel, "print")
        # The simulator checked the pages and digests of what it got,
        # cover page included, before it accepted the letter.
        counts = self.stack.deliveries()["print"]
        self.assertEqual(counts[letter.id],
                         {"accepted": 1, "duplicates": 0})


if __name__ == "__main__":
    unittest.main()
