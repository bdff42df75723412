"""utpostctl against a running stack, as an integrator and an operator
would use it: submit from a letter file, get, list, receipts, status, and
exit codes that scripts can rely on."""

import json
import os
import subprocess
import unittest

from harness import BUILD, CERTS, ROOT, Stack, verify_jws_with_openssl

CTL = os.path.join(BUILD, "cli", "utpostctl")


class CliTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = Stack()

    @classmethod
    def tearDownClass(cls):
        cls.stack.close()

    def ctl(self, *args, operator=False):
        argv = [CTL, "--server", f"127.0.0.1:{self.stack.api_port}"]
        if operator:
            argv += ["--cert", f"{CERTS}/operator.pem",
                     "--key", f"{CERTS}/operator.key"]
        return subprocess.run(argv + list(args), cwd=ROOT,
                              capture_output=True, text=True, timeout=60)

    def test_submit_get_receipts_and_status(self):
        r = self.ctl("submit", "examples/letter.yaml", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        submitted = json.loads(r.stdout)
        self.assertTrue(submitted["created"])
        letter_id = submitted["letter"]["id"]

        again = self.ctl("submit", "examples/letter.yaml")
        self.assertEqual(again.returncode, 0, again.stderr)
        self.assertIn(f"already submitted {letter_id}", again.stdout)

        self.stack.wait_final(self.stack.letters(), [letter_id])
        got = self.ctl("get", letter_id, "--json")
        self.assertEqual(got.returncode, 0, got.stderr)
        letter = json.loads(got.stdout)
        self.assertEqual(letter["state"], "DELIVERED")
        self.assertEqual(letter["recipient"]["person"], "018170*****")
        self.assertEqual(
            [e["state"] for e in letter["timeline"]],
            ["RECEIVED", "QUEUED", "ROUTED", "SENT_DIGITAL", "DELIVERED"])

        human = self.ctl("get", letter_id)
        self.assertIn("DELIVERED", human.stdout)
        self.assertIn("vedtak.pdf", human.stdout)

        receipts = self.ctl("receipts", letter_id, "--json")
        self.assertEqual(receipts.returncode, 0, receipts.stderr)
        jws = [r["jws"] for r in json.loads(receipts.stdout)["receipts"]]
        self.assertEqual(len(jws), 5)
        for j in jws:
            verify_jws_with_openssl(j)

        listed = self.ctl("list", "--state", "DELIVERED")
        self.assertIn(letter_id, listed.stdout)

        status = self.ctl("status", "--json", operator=True)
        self.assertEqual(status.returncode, 0, status.stderr)
        counts = {c["state"]: int(c["count"])
                  for c in json.loads(status.stdout)["letters"]}
        self.assertGreaterEqual(counts.get("DELIVERED", 0), 1)
        queues = [q["queue"] for q in json.loads(status.stdout)["queues"]]
        self.assertIn("utpost.route", queues)

    def test_exit_codes(self):
        # Refused by the server: a tenant asking for the operators' status.
        self.assertEqual(self.ctl("status").returncode, 1)
        # Bad input: an unreadable letter file.
        self.assertEqual(self.ctl("submit", "no-such-file.yaml").returncode, 2)
        # Unknown letter.
        missing = self.ctl("get", "00000000-0000-4000-8000-000000000000")
        self.assertEqual(missing.returncode, 1)
        self.assertIn("NOT_FOUND", missing.stderr)
        # Nobody listening.
        r = subprocess.run([CTL, "--server", "127.0.0.1:1", "--timeout", "3",
                            "list"], cwd=ROOT, capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(r.returncode, 3, r.stderr)

    def test_bad_letter_file_names_the_field(self):
        path = os.path.join(self.stack.work, "bad.yaml")
        with open(path, "w") as f:
            f.write("titel: typo\n")
        r = self.ctl("submit", path)
        self.assertEqual(r.returncode, 2)
        self.assertIn("titel", r.stderr)


if __name__ == "__main__":
    unittest.main()
