"""The integration guide's example clients (examples/python, examples/java)
against a running stack, built and run as a case-system developer would from
docs/integration.md: each submits a letter, watches it to a settled state
and verifies its receipts; a resubmission with the same client_reference
gets the same letter; a refused letter is reported with its gRPC code."""

import os
import re
import shutil
import subprocess
import tempfile
import unittest

from harness import BERGEN, CERTS, ROOT, Stack, make_pdf, read, write

PYTHON = "/usr/bin/python3"
PERSON = "01817010055"  # Digipost mailbox in sim/data/persons.yaml.
ORGANISATION = "932000008"  # No Altinn inbox (sim/data): goes to print.


class ExamplesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = Stack(extra_config="receipt_log:\n"
                          "  tree_head_interval_seconds: 1\n")
        cls.work = tempfile.mkdtemp(prefix="utpost-examples-")
        cls.pdf = os.path.join(cls.work, "vedtak.pdf")
        write(cls.pdf, make_pdf("Vedtak om eiendomsskatt"))
        # As the guide says: stubs from proto/ with Debian's protoc and
        # plugins.
        cls.stubs = os.path.join(cls.work, "stubs")
        subprocess.run([os.path.join(ROOT, "examples", "python",
                                     "gen-stubs.sh"), cls.stubs],
                       check=True, timeout=120)
        cls.java = os.path.join(cls.work, "java")
        r = subprocess.run([os.path.join(ROOT, "examples", "java",
                                         "build.sh"), cls.java],
                           capture_output=True, text=True, timeout=600)
        cls.java_build = r

    @classmethod
    def tearDownClass(cls):
        cls.stack.close()
        shutil.rmtree(cls.work, True)

    def common_args(self, reference, recipient=("--person", PERSON),
                    cursor_file=None):
        args = ["--server", f"127.0.0.1:{self.stack.api_port}",
                "--server-name", "localhost",
                "--ca", f"{CERTS}/ca.pem",
                "--cert", f"{CERTS}/tenant-{BERGEN}.pem",
                "--key", f"{CERTS}/tenant-{BERGEN}.key",
                *recipient, "--pdf", self.pdf,
                "--title", "Vedtak om eiendomsskatt",
                "--client-reference", reference, "--timeout", "90"]
        if cursor_file:
            args += ["--cursor-file", cursor_file]
        return args

    def python_client(self, *args):
        env = dict(os.environ, PYTHONPATH=self.stubs)
        return subprocess.run(
            [PYTHON, os.path.join(ROOT, "examples", "python",
                                  "utpost_client.py"), *args],
            capture_output=True, text=True, timeout=180, env=env)

    def java_client(self, *args):
        self.assertEqual(self.java_build.returncode, 0,
                         self.java_build.stdout + self.java_build.stderr)
        return subprocess.run([os.path.join(self.java, "run"), *args],
                              capture_output=True, text=True, timeout=180)

    def check_delivered(self, r, settled="DELIVERED"):
        out = r.stdout + r.stderr
        self.assertEqual(r.returncode, 0, out)
        m = re.search(r"^submitted ([0-9a-f-]{36}) \(created\)", r.stdout,
                      re.M)
        self.assertIsNotNone(m, out)
        self.assertIn(f"settled {settled}", r.stdout)
        v = re.search(r"^verified (\d+) receipts \(([A-Z_ ]+)\); newest in "
                      r"the receipt log at tree size (\d+)$", r.stdout, re.M)
        self.assertIsNotNone(v, out)
        states = v.group(2).split()
        self.assertEqual(int(v.group(1)), len(states))
        self.assertEqual(states[0], "RECEIVED")
        self.assertIn(settled, states)
        # The server agrees on the state and the number of receipts.
        letter_id = m.group(1)
        stub = self.stack.letters()
        from harness import letter_pb2
        got = stub.GetLetter(letter_pb2.GetLetterRequest(
            name="letters/" + letter_id), timeout=30)
        receipts = stub.GetReceipts(letter_pb2.GetReceiptsRequest(
            name="letters/" + letter_id), timeout=30).receipts
        self.assertGreaterEqual(len(receipts), len(states))
        self.assertEqual([letter_pb2.Letter.State.Name(x.state)
                          for x in receipts[:len(states)]], states)
        self.assertNotEqual(got.state, letter_pb2.Letter.STATE_UNSPECIFIED)
        return letter_id

    def test_python_client_submits_watches_and_verifies(self):
        cursor = os.path.join(self.work, "python.cursor")
        r = self.python_client(*self.common_args("PY-1", cursor_file=cursor))
        letter_id = self.check_delivered(r)
        # The client watched and kept its cursor, unless the letter had
        # settled before its first look (a slow start, as a JVM's).
        if "settled before the watch began" not in r.stdout:
            self.assertGreater(int(read(cursor)), 0)
        # The same reference again: the same letter, not a second one, and
        # its receipts verify again (its events lie before the cursor).
        again = self.python_client(*self.common_args("PY-1",
                                                     cursor_file=cursor))
        self.assertEqual(again.returncode, 0, again.stdout + again.stderr)
        self.assertIn(f"submitted {letter_id} (already there)", again.stdout)
        self.assertRegex(again.stdout, r"(?m)^verified \d+ receipts")

    def test_python_client_uploads_a_large_document_first(self):
        # --upload-over 0: this small PDF goes the way a large one would.
        r = self.python_client(*self.common_args("PY-6"), "--upload-over",
                               "0")
        self.assertRegex(r.stdout, r"(?m)^uploaded [0-9a-f]{64} \(\d+ bytes\)$")
        self.check_delivered(r)

    def test_python_client_follows_a_letter_to_print(self):
        r = self.python_client(*self.common_args(
            "PY-2", recipient=("--organisation", ORGANISATION)))
        self.check_delivered(r, settled="SENT_PRINT")

    def test_python_client_reports_a_refusal_by_code(self):
        r = self.python_client(*self.common_args(
            "PY-3", recipient=("--person", "01817010056")))
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("refused: INVALID_ARGUMENT: recipient.person", r.stderr)

    def test_python_verifier_finds_a_changed_receipt_or_proof(self):
        # The example's checks against the bundle of a real letter, then
        # against copies with one thing changed each.
        r = self.python_client(*self.common_args("PY-5"))
        letter_id = self.check_delivered(r)
        import sys
        sys.path.insert(0, os.path.join(ROOT, "examples", "python"))
        import utpost_client
        from harness import letter_pb2
        real = self.stack.letters().GetReceipts(letter_pb2.GetReceiptsRequest(
            name="letters/" + letter_id, evidence_bundle=True), timeout=30)
        ca = utpost_client.read_ca(f"{CERTS}/ca.pem")

        class Stub:
            def __init__(self, response):
                self.response = response

            def GetReceipts(self, request, timeout):
                return self.response

        def verify(response):
            return utpost_client.verify_receipts(
                Stub(response), letter_id, ca, letter_pb2.Letter.DELIVERED)

        payloads, head = verify(real)
        self.assertEqual(payloads[-1]["state"], "DELIVERED")

        def changed(edit):
            copy = letter_pb2.GetReceiptsResponse()
            copy.CopyFrom(real)
            edit(copy.evidence_bundle)
            return copy

        def flip_signature(b):
            h, p, sig = b.receipts[1].jws.split(".")
            b.receipts[1].jws = ".".join(
                [h, p, ("A" if sig[5] != "A" else "B").join(
                    [sig[:5], sig[6:]])])

        def swap_payload(b):
            # A validly signed receipt of the letter in another's place.
            h, _, sig = b.receipts[1].jws.split(".")
            b.receipts[1].jws = ".".join(
                [h, b.receipts[2].jws.split(".")[1], sig])

        def drop_receipt(b):
            del b.receipts[2]

        def bad_proof(b):
            if b.receipts[-1].inclusion_proof:
                b.receipts[-1].inclusion_proof[0] = bytes(32)
            else:
                b.receipts[-1].leaf_index += 1

        for name, edit, message in [
                ("signature", flip_signature, "signature does not verify"),
                ("payload", swap_payload, "signature does not verify"),
                ("missing receipt", drop_receipt, "names letter"),
                ("inclusion proof", bad_proof, "not in the signed receipt log"),
        ]:
            with self.subTest(name):
                with self.assertRaises(utpost_client.VerifyError) as e:
                    verify(changed(edit))
                self.assertIn(message, str(e.exception))
        with self.subTest("another CA"):
            stranger = utpost_client.x509.load_pem_x509_certificate(
                read(f"{CERTS}/other-ca.pem"))
            with self.assertRaises(utpost_client.VerifyError):
                utpost_client.verify_receipts(
                    Stub(real), letter_id, stranger,
                    letter_pb2.Letter.DELIVERED)

    def test_java_client_submits_watches_and_verifies(self):
        cursor = os.path.join(self.work, "java.cursor")
        r = self.java_client(*self.common_args("JAVA-1", cursor_file=cursor))
        letter_id = self.check_delivered(r)
        # The client watched and kept its cursor, unless the letter had
        # settled before its first look (a slow start, as a JVM's).
        if "settled before the watch began" not in r.stdout:
            self.assertGreater(int(read(cursor)), 0)
        again = self.java_client(*self.common_args("JAVA-1",
                                                   cursor_file=cursor))
        self.assertEqual(again.returncode, 0, again.stdout + again.stderr)
        self.assertIn(f"submitted {letter_id} (already there)", again.stdout)

    def test_java_client_reports_a_refusal_by_code(self):
        r = self.java_client(*self.common_args(
            "JAVA-2", recipient=("--person", "01817010056")))
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("refused: INVALID_ARGUMENT: recipient.person", r.stderr)

    def test_a_client_certificate_without_client_auth_is_refused(self):
        # The request-signing certificate is from the same CA but is not for
        # logging in.
        args = self.common_args("PY-4")
        args[args.index("--cert") + 1] = f"{CERTS}/sender.pem"
        args[args.index("--key") + 1] = f"{CERTS}/sender.key"
        r = self.python_client(*args)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("refused: PERMISSION_DENIED", r.stderr)
        self.assertIn("clientAuth", r.stderr)


if __name__ == "__main__":
    unittest.main()
