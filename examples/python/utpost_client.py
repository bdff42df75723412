#!/usr/bin/python3
"""A minimal Utpost client for a case system: submits one letter (uploading
its PDF first when it is large, and waiting out a rate refusal's retry
delay), watches it to a settled state (resuming the watch where it stopped)
and verifies its receipts offline against the CA: each receipt's ES256 signature and
certificate chain, the letter's hash chain, and the newest receipt's
inclusion in the signed receipt log (RFC 9162).

Needs Debian's python3-grpcio, python3-protobuf and python3-cryptography,
and the stubs made by gen-stubs.sh:

    examples/python/gen-stubs.sh /tmp/utpost_stubs
    PYTHONPATH=/tmp/utpost_stubs examples/python/utpost_client.py \\
        --server 127.0.0.1:7443 --ca certs-dev/ca.pem \\
        --cert certs-dev/tenant-964338531.pem \\
        --key certs-dev/tenant-964338531.key \\
        --person 01817010055 --pdf examples/vedtak.pdf \\
        --client-reference SAK-2026-42/1 --title "Vedtak"

Prints one line per step. Exit code 0 when the letter settled and its
receipts verified; 1 when the server refused the letter or a check failed;
2 for bad arguments; 3 when the server cannot be reached.
"""

import argparse
import base64
import datetime
import hashlib
import json
import os
import sys
import time

import grpc
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

from google.rpc import error_details_pb2, status_pb2
from utpost.v1 import letter_pb2, letter_pb2_grpc

Letter = letter_pb2.Letter
# States after which a case system can file the outcome. DELIVERED may
# still become READ, and a letter with print_if_unread_after may go on to
# print; PARKED waits for an operator.
SETTLED = {Letter.DELIVERED, Letter.READ, Letter.SENT_PRINT, Letter.PRINTED,
           Letter.FAILED, Letter.CANCELLED, Letter.PARKED}
# Worth retrying later with the same client_reference: the letter was not
# stored, or it was and the retry returns it.
RETRYABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
             grpc.StatusCode.RESOURCE_EXHAUSTED}


# Documents larger than this are uploaded first (UploadDocument) and named
# by their SHA-256: a SubmitLetter request carries at most the gateway's
# limits.max_letter_bytes (30 MiB unless the operator set otherwise).
UPLOAD_OVER = 16 << 20
CHUNK = 1 << 20


class VerifyError(Exception):
    pass


def retry_delay(error):
    """The delay a refusal asks for (a google.rpc.RetryInfo in the
    grpc-status-details-bin trailer: a tenant over its rate or quota), in
    seconds; None without one."""
    for key, value in error.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            for detail in status_pb2.Status.FromString(value).details:
                info = error_details_pb2.RetryInfo()
                if detail.Unpack(info):
                    return info.retry_delay.ToMilliseconds() / 1000
    return None


def upload(stub, content):
    """Uploads `content` in chunks; returns its SHA-256, which a letter's
    Document names in upload_sha256 for the next 24 hours."""
    digest = hashlib.sha256(content).hexdigest()

    def messages():
        yield letter_pb2.UploadDocumentRequest(header=letter_pb2.UploadHeader(
            media_type="application/pdf", size_bytes=len(content),
            sha256=digest))
        for at in range(0, len(content), CHUNK):
            yield letter_pb2.UploadDocumentRequest(
                chunk=content[at:at + CHUNK])
    done = stub.UploadDocument(messages(), timeout=300)
    return done.sha256


