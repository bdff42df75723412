#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora (fuzz/corpus/<target>/).

Each seed is a small, valid input of the shape its parser reads: a
SubmitLetterRequest with the example PDF, the example PDF, daemon
configurations, provider answers as PROTOCOLS.md and the simulator give them
(as scripts of HTTP responses, see fuzz/scripted_http.h) and an audit export
signed with the development receipt key. The output is deterministic except
for the ECDSA signatures of the audit export, so the files are committed and
this script is only run again when a format changes:

    fuzz/make_corpus.py            # rewrites fuzz/corpus/

Needs protoc (protobuf-compiler) and, for the audit export, the openssl
command line.
"""

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")
PDF = open(os.path.join(ROOT, "examples", "vedtak.pdf"), "rb").read()
SEP = b"\n--next--\n"

MESSAGE_ID = "5f0c8a9e-1b2c-4d3e-8f40-123456789abc"


def write(target, name, data):
    folder = os.path.join(CORPUS, target)
    os.makedirs(folder, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def script(*parts):
    """A script of responses: (status, body) or a body (status 200)."""
    out = []
    for p in parts:
        if isinstance(p, tuple):
            status, body = p
            body = body.encode() if isinstance(body, str) else body
            out.append(b"HTTP %d\n" % status + body)
        else:
            out.append(p.encode() if isinstance(p, str) else p)
    return SEP.join(out)


# --- SubmitLetter -----------------------------------------------------------

def text_bytes(data):
    return '"' + "".join("\\%03o" % b for b in data) + '"'


def encode_letter(textproto):
    return subprocess.run(
        ["protoc", "--encode=utpost.v1.SubmitLetterRequest",
         "-I", os.path.join(ROOT, "proto"), "utpost/v1/letter.proto"],
        input=textproto.encode(), stdout=subprocess.PIPE, check=True).stdout


def submit_letter():
    person = """
client_reference: "example-0001"
title: "Vedtak om eiendomsskatt 2027"
recipient {
  person: "01817010055"
  postal_address { name: "Kari Testesen" address_lines: "Storgata 1"
                   postal_code: "5003" city: "Bergen" }
}
documents { file_name: "vedtak.pdf" media_type: "application/pdf"
            content: %s }
delivery_policy { mode: DIGITAL_THEN_PRINT }
print_options { color: MONOCHROME post_type: B }
""" % text_bytes(PDF)
    write("submit_letter", "person-digital-then-print.bin",
          encode_letter(person))
    organisation = """
client_reference: "sak-2027-17"
title: "Vedtak om byggesak"
recipient { organisation: "910000004" }
documents { file_name: "vedtak.pdf" content: %s }
documents { file_name: "vedlegg.pdf" media_type: "application/pdf"
            content: %s }
delivery_policy { mode: DIGITAL_ONLY }
""" % (text_bytes(PDF), text_bytes(PDF))
    write("submit_letter", "organisation-digital-only.bin",
          encode_letter(organisation))
    print_only = """
client_reference: "innkalling-7"
title: "Innkalling"
recipient {
  person: "02916510260"
  postal_address { name: "Ola Nordmann" address_lines: "Postboks 1"
                   postal_code: "0037" city: "Oslo" }
}
documents { file_name: "innkalling.pdf" content: %s }
delivery_policy { mode: PRINT_ONLY }
print_options { color: COLORS duplex: true post_type: A return_handling: SHRED }
not_before { seconds: 1800000000 }
""" % text_bytes(PDF)
    write("submit_letter", "person-print-only.bin", encode_letter(print_only))


# --- Inspection --------------------------------------------------------------

def minimal_pdf(pages):
    """A small valid PDF with `pages` empty A4 pages and a correct xref."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    kids = " ".join("%d 0 R" % (3 + i) for i in range(pages))
    objects.append(("<< /Type /Pages /Kids [%s] /Count %d >>" %
                    (kids, pages)).encode())
    for _ in range(pages):
        objects.append(b"<< /Type /Page /Parent 2 0 R "
                       b"/MediaBox [0 0 595 842] >>")
    out = b"%PDF-1.4\n"
    offsets = []
    for i, o in enumerate(objects):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % (i + 1) + o + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += (b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n"
            % (len(objects) + 1, xref))
    return out


