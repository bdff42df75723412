"""A print job that one letter spoils is split, end to end: the simulator
refuses (400) every job that holds one letter, and the other letters of the
same jobs are printed once each, while the refused one fails with the
provider's reason; nothing is retried into PARKED."""

import unittest

from harness import Stack, letter_pb2, load_persons, make_pdf, submit_request

Letter = letter_pb2.Letter
BAD_FILE = "refuse-this-letter.pdf"


class PrintSplitTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # Letters gather for a second, so the ten travel together (as many
        # at once as there are print workers) and the bad one spoils a job
        # of several.
        cls.stack = Stack(
            print_config=", batch_max_wait_ms: 1000, batch_max_letters: 10",
            extra_config="workers_per_queue: 12")
        cls.persons = load_persons()

    @classmethod
    def tearDownClass(cls):
        cls.stack.close()

    def print_consumers(self):
        series = 'utpost_queue_consumers{queue="utpost.deliver.print"} '
        for line in self.stack.scrape_metrics().splitlines():
            if line.startswith(series):
                return float(line.rsplit(" ", 1)[1])
        return 0

    def test_one_refused_letter_among_10_print_letters(self):
        # Every print worker consuming first: a lone early consumer would
        # take all ten at once (prefetch) and send them one by one.
        self.stack.wait_until(lambda: self.print_consumers() >= 12,
                              "12 consumers on the print queue")
        self.stack.set_fault(endpoint="print", status=400, count=-1,
                             match=BAD_FILE, error_code="BAD_LETTER")
        stub = self.stack.letters()
        person = self.persons["reserved"][0]
        ids = []
        for i in range(10):
            name = BAD_FILE if i == 4 else f"vedtak-{i}.pdf"
            reply = stub.SubmitLetter(submit_request(
                person=person, ref=f"split-{i}",
                mode=letter_pb2.DeliveryPolicy.PRINT_ONLY,
                documents=[(name, make_pdf(f"Brev {i}"))]))
            ids.append(reply.letter.id)
        bad = ids[4]
        good = [i for i in ids if i != bad]

        failed = self.stack.wait_state(stub, bad, ["FAILED", "PARKED"],
                                       timeout=120)
        self.assertEqual(failed.state, Letter.FAILED, failed.reason)
        self.assertIn("HTTP 400", failed.reason)
        self.assertIn("BAD_LETTER", failed.reason)
        states = {}
        for i in good:
            letter = self.stack.wait_state(stub, i, ["PRINTED", "FAILED",
                                                     "PARKED"], timeout=120)
            states[i] = (Letter.State.Name(letter.state), letter.reason)
        self.assertEqual(
            [s for s, _ in states.values()].count("PRINTED"), 9, states)

        # The simulator refused at least one job of several letters, and
        # took each good letter exactly once.
        injected = self.stack.deliveries()["faults_injected"].get("print", 0)
        self.assertGreaterEqual(injected, 2)
        counts = self.stack.deliveries()["print"]
        for i in good:
            self.assertEqual(counts[i], {"accepted": 1, "duplicates": 0}, i)
        self.assertNotIn(bad, counts)
        parked = [i for i in ids
                  if stub.GetLetter(letter_pb2.GetLetterRequest(name=i)).state
                  == Letter.PARKED]
        self.assertEqual(parked, [])


if __name__ == "__main__":
    unittest.main()