def b64url(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def read(path):
    with open(path, "rb") as f:
        return f.read()


# --- receipts -------------------------------------------------------------

def verify_jws(jws, ca, expected_typ):
    """Checks a compact JWS (ES256, x5c) against the CA certificate and
    returns its payload as a dict. The chain is checked at the JWS's own
    "time", so a receipt signed by a since-rotated key still verifies."""
    parts = jws.split(".")
    if len(parts) != 3:
        raise VerifyError("not a compact JWS")
    header = json.loads(b64url(parts[0]))
    payload = json.loads(b64url(parts[1]))
    if header.get("alg") != "ES256" or header.get("typ") != expected_typ:
        raise VerifyError(f"unexpected JWS header {header}")
    chain = [x509.load_der_x509_certificate(base64.b64decode(c))
             for c in header.get("x5c", [])]
    if not chain:
        raise VerifyError("no x5c certificate")
    signature = b64url(parts[2])
    if len(signature) != 64:
        raise VerifyError("ES256 signature is not 64 bytes")
    der = utils.encode_dss_signature(int.from_bytes(signature[:32], "big"),
                                     int.from_bytes(signature[32:], "big"))
    try:
        chain[0].public_key().verify(
            der, (parts[0] + "." + parts[1]).encode("ascii"),
            ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise VerifyError("signature does not verify")
    when = datetime.datetime.strptime(
        payload["time"].replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S.%f%z")
    when = when.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    # Each certificate signed by the next, the last by the CA.
    for cert, issuer in zip(chain, chain[1:] + [ca]):
        if cert.issuer != issuer.subject:
            raise VerifyError(f"{cert.subject.rfc4514_string()} is not "
                              f"issued by {issuer.subject.rfc4514_string()}")
        key = issuer.public_key()
        try:
            if isinstance(key, rsa.RSAPublicKey):
                key.verify(cert.signature, cert.tbs_certificate_bytes,
                           padding.PKCS1v15(), cert.signature_hash_algorithm)
            else:
                key.verify(cert.signature, cert.tbs_certificate_bytes,
                           ec.ECDSA(cert.signature_hash_algorithm))
        except InvalidSignature:
            raise VerifyError("certificate chain does not verify")
        if not cert.not_valid_before <= when <= cert.not_valid_after:
            raise VerifyError("certificate not valid at the signing time")
    return payload


def leaf_hash(data):
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def inclusion_root(leaf, index, size, proof):
    """The root an RFC 9162 (2.1.3.2) audit path leads to, or None."""
    if index >= size:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def fetch_evidence(stub, letter_id, wait_seconds=10):
    """Fetches the letter's evidence bundle. A store shared by several
    processes (PostgreSQL) makes a committed receipt a leaf of the receipt
    log a moment later: until then the bundle's newest receipt has no leaf
    index (or the letter has none, FAILED_PRECONDITION), so ask again for
    a few seconds."""
    deadline = time.time() + wait_seconds
    while True:
        try:
            bundle = stub.GetReceipts(
                letter_pb2.GetReceiptsRequest(name="letters/" + letter_id,
                                              evidence_bundle=True),
                timeout=30).evidence_bundle
            if not bundle.receipts or bundle.receipts[-1].leaf_index >= 0:
                return bundle
        except grpc.RpcError as e:
            if (e.code() != grpc.StatusCode.FAILED_PRECONDITION or
                    time.time() >= deadline):
                raise
        if time.time() >= deadline:
            return bundle  # The check below says what is missing.
        time.sleep(0.2)


def verify_receipts(stub, letter_id, ca, watched_state):
    """Fetches the letter's evidence bundle and checks it; returns the
    verified receipt payloads in order."""
    bundle = fetch_evidence(stub, letter_id)
    payloads = []
    prev = ""
    for i, r in enumerate(bundle.receipts):
        p = verify_jws(r.jws, ca, "utpost-receipt+jws")
        if p["letter_id"] != letter_id or p["seq"] != i + 1:
            raise VerifyError(f"receipt {i + 1} names letter "
                              f"{p['letter_id']} seq {p['seq']}")
        if p["prev"] != prev:
            raise VerifyError(f"receipt {i + 1}: hash chain broken")
        prev = hashlib.sha256(r.jws.encode("ascii")).hexdigest()
        payloads.append(p)
    if not payloads:
        raise VerifyError("no receipts")
    if Letter.State.Name(watched_state) not in [p["state"] for p in payloads]:
        raise VerifyError("no receipt for the state watched")
    head = verify_jws(bundle.tree_head.jws, ca, "utpost-tree-head+jws")
    if head["tree_size"] != bundle.tree_head.tree_size or \
            bytes.fromhex(head["root_hash"]) != bundle.tree_head.root_hash:
        raise VerifyError("tree head fields differ from its signed payload")
    last = bundle.receipts[-1]
    root = inclusion_root(leaf_hash(last.jws.encode("ascii")),
                          last.leaf_index, head["tree_size"],
                          list(last.inclusion_proof))
    if root != bytes.fromhex(head["root_hash"]):
        raise VerifyError("the receipt is not in the signed receipt log")
    return payloads, head


# --- the client -------------------------------------------------------------

def connect(args):
    creds = grpc.ssl_channel_credentials(
        root_certificates=read(args.ca), private_key=read(args.key),
        certificate_chain=read(args.cert))
    options = [("grpc.max_send_message_length", 64 << 20),
               ("grpc.max_receive_message_length", 64 << 20)]
    if args.server_name:
        options.append(("grpc.ssl_target_name_override", args.server_name))
    return grpc.secure_channel(args.server, creds, options=options)


def submit(stub, args):
    recipient = letter_pb2.Recipient()
    if args.person:
        recipient.person = args.person
    else:
        recipient.organisation = args.organisation
    content = read(args.pdf)
    document = letter_pb2.Document(file_name=os.path.basename(args.pdf),
                                   media_type="application/pdf")
    if len(content) > args.upload_over:
        document.upload_sha256 = upload(stub, content)
        print(f"uploaded {document.upload_sha256} ({len(content)} bytes)",
              flush=True)
    else:
        document.content = content
    request = letter_pb2.SubmitLetterRequest(
        client_reference=args.client_reference, title=args.title,
        recipient=recipient, documents=[document],
        delivery_policy=letter_pb2.DeliveryPolicy(
            mode=letter_pb2.DeliveryPolicy.Mode.Value(args.mode)))
    # A retry after a lost answer sends the same request: the server
    # answers with the letter it stored the first time (created false).
    # A refusal with a retry delay (over the tenant's rate) says how long
    # to wait; a day's quota asks for hours, which is not waited out here.
    for attempt in range(5):
        try:
            return stub.SubmitLetter(request, timeout=60)
        except grpc.RpcError as e:
            if e.code() not in RETRYABLE or attempt == 4:
                raise
            delay = retry_delay(e)
            if delay is not None and delay > 60:
                raise
            time.sleep(delay if delay is not None else 2 ** attempt)


def load_cursor(path):
    try:
        with open(path) as f:
            return int(f.read().strip() or 0)
    except FileNotFoundError:
        return 0


def save_cursor(path, cursor):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(cursor))
    os.replace(tmp, path)


def watch(stub, letter_id, args):
    """Follows the tenant's events from the saved cursor until the letter
    settles; reconnects and resumes after the last event on a broken
    stream. Returns the settled state."""
    cursor = load_cursor(args.cursor_file) if args.cursor_file else 0
    # Settled already (a resubmission, or a run stopped after the event):
    # its events may lie before the saved cursor.
    letter = stub.GetLetter(
        letter_pb2.GetLetterRequest(name="letters/" + letter_id), timeout=30)
    if letter.state in SETTLED:
        print(f"settled before the watch began: "
              f"{Letter.State.Name(letter.state)}", flush=True)
        return letter.state
    deadline = time.time() + args.timeout
    while time.time() < deadline:
        try:
            stream = stub.WatchLetters(
                letter_pb2.WatchLettersRequest(cursor=cursor),
                timeout=max(1.0, deadline - time.time()))
            for event in stream:
                cursor = event.cursor
                if args.cursor_file:
                    save_cursor(args.cursor_file, cursor)
                if event.letter_id != letter_id:
                    continue  # The tenant's other letters.
                print(f"event {event.cursor}: {Letter.State.Name(event.state)}"
                      f" {event.channel} {event.reason}".rstrip(), flush=True)
                if event.state in SETTLED:
                    stream.cancel()
                    return event.state
        except grpc.RpcError as e:
            if e.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
                break
            if e.code() not in RETRYABLE:
                raise
            print(f"watch interrupted ({e.code().name}); resuming after "
                  f"cursor {cursor}", flush=True)
            time.sleep(1)
    raise TimeoutError(f"letter {letter_id} did not settle within "
                       f"{args.timeout} s")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--server", required=True, help="host:port of utpostd")
    ap.add_argument("--server-name",
                    help="name to expect in the server's certificate when "
                    "it differs from the host in --server")
    ap.add_argument("--ca", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    to = ap.add_mutually_exclusive_group(required=True)
    to.add_argument("--person", help="national identity number, 11 digits")
    to.add_argument("--organisation", help="organisation number, 9 digits")
    ap.add_argument("--pdf", required=True)
    ap.add_argument("--title", required=True)
    ap.add_argument("--client-reference", required=True,
                    help="the case system's own id of this letter; "
                    "submitting it again returns the same letter")
    ap.add_argument("--mode", default="DIGITAL_THEN_PRINT",
                    choices=["DIGITAL_THEN_PRINT", "DIGITAL_ONLY",
                             "PRINT_ONLY"])
    ap.add_argument("--upload-over", type=int, default=UPLOAD_OVER,
                    help="upload the PDF first (UploadDocument) when it is "
                    "larger than this many bytes")
    ap.add_argument("--cursor-file",
                    help="where the watch cursor is kept between runs")
    ap.add_argument("--timeout", type=float, default=120)
    args = ap.parse_args()

    stub = letter_pb2_grpc.LetterServiceStub(connect(args))
    try:
        reply = submit(stub, args)
        letter = reply.letter
        print(f"submitted {letter.id} "
              f"({'created' if reply.created else 'already there'}) "
              f"state {Letter.State.Name(letter.state)}", flush=True)
        state = watch(stub, letter.id, args)
        print(f"settled {Letter.State.Name(state)}", flush=True)
        receipts, head = verify_receipts(stub, letter.id, read_ca(args.ca),
                                         state)
    except grpc.RpcError as e:
        print(f"refused: {e.code().name}: {e.details()}", file=sys.stderr)
        return 3 if e.code() == grpc.StatusCode.UNAVAILABLE else 1
    except (VerifyError, TimeoutError) as e:
        print(f"FAILED: {e}", file=sys.stderr)
        return 1
    print(f"verified {len(receipts)} receipts "
          f"({' '.join(p['state'] for p in receipts)}); newest in the "
          f"receipt log at tree size {head['tree_size']}", flush=True)
    return 0


def read_ca(path):
    return x509.load_pem_x509_certificate(read(path))


if __name__ == "__main__":
    sys.exit(main())
