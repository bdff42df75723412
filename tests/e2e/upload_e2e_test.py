"""UploadDocument end to end, from Debian's grpcio (not Utpost's code): a
document over the SubmitLetter size limit is uploaded in chunks, letters of
the same tenant reference it by its SHA-256 (SubmitLetter, SubmitBatch,
PreflightLetters) and it is delivered whole; a broken upload (wrong digest,
too few bytes, too large, not a PDF, chunk before header) is refused
INVALID_ARGUMENT and stores nothing; another tenant cannot reference it; an
operator cannot upload."""

import hashlib
import json
import os
import subprocess
import time
import unittest

import grpc
from harness import (BERGEN, CERTS, CTL, OSLO, ROOT, Letter, Stack,
                     letter_pb2, load_persons, make_pdf, submit_request,
                     write)

MAX_LETTER = 1 << 20   # SubmitLetter's documents in all: 1 MiB here ...
MAX_UPLOAD = 8 << 20   # ... an upload up to 8 MiB.
CHUNK = 256 << 10


def upload_messages(content, sha256=None, size=None, chunk=CHUNK):
    yield letter_pb2.UploadDocumentRequest(header=letter_pb2.UploadHeader(
        media_type="application/pdf",
        size_bytes=len(content) if size is None else size,
        sha256=sha256 or hashlib.sha256(content).hexdigest()))
    for at in range(0, len(content), chunk):
        yield letter_pb2.UploadDocumentRequest(chunk=content[at:at + chunk])


class UploadTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = Stack(extra_config=(
            f"limits: {{max_document_bytes: {MAX_LETTER}, "
            f"max_letter_bytes: {MAX_LETTER}, "
            f"max_upload_bytes: {MAX_UPLOAD}, upload_idle_seconds: 2}}\n"))
        cls.persons = load_persons()
        # About 3 MiB of text on 700 pages: over the unary limit.
        cls.big = make_pdf("Reguleringsplan " + "x" * 4000, pages=700)
        assert MAX_LETTER * 2 < len(cls.big) < MAX_UPLOAD
        cls.digest = hashlib.sha256(cls.big).hexdigest()

    @classmethod
    def tearDownClass(cls):
        cls.stack.close()

    def upload(self, stub, content, **kw):
        return stub.UploadDocument(upload_messages(content, **kw), timeout=60)

    def letter_with_upload(self, ref, digest=None, i=0):
        mailbox = self.persons["mailbox"]
        req = submit_request(person=mailbox[i % len(mailbox)], ref=ref)
        del req.documents[:]
        req.delivery_policy.mode = letter_pb2.DeliveryPolicy.DIGITAL_ONLY
        req.documents.add(file_name="plan.pdf", media_type="application/pdf",
                          upload_sha256=digest or self.digest)
        return req

    def assert_refused(self, call, code, text):
        with self.assertRaises(grpc.RpcError) as e:
            call()
        self.assertEqual(e.exception.code(), code, e.exception.details())
        self.assertIn(text, e.exception.details())

    def test_an_uploaded_document_is_delivered_in_the_letters_that_name_it(self):
        bergen = self.stack.letters(BERGEN)
        # Sent along, the document is over what one request may carry.
        inline = submit_request(person=self.persons["mailbox"][0],
                                ref=f"inline-{time.time_ns()}",
                                documents=[("plan.pdf", self.big)])
        with self.assertRaises(grpc.RpcError) as e:
            bergen.SubmitLetter(inline, timeout=60)
        self.assertIn(e.exception.code(),
                      (grpc.StatusCode.RESOURCE_EXHAUSTED,
                       grpc.StatusCode.INVALID_ARGUMENT))

        before = time.time()
        up = self.upload(bergen, self.big)
        self.assertEqual(up.sha256, self.digest)
        self.assertEqual(up.size_bytes, len(self.big))
        self.assertAlmostEqual(up.expire_time.seconds, before + 24 * 3600,
                               delta=120)
        # Uploading it again is the same upload.
        self.assertEqual(self.upload(bergen, self.big).sha256, self.digest)

        ref = f"plan-{time.time_ns()}"
        r = bergen.SubmitLetter(self.letter_with_upload(ref), timeout=60)
        self.assertTrue(r.created)
        doc = r.letter.documents[0]
        self.assertEqual((doc.file_name, doc.size_bytes, doc.sha256),
                         ("plan.pdf", len(self.big), self.digest))
        again = bergen.SubmitLetter(self.letter_with_upload(ref), timeout=60)
        self.assertFalse(again.created)
        self.assertEqual(again.letter.id, r.letter.id)

        # A bulk run may share one uploaded attachment.
        refs = [f"plan-batch-{i}-{time.time_ns()}" for i in range(3)]
        results = list(bergen.SubmitBatch(
            iter([self.letter_with_upload(x, i=i + 1)
                  for i, x in enumerate(refs)]), timeout=60))
        self.assertEqual(sorted(x.code for x in results), [0, 0, 0],
                         [x.message for x in results])
        ids = [r.letter.id] + [x.letter.id for x in results]

        # Preflight finds it too.
        pre = bergen.PreflightLetters(letter_pb2.PreflightLettersRequest(
            letters=[self.letter_with_upload(f"pre-{time.time_ns()}")]),
            timeout=60)
        self.assertEqual(pre.outcomes[0].channel, "digital",
                         pre.outcomes[0].reason)

        final = self.stack.wait_final(bergen, ids)
        for i in ids:
            self.assertIn(final[i].state, (Letter.DELIVERED, Letter.READ),
                          final[i])

    def test_another_tenant_cannot_name_it(self):
        bergen = self.stack.letters(BERGEN)
        self.upload(bergen, self.big)
        oslo = self.stack.letters(OSLO)
        ref = f"foreign-{time.time_ns()}"
        self.assert_refused(
            lambda: oslo.SubmitLetter(self.letter_with_upload(ref),
                                      timeout=60),
            grpc.StatusCode.FAILED_PRECONDITION,
            f"documents[0].upload_sha256: no upload {self.digest} of this "
            "tenant")
        listed = oslo.ListLetters(letter_pb2.ListLettersRequest(
            client_reference=ref), timeout=30)
        self.assertEqual(list(listed.letters), [])

    def test_a_broken_upload_is_refused_and_stores_nothing(self):
        bergen = self.stack.letters(BERGEN)
        doc = make_pdf("Vedlegg " + str(time.time_ns()), pages=20)
        digest = hashlib.sha256(doc).hexdigest()
        wrong = hashlib.sha256(b"another document").hexdigest()
        cases = [
            (dict(sha256=wrong), "header.sha256: the document that arrived "
             f"has SHA-256 {digest}"),
            (dict(size=len(doc) + 10), f"{len(doc)} bytes arrived, the "
             f"header announced {len(doc) + 10}"),
            (dict(size=MAX_UPLOAD + 1), "header.size_bytes: must be "
             f"1..{MAX_UPLOAD}"),
        ]
        for kw, text in cases:
            with self.subTest(kw=kw):
                self.assert_refused(lambda: self.upload(bergen, doc, **kw),
                                    grpc.StatusCode.INVALID_ARGUMENT, text)
        self.assert_refused(
            lambda: self.upload(bergen, b"GIF89a" + b"x" * 100),
            grpc.StatusCode.INVALID_ARGUMENT, "chunk: not a PDF")
        self.assert_refused(
            lambda: bergen.UploadDocument(iter([
                letter_pb2.UploadDocumentRequest(chunk=doc)]), timeout=60),
            grpc.StatusCode.INVALID_ARGUMENT,
            "chunk: the header must come first")
        # None of them can be named by a letter: nothing was stored.
        for d in (digest, wrong):
            self.assert_refused(
                lambda: bergen.SubmitLetter(
                    self.letter_with_upload(f"broken-{time.time_ns()}", d),
                    timeout=60),
                grpc.StatusCode.FAILED_PRECONDITION, "no upload")
        # A letter names an upload by a digest, and content with it is
        # refused before anything is looked up.
        both = self.letter_with_upload(f"both-{time.time_ns()}")
        both.documents[0].content = doc
        self.assert_refused(
            lambda: bergen.SubmitLetter(both, timeout=60),
            grpc.StatusCode.INVALID_ARGUMENT,
            "documents[0]: content and upload_sha256 are both set")

    def test_utpostctl_uploads_and_a_letter_file_names_the_upload(self):
        d = os.path.join(self.stack.work, "ctl-upload")
        os.makedirs(d, exist_ok=True)
        plan = os.path.join(d, "plan.pdf")
        doc = make_pdf("Kommuneplan " + "y" * 4000, pages=600)
        write(plan, doc)
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("UTPOST_")}
        env["HOME"] = self.stack.work

        def ctl(*args):
            return subprocess.run(
                [CTL, "--server", f"127.0.0.1:{self.stack.api_port}",
                 "--cert", f"{CERTS}/tenant-{BERGEN}.pem",
                 "--key", f"{CERTS}/tenant-{BERGEN}.key"] + list(args),
                cwd=ROOT, env=env, capture_output=True, text=True,
                timeout=120)

        digest = hashlib.sha256(doc).hexdigest()
        r = ctl("upload", plan, "--chunk-bytes", "300000")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn(f"uploaded {digest} ({len(doc)} bytes)", r.stdout)
        r = ctl("upload", plan, "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["sha256"], digest)
        # A file that is no PDF: refused, with the gateway's reason.
        write(os.path.join(d, "notes.txt"), b"plain text, not a PDF")
        r = ctl("upload", os.path.join(d, "notes.txt"))
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("not a PDF", r.stderr)

        letter = os.path.join(d, "letter.yaml")
        ref = f"ctl-plan-{time.time_ns()}"
        write(letter, f"""client_reference: {ref}
title: Kommuneplan
recipient: {{person: "{self.persons['mailbox'][0]}"}}
delivery_policy: {{mode: DIGITAL_ONLY}}
documents:
  - {{file_name: plan.pdf, upload_sha256: {digest}}}
""")
        r = ctl("submit", letter, "--json")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        created = json.loads(r.stdout)
        self.assertEqual(created["letter"]["documents"][0]["sha256"], digest)
        self.stack.wait_final(self.stack.letters(BERGEN),
                              [created["letter"]["id"]])

    def test_a_stalled_upload_is_cancelled_and_gives_its_memory_back(self):
        bergen = self.stack.letters(BERGEN)
        doc = make_pdf("Stalled " + str(time.time_ns()), pages=50)

        def stalling():
            messages = list(upload_messages(doc, chunk=len(doc) // 3 + 1))
            yield messages[0]
            yield messages[1]
            time.sleep(6)  # Past upload_idle_seconds (2) and the sweep.
            yield from messages[2:]
        start = time.monotonic()
        with self.assertRaises(grpc.RpcError) as e:
            bergen.UploadDocument(stalling(), timeout=60)
        self.assertEqual(e.exception.code(), grpc.StatusCode.CANCELLED,
                         e.exception.details())
        self.assertLess(time.monotonic() - start, 6)
        # Both of the tenant's slots are free again (the server gives the
        # stalled call's back as the call ends, a moment after the client
        # saw it cancelled): two uploads at once.
        deadline = time.monotonic() + 10
        while True:
            a = bergen.UploadDocument.future(upload_messages(self.big),
                                             timeout=60)
            b = bergen.UploadDocument.future(upload_messages(doc),
                                             timeout=60)
            try:
                self.assertEqual(a.result().sha256, self.digest)
                self.assertEqual(b.result().sha256,
                                 hashlib.sha256(doc).hexdigest())
                break
            except grpc.RpcError as e:
                if (e.code() != grpc.StatusCode.RESOURCE_EXHAUSTED
                        or time.monotonic() > deadline):
                    raise
                time.sleep(0.2)

    def test_an_operator_cannot_upload(self):
        operator = self.stack.letters(None, cert=f"{CERTS}/operator.pem",
                                      key=f"{CERTS}/operator.key")
        self.assert_refused(
            lambda: self.upload(operator, self.big),
            grpc.StatusCode.PERMISSION_DENIED, "LetterService is for tenants")


if __name__ == "__main__":
    unittest.main()