def inspect():
    write("inspect", "vedtak.pdf", PDF)
    write("inspect", "one-page.pdf", minimal_pdf(1))
    write("inspect", "three-pages.pdf", minimal_pdf(3))


# --- Configuration -------------------------------------------------------------

def config():
    write("config", "minimal.yaml", """\
server:
  listen: 127.0.0.1:7443
  cert_file: certs/server.pem
  key_file: certs/server.key
  client_ca_file: certs/ca.pem
store:
  sqlite_path: utpost.db
tenants:
  - organisation_number: "964338531"
    name: Bergen kommune
    return_address: {name: Bergen kommune, address_lines: [Postboks 7700], postal_code: "5020", city: Bergen}
receipts:
  key_file: receipts.key
  cert_chain_file: receipts.pem
providers:
  registry_url: https://krr.example
  digipost: {url: "https://digipost.example", sender_id: "100001", signing_key_file: sender.key}
  print: {url: "https://print.example"}
""")
    write("config", "local.yaml", """\
server:
  listen: 127.0.0.1:7443
  cert_file: certs-dev/server.pem
  key_file: certs-dev/server.key
  client_ca_file: certs-dev/ca.pem
store:
  sqlite_path: run/utpost.db
broker:
  port: 5673
tenants:
  - organisation_number: "964338531"
    name: Bergen kommune
    return_address: {name: Bergen kommune, address_lines: [Postboks 7700], postal_code: "5020", city: Bergen}
  - organisation_number: "958935420"
    name: Oslo kommune
    return_address: {name: Oslo kommune, address_lines: [Postboks 1], postal_code: "0037", city: Oslo}
operators: [operator]
receipts:
  key_file: certs-dev/receipts.key
  cert_chain_file: certs-dev/receipts.pem
  keys:
    - key_file: certs-dev/receipts-2.key
      cert_chain_file: certs-dev/receipts-2.pem
      not_before: "2027-01-01T00:00:00Z"
providers:
  ca_file: certs-dev/ca.pem
  registry_url: https://127.0.0.1:8443
  digipost: {url: "https://127.0.0.1:8443", sender_id: "100001", signing_key_file: certs-dev/sender.key}
  print: {url: "https://127.0.0.1:8443", cover_page: true}
  maskinporten:
    token_url: https://127.0.0.1:8443/token
    audience: https://maskinporten.sim/
    client_id: utpost-local
    key_file: certs-dev/sender.key
    cert_chain_file: certs-dev/sender.pem
  business_registry: {url: "https://127.0.0.1:8443"}
  altinn: {url: "https://127.0.0.1:8443", resource_id: utpost-correspondence}
  dpi:
    url: https://127.0.0.1:8443
    signing_key_file: certs-dev/sender.key
    certificate_file: certs-dev/sender.pem
    provider_certificate_file: certs-dev/dpi-provider.pem
    provider_ca_file: certs-dev/ca.pem
retry:
  delays_seconds: [2, 5, 10]
  max_attempts: 4
retention:
  documents_days: 90
  sweep_interval_seconds: 3600
observability:
  metrics_listen: 127.0.0.1:9464
  health_listen: 127.0.0.1:8081
  log_format: text
""")


# --- Digipost -----------------------------------------------------------------

def digipost_event(uuid, kind, document):
    """A feed event in the published shape (api_v8.xsd `event`): attributes,
    `uuid` naming the document; `uuid` here only tells the seeds apart."""
    del uuid
    return ('<event uuid="%s" type="%s" created="2026-11-23T12:00:00.500+01:00"'
            ' document-created="2026-11-23T11:59:00.000+01:00"/>'
            % (document, kind))


