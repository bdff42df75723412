"""The receipt log against a running stack: `utpostctl audit export` and
`audit verify`, an independent verifier (tests/audit/verify_export.py: the
Python standard library and the openssl command line, no Utpost code), the
evidence bundle of GetReceipts, and who may see what."""

import json
import os
import subprocess
import sys
import time
import unittest

import grpc
from harness import (BERGEN, CERTS, CTL, OSLO, ROOT, Stack, letter_pb2,
                     submit_request)
from utpost.v1 import audit_pb2, audit_pb2_grpc

sys.path.insert(0, os.path.join(ROOT, "tests", "audit"))
import verify_export  # noqa: E402

PYTHON = "/usr/bin/python3"
PERSON = "01817010055"  # Has a Digipost mailbox in sim/data/persons.yaml.


class AuditTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = Stack(extra_config="receipt_log:\n"
                          "  tree_head_interval_seconds: 1\n")

    @classmethod
    def tearDownClass(cls):
        cls.stack.close()

    def ctl(self, *args, tenant=BERGEN, operator=False):
        argv = [CTL, "--server", f"127.0.0.1:{self.stack.api_port}"]
        if operator:
            argv += ["--cert", f"{CERTS}/operator.pem",
                     "--key", f"{CERTS}/operator.key"]
        else:
            argv += ["--cert", f"{CERTS}/tenant-{tenant}.pem",
                     "--key", f"{CERTS}/tenant-{tenant}.key"]
        return subprocess.run(argv + list(args), cwd=ROOT,
                              capture_output=True, text=True, timeout=120)

    def deliver(self, n, tenant=BERGEN):
        stub = self.stack.letters(tenant)
        ids = [stub.SubmitLetter(submit_request(person=PERSON),
                                 timeout=30).letter.id for _ in range(n)]
        self.stack.wait_final(stub, ids)
        return ids

    def wait_logged(self, letter_id):
        """The letter's receipts with their evidence bundle once the newest
        is a leaf of the receipt log: on PostgreSQL the sequencer makes a
        receipt one a moment after its commit (until then its leaf_index is
        -1, or the call fails with FAILED_PRECONDITION while none is)."""
        stub = self.stack.letters()

        def logged():
            try:
                resp = stub.GetReceipts(letter_pb2.GetReceiptsRequest(
                    name=letter_id, evidence_bundle=True), timeout=30)
            except grpc.RpcError as e:
                if e.code() == grpc.StatusCode.FAILED_PRECONDITION:
                    return None
                raise
            receipts = resp.evidence_bundle.receipts
            return resp if receipts and receipts[-1].leaf_index >= 0 else None
        return self.stack.wait_until(
            logged, f"the newest receipt of {letter_id} a leaf", timeout=15)

    def test_export_verifies_with_openssl_and_python_alone(self):
        self.deliver(2)
        first = os.path.join(self.stack.work, "first.jsonl")
        r = self.ctl("audit", "export", "-o", first)
        self.assertEqual(r.returncode, 0, r.stderr)
        time.sleep(1.5)  # A periodic head in between.
        self.deliver(2)
        second = os.path.join(self.stack.work, "second.jsonl")
        r = self.ctl("audit", "export", "--heads-since", "1", "-o", second)
        self.assertEqual(r.returncode, 0, r.stderr)

        faults, counts = verify_export.verify_file(second, f"{CERTS}/ca.pem")
        self.assertEqual(faults, [])
        self.assertGreaterEqual(counts["receipts"], 20)
        self.assertEqual(counts["inclusion"], counts["receipts"])
        self.assertGreaterEqual(counts["tree_heads"], 2)
        self.assertGreaterEqual(counts["consistency"], 1)
        # The script as an auditor runs it.
        r = subprocess.run([PYTHON, os.path.join(ROOT, "tests", "audit",
                                                 "verify_export.py"),
                            second, "--ca", f"{CERTS}/ca.pem"],
                           capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("OK:", r.stdout)

        # utpostctl agrees, also against the earlier export.
        r = self.ctl("audit", "verify", second, "--ca", f"{CERTS}/ca.pem",
                     "--previous", first)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

        # A changed byte is caught by the independent script too.
        with open(second) as f:
            lines = f.readlines()
        for i, line in enumerate(lines):
            item = json.loads(line)
            if item["type"] == "receipt":
                jws = item["jws"]
                cut = jws.index(".") + 5
                item["jws"] = jws[:cut] + ("A" if jws[cut] != "A" else "B") \
                    + jws[cut + 1:]
                lines[i] = json.dumps(item) + "\n"
                break
        bad = os.path.join(self.stack.work, "bad.jsonl")
        with open(bad, "w") as f:
            f.writelines(lines)
        faults, _ = verify_export.verify_file(bad, f"{CERTS}/ca.pem")
        self.assertEqual(len(faults), 2, faults)
        self.assertIn("signature does not verify", faults[0])
        # The line changed, so the trailer's hash over the lines fails too.
        self.assertIn("the SHA-256 of the lines before the trailer", faults[1])

    def verify_both(self, path):
        """(utpostctl's result, verify_export.py's result) on `path`."""
        ctl = self.ctl("audit", "verify", path, "--ca", f"{CERTS}/ca.pem")
        script = subprocess.run(
            [PYTHON, os.path.join(ROOT, "tests", "audit", "verify_export.py"),
             path, "--ca", f"{CERTS}/ca.pem"],
            capture_output=True, text=True, timeout=300)
        return ctl, script

    def test_tenant_export_proves_its_completeness(self):
        ids = self.deliver(2)
        path = os.path.join(self.stack.work, "complete.jsonl")
        r = self.ctl("audit", "export", "-o", path)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(path) as f:
            lines = f.read().splitlines()
        header = json.loads(lines[0])
        self.assertEqual(header["type"], "export")
        self.assertEqual(header["format"], "utpost-receipt-log-export/2")
        self.assertEqual(header["tenant"], BERGEN)
        signed = json.loads(verify_export.b64url(header["jws"].split(".")[1]))
        self.assertEqual(signed["tenant"], BERGEN)
        self.assertEqual(signed["lines"], len(lines))
        self.assertEqual(json.loads(lines[-1])["type"], "trailer")

        # Untouched: both verifiers pass and say it is complete.
        ctl, script = self.verify_both(path)
        self.assertEqual(ctl.returncode, 0, ctl.stdout + ctl.stderr)
        self.assertIn("NOTE complete", ctl.stdout)
        self.assertEqual(script.returncode, 0, script.stdout + script.stderr)
        self.assertIn("NOTE complete", script.stdout)

        # The last receipt of one of the letters just delivered, removed.
        items = [json.loads(l) for l in lines]
        mine = [(i, it) for i, it in enumerate(items)
                if it["type"] == "receipt" and it["letter_id"] == ids[0]]
        last_index, last = max(mine, key=lambda x: x[1]["seq"])
        stmt_index = next(i for i, it in enumerate(items)
                          if it["type"] == "letter"
                          and it["letter_id"] == ids[0])
        # 1-based, with the receipt line above it removed.
        stmt_line = stmt_index + 1 - 1
        cut = lines[:last_index] + lines[last_index + 1:]
        bad = os.path.join(self.stack.work, "no-last-receipt.jsonl")
        with open(bad, "w") as f:
            f.write("\n".join(cut) + "\n")
        n = last["seq"]
        want = (f"letter {ids[0]}: 1 receipt (seq {n}) missing: the "
                f"statement at line {stmt_line} says {n} receipts "
                f"(seq 1..{n})")
        ctl, script = self.verify_both(bad)
        self.assertEqual(ctl.returncode, 1, ctl.stdout)
        self.assertIn("FAULT " + want, ctl.stdout)
        self.assertEqual(script.returncode, 1, script.stdout)
        self.assertIn("FAULT " + want, script.stdout)

        # The last line removed.
        bad = os.path.join(self.stack.work, "no-last-line.jsonl")
        with open(bad, "w") as f:
            f.write("\n".join(lines[:-1]) + "\n")
        want = (f"line {len(lines)}: the export ends early: its last 1 line "
                "is missing")
        ctl, script = self.verify_both(bad)
        self.assertEqual(ctl.returncode, 1, ctl.stdout)
        self.assertIn("FAULT " + want, ctl.stdout)
        self.assertEqual(script.returncode, 1, script.stdout)
        self.assertIn("FAULT " + want, script.stdout)

    def test_tenants_see_only_their_own_receipts(self):
        self.deliver(1, tenant=OSLO)
        path = os.path.join(self.stack.work, "bergen.jsonl")
        r = self.ctl("audit", "export", "-o", path)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(path) as f:
            items = [json.loads(l) for l in f]
        receipts = [i for i in items if i["type"] == "receipt"]
        for i in receipts:
            payload = verify_export.b64url(i["jws"].split(".")[1])
            self.assertEqual(json.loads(payload)["tenant"], BERGEN)
        r = self.ctl("audit", "export", "--tenant", OSLO)
        self.assertEqual(r.returncode, 1)
        self.assertIn("PERMISSION_DENIED", r.stderr)
        # Operators may export any tenant.
        r = self.ctl("audit", "export", "--tenant", OSLO, operator=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('"type":"receipt"', r.stdout)

    def test_evidence_bundle_has_proofs_and_a_pdf(self):
        letter_id = self.deliver(1)[0]
        resp = self.wait_logged(letter_id)
        bundle = resp.evidence_bundle
        self.assertTrue(bundle.summary_pdf.startswith(b"%PDF-"))
        self.assertEqual(len(bundle.receipts), len(resp.receipts))
        head = bundle.tree_head
        checker_dir = os.path.join(self.stack.work, "bundle")
        os.makedirs(checker_dir, exist_ok=True)
        checker = verify_export.JwsChecker(f"{CERTS}/ca.pem", checker_dir)
        payload = checker.verify(head.jws)
        self.assertEqual(payload["tree_size"], head.tree_size)
        self.assertEqual(bytes.fromhex(payload["root_hash"]), head.root_hash)
        for r in bundle.receipts:
            self.assertTrue(verify_export.verify_inclusion(
                verify_export.leaf_hash(r.jws.encode()), r.leaf_index,
                head.tree_size, list(r.inclusion_proof), head.root_hash))
            p = checker.verify(r.jws)
            self.assertIn("evidence", p)
            self.assertEqual(p["documents"][0]["file_name"], "vedtak.pdf")

    def test_evidence_document_is_pdfa_and_verifies_on_its_own(self):
        letter_id = self.deliver(1)[0]
        self.wait_logged(letter_id)
        path = os.path.join(self.stack.work, "bevis.pdf")
        r = self.ctl("evidence", letter_id, "-o", path)
        self.assertEqual(r.returncode, 0, r.stderr)
        # qpdf finds no damage; pdffonts (poppler) sees every font embedded.
        r = subprocess.run(["qpdf", "--check", path], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        r = subprocess.run(["pdffonts", path], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        fonts = r.stdout.splitlines()[2:]
        self.assertGreaterEqual(len(fonts), 2, r.stdout)
        for row in fonts:
            # name type encoding emb sub uni object ID
            self.assertEqual(row.split()[-5], "yes", row)
        # PDF/A-3b identification in the (uncompressed) XMP metadata, the
        # output intent and the associated file.
        with open(path, "rb") as f:
            data = f.read()
        self.assertTrue(data.startswith(b"%PDF-1.7"))
        self.assertIn(b"<pdfaid:part>3</pdfaid:part>", data)
        self.assertIn(b"<pdfaid:conformance>B</pdfaid:conformance>", data)
        self.assertIn(b"/GTS_PDFA1", data)
        self.assertIn(b"/AFRelationship /Data", data)
        # Norwegian by default, with the sender's name and Norwegian time.
        text = subprocess.run(["pdftotext", "-layout", path, "-"],
                              capture_output=True, text=True,
                              timeout=60).stdout
        self.assertIn("Bergen kommune (964338531)", text)
        self.assertIn("norsk tid", text)
        self.assertIn("Slik kontrollerer du", text)
        self.assertIn("SHA-256-fingeravtrykk", text)
        # The attached receipts, taken out with qpdf, verify with both
        # verifiers; the document itself verifies with utpostctl.
        attached = os.path.join(self.stack.work, "bevis-receipts.jsonl")
        r = subprocess.run(["qpdf", "--show-attachment=receipts.jsonl", path],
                           capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(attached, "wb") as f:
            f.write(r.stdout)
        header = json.loads(r.stdout.decode().splitlines()[0])
        self.assertEqual(header["letter"], letter_id)
        faults, counts = verify_export.verify_file(attached, f"{CERTS}/ca.pem")
        self.assertEqual(faults, [])
        ctl, script = self.verify_both(attached)
        self.assertEqual(ctl.returncode, 0, ctl.stdout + ctl.stderr)
        self.assertEqual(script.returncode, 0, script.stdout + script.stderr)
        r = self.ctl("audit", "verify", path, "--ca", f"{CERTS}/ca.pem")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        # One changed byte in an attached signature is found.
        sig_start = data.index(b'"jws":"') + 7
        dot = data.index(b".", data.index(b".", sig_start) + 1)
        pos = dot + 5
        tampered = bytearray(data)
        tampered[pos] = ord("A") if tampered[pos] != ord("A") else ord("B")
        bad = os.path.join(self.stack.work, "bevis-endret.pdf")
        with open(bad, "wb") as f:
            f.write(bytes(tampered))
        r = self.ctl("audit", "verify", bad, "--ca", f"{CERTS}/ca.pem")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        # English on request; another language is refused as bad input.
        en = os.path.join(self.stack.work, "evidence.pdf")
        r = self.ctl("evidence", letter_id, "-o", en, "--language", "en")
        self.assertEqual(r.returncode, 0, r.stderr)
        text = subprocess.run(["pdftotext", en, "-"], capture_output=True,
                              text=True, timeout=60).stdout
        self.assertIn("How to verify", text)
        r = self.ctl("evidence", letter_id, "-o", en, "--language", "de")
        self.assertEqual(r.returncode, 2, r.stderr)
        stub = self.stack.letters()
        with self.assertRaises(grpc.RpcError) as e:
            stub.GetReceipts(letter_pb2.GetReceiptsRequest(
                name=letter_id, evidence_bundle=True, language="de"),
                timeout=30)
        self.assertEqual(e.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)

    def test_proofs_over_the_api(self):
        letter_id = self.deliver(1)[0]
        log = audit_pb2_grpc.ReceiptLogServiceStub(self.stack.channel())
        first = log.GetTreeHead(audit_pb2.GetTreeHeadRequest(fresh=True),
                                timeout=30)
        work = os.path.join(self.stack.work, "api")
        os.makedirs(work, exist_ok=True)
        checker = verify_export.JwsChecker(f"{CERTS}/ca.pem", work)
        self.assertEqual(checker.verify(first.jws)["tree_size"],
                         first.tree_size)
        proof = log.GetInclusionProof(audit_pb2.GetInclusionProofRequest(
            letter_id=letter_id, sequence=2), timeout=30)
        self.assertEqual(checker.verify(proof.receipt_jws)["seq"], 2)
        self.assertTrue(verify_export.verify_inclusion(
            verify_export.leaf_hash(proof.receipt_jws.encode()),
            proof.leaf_index, proof.tree_size, list(proof.hashes),
            proof.tree_head.root_hash))
        # Another tenant cannot see it, not even that it exists.
        oslo = audit_pb2_grpc.ReceiptLogServiceStub(self.stack.channel(
            cert=f"{CERTS}/tenant-{OSLO}.pem", key=f"{CERTS}/tenant-{OSLO}.key"))
        with self.assertRaises(grpc.RpcError) as e:
            oslo.GetInclusionProof(audit_pb2.GetInclusionProofRequest(
                letter_id=letter_id, sequence=2), timeout=30)
        self.assertEqual(e.exception.code(), grpc.StatusCode.NOT_FOUND)
        with self.assertRaises(grpc.RpcError) as e:
            oslo.GetInclusionProof(audit_pb2.GetInclusionProofRequest(
                leaf_index=proof.leaf_index), timeout=30)
        self.assertEqual(e.exception.code(), grpc.StatusCode.NOT_FOUND)
        # The log grows; the newer head extends the older one.
        self.deliver(1, tenant=OSLO)
        second = oslo.GetTreeHead(audit_pb2.GetTreeHeadRequest(fresh=True),
                                  timeout=30)
        self.assertGreater(second.tree_size, first.tree_size)
        c = oslo.GetConsistencyProof(audit_pb2.GetConsistencyProofRequest(
            first=first.tree_size, second=second.tree_size), timeout=30)
        self.assertTrue(verify_export.verify_consistency(
            first.tree_size, second.tree_size, first.root_hash,
            second.root_hash, list(c.hashes)))
        again = log.GetTreeHead(audit_pb2.GetTreeHeadRequest(
            tree_size=first.tree_size), timeout=30)
        self.assertEqual(again.jws, first.jws)
        with self.assertRaises(grpc.RpcError) as e:
            log.GetConsistencyProof(audit_pb2.GetConsistencyProofRequest(
                first=0, second=second.tree_size), timeout=30)
        self.assertEqual(e.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)


class RotatingStack(Stack):
    """A stack whose second receipt key starts signing `delay` seconds
    after the daemon starts."""

    delay = 10

    def write_config(self, role):
        super().write_config(role)
        self.switch = time.time() + self.delay
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.switch))
        with open(self.config_path()) as f:
            text = f.read()
        old = f"  cert_chain_file: {CERTS}/receipts.pem\n"
        assert old in text
        text = text.replace(old, old + (
            f"  keys:\n    - key_file: {CERTS}/receipts-2.key\n"
            f"      cert_chain_file: {CERTS}/receipts-2.pem\n"
            f"      not_before: \"{when}\"\n"))
        with open(self.config_path(), "w") as f:
            f.write(text)


class KeyRotationTest(unittest.TestCase):
    def test_receipts_before_and_after_a_rotation_verify(self):
        with RotatingStack() as stack:
            stub = stack.letters()

            def deliver():
                i = stub.SubmitLetter(submit_request(person=PERSON),
                                      timeout=30).letter.id
                stack.wait_final(stub, [i])

            deliver()
            time.sleep(max(0, stack.switch - time.time()) + 1.5)
            deliver()
            path = os.path.join(stack.work, "rotated.jsonl")
            r = subprocess.run(
                [CTL, "--server", f"127.0.0.1:{stack.api_port}", "audit",
                 "export", "-o", path], cwd=ROOT, capture_output=True,
                text=True, timeout=120)
            self.assertEqual(r.returncode, 0, r.stderr)
            faults, counts = verify_export.verify_file(path, f"{CERTS}/ca.pem")
            self.assertEqual(faults, [])
            self.assertEqual(counts["receipts"], 10)
            leaves = set()
            with open(path) as f:
                for line in f:
                    item = json.loads(line)
                    if item["type"] == "receipt":
                        header = json.loads(verify_export.b64url(
                            item["jws"].split(".")[0]))
                        leaves.add(header["x5c"][0])
            self.assertEqual(len(leaves), 2)  # Old key and new key.


if __name__ == "__main__":
    unittest.main()