def digipost_entry_point():
    return ('<?xml version="1.0"?><entrypoint '
            'xmlns="http://api.digipost.no/schema/v8"><certificate>-----BEGIN '
            'CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----</certificate>'
            '<link rel="https://api.digipost.no/relations/create_message" '
            'uri="https://digipost.fuzz/messages" media-type='
            '"application/vnd.digipost-v8+xml"/><link rel="https://api.'
            'digipost.no/relations/document_events" uri="https://digipost.fuzz'
            '/document-events"/></entrypoint>')


def digipost_feed(events):
    return ('<?xml version="1.0"?><document-events '
            'xmlns="http://api.digipost.no/schema/v8">' + "".join(events) +
            "</document-events>")


def digipost_error(code, message, kind):
    return ('<?xml version="1.0"?><error '
            'xmlns="http://api.digipost.no/schema/v8"><error-code>%s'
            "</error-code><error-message>%s</error-message><error-type>%s"
            "</error-type></error>" % (code, message, kind))


def digipost():
    feed = digipost_feed([
        digipost_event("e1", "OPENED", MESSAGE_ID),
        digipost_event("e2", "POSTMARKED", MESSAGE_ID),
        digipost_event("e3", "PRINT_FAILED", "11111111-2222-4333-8444-555555555555"),
        digipost_event("e4", "SHREDDED", MESSAGE_ID),
        digipost_event("e5", "EMAIL_NOTIFICATION_FAILED", MESSAGE_ID),
        digipost_event("e6", "SMS_NOTIFICATION_FAILED", MESSAGE_ID)])
    delivered = ('<?xml version="1.0"?><message-delivery '
                 'xmlns="http://api.digipost.no/schema/v8"><message-id>%s'
                 "</message-id><delivery-method>DIGIPOST</delivery-method>"
                 "<status>DELIVERED</status><delivery-time>"
                 "2026-11-23T12:00:01.000+01:00</delivery-time>"
                 "</message-delivery>" % MESSAGE_ID)
    write("digipost", "events-then-delivered", script(feed, delivered))
    write("digipost", "empty-feed-then-duplicate", script(
        digipost_feed([]),
        (409, digipost_error("DUPLICATE_MESSAGE", "already sent", "CLIENT_DATA"))))
    write("digipost", "feed-unavailable-then-refused", script(
        (503, digipost_error("SERVICE_UNAVAILABLE", "try later", "SERVER")),
        (400, digipost_error("INVALID_PERSONAL_IDENTIFICATION_NUMBER",
                             "30925910089 is not valid", "CLIENT_DATA"))))
    write("digipost", "events-only", feed)
    write("digipost", "entry-point-then-feed",
          script(digipost_entry_point(), feed))


# --- DPI ---------------------------------------------------------------------

def sbd(kind, instance, body):
    """A receipt in the published shape (tests/published/dpi/receipts/)."""
    org = lambda n: {"authority": "iso6523-actorid-upis", "value": "0192:" + n}
    full = {"avsender": {"virksomhetsidentifikator": org("964338531")},
            "mottaker": {"virksomhetsidentifikator": org("922020175")},
            "tidspunkt": "2026-11-23T12:00:01Z"}
    full.update(body)
    return {"standardBusinessDocument": {
        "standardBusinessDocumentHeader": {
            "headerVersion": "1.0",
            "sender": [{"identifier": org("922020175")}],
            "receiver": [{"identifier": org("964338531")}],
            "documentIdentification": {
                "standard": "urn:fdc:digdir.no:2020:innbyggerpost:xsd:digital::"
                            + kind + "##urn:fdc:digdir.no:2020:innbyggerpost:"
                            "schema:" + kind + "::1.0",
                "typeVersion": "1.0", "instanceIdentifier": instance,
                "type": kind,
                "creationDateAndTime": "2026-11-23T12:00:00.123+01:00"},
            "businessScope": {"scope": [{
                "type": "ConversationId", "instanceIdentifier": MESSAGE_ID,
                "identifier": "urn:fdc:digdir.no:2020:profile:egovernment:"
                              "innbyggerpost:digital:ver1.0"}]}},
        kind: full}}


def dpi():
    # Objects under "forretningsmelding" are signed by the target as the
    # provider (dpi_fuzzer.cc); the receipt's id is its SBDH
    # instanceIdentifier (the listing's entries carry none).
    kinds = [("leveringskvittering", {}),
             ("aapningskvittering", {"tidspunkt": "2026-11-23T13:00:00Z"}),
             ("varslingfeiletkvittering", {"varslingskanal": "sms",
                                           "beskrivelse": "no number"}),
             ("mottakskvittering", {}),
             ("returpostkvittering", {}),
             ("feil", {"feiltype": "KLIENT", "detaljer": "bad package"})]
    queue = [{"forretningsmelding":
              sbd(k, "3f2b8c1e-5d4a-4e6f-9a7b-1c2d3e4f5a%02d" % i, b)}
             for i, (k, b) in enumerate(kinds)]
    write("dpi", "receipts-then-accepted", script(
        json.dumps(queue), "", "", "", "", "", "",
        (202, json.dumps({"status": "MOTTATT"}))))
    write("dpi", "empty-queue-then-refused", script(
        (204, ""), (400, json.dumps({"kode": "UKJENT_MOTTAKER",
                                     "feiltype": "KLIENT",
                                     "detail": "unknown recipient 30925910089"}))))
    write("dpi", "unsigned-receipt", script(json.dumps(
        [{"forretningsmelding": "eyJhbGciOiJSUzI1NiJ9.e30.AAAA"}])))
    write("dpi", "queue-error-then-signature-error", script(
        (500, json.dumps({"feiltype": "SERVER", "detail": "down"})),
        (400, json.dumps({"kode": "UGYLDIG_SIGNATUR", "feiltype": "KLIENT"}))))


# --- Altinn -------------------------------------------------------------------

def altinn():
    def event(eid, kind, corr):
        return {"specversion": "1.0", "id": eid,
                "type": "no.altinn.correspondence." + kind,
                "time": "2027-01-15T08:00:01Z", "resourceinstance": corr,
                "source": "https://platform.altinn.no/correspondence/api/v1/"
                          "correspondence/" + corr}
    feed = [event("e1", "correspondencepublished", "c-1"),
            event("e2", "correspondenceinitialized", "c-1"),
            event("e3", "correspondencereceiverread", "c-1"),
            event("e4", "correspondencepublishfailed", "c-2"),
            event("e5", "notificationfailed", "c-1"),
            event("e6", "correspondencereceiverconfirmed", "c-1")]
    c1 = {"correspondenceId": "c-1", "idempotentKey": MESSAGE_ID,
          "sendersReference": MESSAGE_ID, "status": "Read"}
    c2 = {"correspondenceId": "c-2", "sendersReference": "other-id",
          "status": "Failed", "statusText": "recipient reserved"}
    uploaded = {"correspondences": [{"correspondenceId": "c-9",
                                     "status": "Published"}],
                "attachmentIds": ["a-1"]}
    write("altinn", "events-then-uploaded", script(
        json.dumps(feed), json.dumps(c1), json.dumps(c2),
        json.dumps(uploaded)))
    write("altinn", "empty-feed-then-conflict", script(
        "[]", (409, json.dumps({"title": "Conflict",
                                "correspondenceId": "c-1"}))))
    write("altinn", "feed-error-then-no-inbox", script(
        (503, ""), (422, json.dumps({
            "type": "https://tools.ietf.org/html/rfc4918#section-11.2",
            "title": "Recipient has no inbox", "status": 422,
            "detail": "urn:altinn:organization:identifier-no:910000004"}))))


# --- Registries -----------------------------------------------------------------

def registry():
    krr = {"personer": [
        {"personidentifikator": "30925910089", "reservasjon": "NEI",
         "status": "AKTIV", "kontaktinformasjon": {"epostadresse": "a@b.no",
                                                   "mobiltelefonnummer": "+4799999999"},
         "digital_post": {"postkasseadresse": "kari#1",
                          "postkasseleverandoeradresse": "984661185"}},
        {"personidentifikator": "04847910181", "reservasjon": "NEI",
         "status": "AKTIV",
         "digital_post": {"postkasseadresse": "per.eboksen#9C0D",
                          "postkasseleverandoeradresse": "922020175"},
         "sertifikat": base64.b64encode(
             pem_to_der("certs-dev/eboks-mailbox.pem")).decode()}]}
    enhet = {"organisasjonsnummer": "910000004", "navn": "Testbedrift AS",
             "postadresse": {"adresse": ["Postboks 100 Sentrum"],
                             "postnummer": "0101", "poststed": "OSLO",
                             "landkode": "NO"},
             "forretningsadresse": {"adresse": ["Storgata 1"],
                                    "postnummer": "0155", "poststed": "OSLO",
                                    "landkode": "NO"}}
    write("registry", "persons-then-active-with-inbox", script(
        json.dumps(krr), json.dumps(enhet),
        json.dumps({"orgNumber": "910000004"})))
    reserved = {"personer": [
        {"personidentifikator": "30925910089", "reservasjon": "JA",
         "status": "AKTIV"},
        {"personidentifikator": "04847910181", "status": "SLETTET"}]}
    write("registry", "reserved-then-deleted", script(
        json.dumps(reserved),
        (410, json.dumps({"organisasjonsnummer": "910000004",
                          "slettedato": "2024-05-31"}))))
    business_only = dict(enhet)
    del business_only["postadresse"]
    write("registry", "errors-then-no-inbox", script(
        (400, json.dumps({"feilmelding": "ugyldig 30925910089"})),
        json.dumps(business_only), (404, json.dumps({"status": 404}))))


# --- Audit export -----------------------------------------------------------------

def pem_to_der(relative):
    text = open(os.path.join(ROOT, relative)).read()
    body = text.split("-----BEGIN CERTIFICATE-----")[1].split("-----END")[0]
    return base64.b64decode("".join(body.split()))


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def der_to_raw(sig):
    """ECDSA DER (SEQUENCE of two INTEGERs) to JWS r||s, 32 bytes each."""
    assert sig[0] == 0x30
    i = 2 if sig[1] < 0x80 else 3
    out = b""
    for _ in range(2):
        assert sig[i] == 0x02
        n = sig[i + 1]
        out += sig[i + 2:i + 2 + n].lstrip(b"\0").rjust(32, b"\0")
        i += 2 + n
    return out


def es256_jws(header, payload):
    signing_input = (b64url(json.dumps(header, separators=(",", ":")).encode())
                     + "." +
                     b64url(json.dumps(payload, separators=(",", ":")).encode()))
    with tempfile.NamedTemporaryFile() as f:
        f.write(signing_input.encode())
        f.flush()
        sig = subprocess.run(
            ["openssl", "dgst", "-sha256", "-sign",
             os.path.join(ROOT, "certs-dev", "receipts.key"), f.name],
            stdout=subprocess.PIPE, check=True).stdout
    return signing_input + "." + b64url(der_to_raw(sig))


def leaf_hash(data):
    return hashlib.sha256(b"\0" + data).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\1" + left + right).digest()


def split(n):
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def root(leaves):
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaf_hash(leaves[0])
    k = split(len(leaves))
    return node_hash(root(leaves[:k]), root(leaves[k:]))


def inclusion(m, leaves):
    """RFC 9162 2.1.3.1 PATH(m, D[n]), leaf side first."""
    if len(leaves) == 1:
        return []
    k = split(len(leaves))
    if m < k:
        return inclusion(m, leaves[:k]) + [root(leaves[k:])]
    return inclusion(m - k, leaves[k:]) + [root(leaves[:k])]


def consistency(m, leaves, complete=True):
    """RFC 9162 2.1.4.1 SUBPROOF(m, D[n], b)."""
    n = len(leaves)
    if m == n:
        return [] if complete else [root(leaves)]
    k = split(n)
    if m <= k:
        return consistency(m, leaves[:k], complete) + [root(leaves[k:])]
    return consistency(m - k, leaves[k:], False) + [root(leaves[:k])]


def audit_export():
    chain = [base64.b64encode(pem_to_der("certs-dev/receipts.pem")).decode()]
    receipt_header = {"alg": "ES256", "typ": "utpost-receipt+jws", "x5c": chain}
    head_header = {"alg": "ES256", "typ": "utpost-tree-head+jws", "x5c": chain}
    letters = ["0b6f1c2e-4d5a-4f6b-8c7d-9e0f1a2b3c4d",
               "1c7a2d3f-5e6b-4a7c-9d8e-0f1a2b3c4d5e"]
    states = ["RECEIVED", "QUEUED", "ROUTED", "SENT_DIGITAL", "DELIVERED"]
    leaves, lines_of = [], []
    prev = {}
    for seq, state in enumerate(states, start=1):
        for letter in letters:
            payload = {
                "letter_id": letter, "tenant": "964338531", "seq": seq,
                "state": state, "channel": "digital" if seq > 2 else "",
                "time": "2026-12-01T12:00:%02d.000Z" % len(leaves),
                "reason": "", "prev": prev.get(letter, ""),
                "evidence": "SubmissionAcceptance", "provider": "",
                "documents": [{"file_name": "vedtak.pdf",
                               "sha256": hashlib.sha256(PDF).hexdigest(),
                               "size": len(PDF)}],
                "provider_receipt": ""}
            jws = es256_jws(receipt_header, payload)
            prev[letter] = hashlib.sha256(jws.encode()).hexdigest()
            leaves.append(jws.encode())
            lines_of.append((letter, seq, jws))

    def head(size, second):
        payload = {"log": "utpost-receipts", "tree_size": size,
                   "root_hash": root(leaves[:size]).hex(),
                   "time": "2026-12-01T12:01:%02d.000Z" % second}
        return {"type": "tree_head", "tree_size": size,
                "root_hash": payload["root_hash"], "time": payload["time"],
                "jws": es256_jws(head_header, payload)}

    first, last = 6, len(leaves)
    out = [{"type": "export", "format": "utpost-receipt-log-export/1",
            "tenant": "964338531", "start_time": "", "end_time": ""},
           head(first, 0),
           {"type": "consistency", "first": first, "second": last,
            "proof": [h.hex() for h in consistency(first, leaves[:last])]},
           head(last, 1)]
    for i, (letter, seq, jws) in enumerate(lines_of):
        out.append({"type": "receipt", "leaf_index": i, "letter_id": letter,
                    "seq": seq, "tree_size": last,
                    "inclusion_proof": [h.hex() for h in inclusion(i, leaves)],
                    "jws": jws})
    text = "".join(json.dumps(o, separators=(",", ":")) + "\n" for o in out)
    write("audit_export", "two-letters-two-heads.jsonl", text)
    # One letter, one head: a short seed the fuzzer mutates faster.
    small = [out[0], head(last, 2)] + out[4:6]
    write("audit_export", "one-head.jsonl",
          "".join(json.dumps(o, separators=(",", ":")) + "\n" for o in small))


def varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def upload_stream(content, sha256=None, size=None, chunk=1500):
    """An UploadDocument stream as the upload target reads it: each
    utpost.v1.UploadDocumentRequest prefixed by its length (a varint)."""
    header = (b"\x0a" + varint(15) + b"application/pdf"
              + b"\x10" + varint(len(content) if size is None else size)
              + b"\x1a" + varint(64)
              + (sha256 or hashlib.sha256(content).hexdigest()).encode())
    messages = [b"\x0a" + varint(len(header)) + header]
    for at in range(0, len(content), chunk):
        part = content[at:at + chunk]
        messages.append(b"\x12" + varint(len(part)) + part)
    return b"".join(varint(len(m)) + m for m in messages)


def upload():
    doc = minimal_pdf(1)
    write("upload", "whole.bin", upload_stream(doc, chunk=100))
    write("upload", "wrong-digest.bin",
          upload_stream(doc, sha256=hashlib.sha256(b"x").hexdigest()))
    write("upload", "short.bin", upload_stream(doc, size=len(doc) + 7))


def main():
    if os.path.isdir(CORPUS):
        shutil.rmtree(CORPUS)
    for make in (submit_letter, inspect, config, digipost, dpi, altinn,
                 registry, audit_export, upload):
        make()
    return 0


if __name__ == "__main__":
    sys.exit(main())
