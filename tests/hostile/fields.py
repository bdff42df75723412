"""Hostile SubmitLetter requests that need no hostile PDF: every text field
with each kind of character a single line must not hold, invalid UTF-8 in
each string field, lengths past every bound, and out-of-range durations,
timestamps and enums. Each case carries the answer the API documents.

The requests are made as the bytes a client sends, so that a string that is
not UTF-8 (which Python's protobuf refuses to hold) can be sent too.

    cases(letter_pb2, person, pdf) -> [Case]

`letter_pb2` is the generated module of proto/utpost/v1/letter.proto,
`person` a valid person number with a mailbox, `pdf` a small printable
PDF."""

import collections
import time

Case = collections.namedtuple("Case", "name request code field words")

# Characters a single line of text must not hold (letter.proto,
# SubmitLetter), with the code point the answer names.
FORBIDDEN = [
    ("nul", "\x00", "U+0000"),
    ("tab", "\t", "U+0009"),
    ("crlf", "\r\n", "U+000D"),
    ("lf", "\n", "U+000A"),
    ("esc", "\x1b[2J", "U+001B"),
    ("del", "\x7f", "U+007F"),
    ("c1-nel", "\x85", "U+0085"),
    ("rlo", "\u202e", "U+202E"),
    ("lri", "\u2066", "U+2066"),
    ("alm", "\u061c", "U+061C"),
    ("line-separator", "\u2028", "U+2028"),
    ("bom", "\ufeff", "U+FEFF"),
]

# Invalid UTF-8, each 4 bytes long so it can replace a 4-byte marker.
BAD_UTF8 = [
    ("bad-continuation", b"\xc3\x28ab"),
    ("overlong", b"\xc0\xafab"),
    ("surrogate", b"\xed\xa0\x80a"),
    ("above-u10ffff", b"\xf4\x90\x80\x80"),
]
MARKER = "\u2603\u2603"  # Two snowmen: 6 bytes, found nowhere else.
MARKER_BYTES = MARKER.encode()


def _base(letter_pb2, person, pdf, ref):
    req = letter_pb2.SubmitLetterRequest()
    req.client_reference = ref
    req.recipient.person = person
    addr = req.recipient.postal_address
    addr.name = "Kari Nordmann"
    addr.address_lines.append("Storgata 1")
    addr.postal_code = "5003"
    addr.city = "Bergen"
    req.title = "Vedtak"
    doc = req.documents.add()
    doc.file_name = "vedtak.pdf"
    doc.media_type = "application/pdf"
    doc.content = pdf
    return req


# Where each text field is, for setting it and for the path the answer
# names.
TEXT_FIELDS = {
    "title": lambda r, v: setattr(r, "title", v),
    "client_reference": lambda r, v: setattr(r, "client_reference", v),
    "documents[0].file_name":
        lambda r, v: setattr(r.documents[0], "file_name", v),
    "recipient.postal_address.name":
        lambda r, v: setattr(r.recipient.postal_address, "name", v),
    "recipient.postal_address.address_lines[0]":
        lambda r, v: r.recipient.postal_address.address_lines.__setitem__(
            0, v),
    "recipient.postal_address.city":
        lambda r, v: setattr(r.recipient.postal_address, "city", v),
}


def cases(letter_pb2, person, pdf):
    out = []
    n = [0]

    def add(name, mutate, code, field, *words, raw=None):
        n[0] += 1
        req = _base(letter_pb2, person, pdf, f"hostile-{n[0]}-{name}")
        mutate(req)
        data = req.SerializeToString()
        if raw is not None:
            assert data.count(MARKER_BYTES) == 1, name
            # Same length, so every length prefix stays right.
            data = data.replace(MARKER_BYTES, raw + b"\x20" * (
                len(MARKER_BYTES) - len(raw)))
        out.append(Case(name, data, code, field, words))

    # Control and bidirectional characters in every text field.
    for field, setter in TEXT_FIELDS.items():
        for kind, chars, codepoint in FORBIDDEN:
            value = "ab" + chars + "cd"
            if field.endswith("file_name"):
                value += ".pdf"
            add(f"{field}-{kind}", lambda r, s=setter, v=value: s(r, v),
                "INVALID_ARGUMENT", field, f"character 3 is {codepoint}")
    # Invalid UTF-8 in every string field, as raw bytes.
    utf8_fields = dict(TEXT_FIELDS)
    utf8_fields["recipient.person"] = (
        lambda r, v: setattr(r.recipient, "person", v))
    for field, setter in utf8_fields.items():
        for kind, raw in BAD_UTF8[:2] if field != "title" else BAD_UTF8:
            add(f"{field}-utf8-{kind}", lambda r, s=setter: s(r, MARKER),
                "INVALID_ARGUMENT", field, "not valid UTF-8", raw=raw)

    # Lengths.
    def doc0(r):
        return r.documents[0]
    add("file-name-1MB", lambda r: setattr(doc0(r), "file_name",
                                           "f" * (1 << 20)),
        "INVALID_ARGUMENT", "documents[0].file_name", "at most 255 bytes")
    add("file-name-256-bytes", lambda r: setattr(doc0(r), "file_name",
                                                 "f" * 252 + ".pdf"),
        "INVALID_ARGUMENT", "documents[0].file_name", "got 256")
    add("file-name-128-two-byte-chars",
        lambda r: setattr(doc0(r), "file_name", "\u00f8" * 128 + ".pdf"),
        "INVALID_ARGUMENT", "documents[0].file_name", "got 260")
    add("file-name-path", lambda r: setattr(doc0(r), "file_name",
                                            "../../etc/passwd"),
        "INVALID_ARGUMENT", "documents[0].file_name", "path separators")
    add("file-name-dotdot", lambda r: setattr(doc0(r), "file_name", ".."),
        "INVALID_ARGUMENT", "documents[0].file_name")
    add("postal-name-1MB",
        lambda r: setattr(r.recipient.postal_address, "name",
                          "n" * (1 << 20)),
        "INVALID_ARGUMENT", "recipient.postal_address.name",
        "at most 100 characters")
    add("city-100KB",
        lambda r: setattr(r.recipient.postal_address, "city",
                          "c" * (100 << 10)),
        "INVALID_ARGUMENT", "recipient.postal_address.city",
        "at most 50 characters")
    add("title-201-chars", lambda r: setattr(r, "title", "\u00e6" * 201),
        "INVALID_ARGUMENT", "title", "at most 200 characters, got 201")
    add("client-reference-101-chars",
        lambda r: setattr(r, "client_reference", "r" * 101),
        "INVALID_ARGUMENT", "client_reference",
        "at most 100 characters, got 101")
    add("address-line-101-chars",
        lambda r: r.recipient.postal_address.address_lines.__setitem__(
            0, "a" * 101),
        "INVALID_ARGUMENT", "recipient.postal_address.address_lines[0]",
        "at most 100 characters")
    add("five-address-lines",
        lambda r: r.recipient.postal_address.address_lines.extend(
            ["x"] * 4),
        "INVALID_ARGUMENT", "recipient.postal_address.address_lines",
        "at most 4 lines")
    add("person-full-width-digits",
        lambda r: setattr(r.recipient, "person", "\uff11" * 11),
        "INVALID_ARGUMENT", "recipient.person", "position 1 is not a digit")
    add("person-12-digits",
        lambda r: setattr(r.recipient, "person", person + "1"),
        "INVALID_ARGUMENT", "recipient.person", "got 12 characters")
    add("country-uk",
        lambda r: setattr(r.recipient.postal_address, "country_code", "UK"),
        "INVALID_ARGUMENT", "recipient.postal_address.country_code",
        "ISO 3166-1")
    add("country-lower-case",
        lambda r: setattr(r.recipient.postal_address, "country_code", "se"),
        "INVALID_ARGUMENT", "recipient.postal_address.country_code")
    add("foreign-postal-code-markup", lambda r: (
        setattr(r.recipient.postal_address, "country_code", "SE"),
        setattr(r.recipient.postal_address, "postal_code", "<b>114</b>")),
        "INVALID_ARGUMENT", "recipient.postal_address.postal_code")
    add("norwegian-postal-code-letters",
        lambda r: setattr(r.recipient.postal_address, "postal_code", "50O3"),
        "INVALID_ARGUMENT", "recipient.postal_address.postal_code",
        "4 digits")

    # Durations, timestamps and enums.
    add("unread-after-2e9-nanos",
        lambda r: setattr(r.delivery_policy.print_if_unread_after, "nanos",
                          2000000000),
        "INVALID_ARGUMENT", "delivery_policy.print_if_unread_after", "nanos")
    add("unread-after-negative",
        lambda r: setattr(r.delivery_policy.print_if_unread_after,
                          "seconds", -5),
        "INVALID_ARGUMENT", "delivery_policy.print_if_unread_after",
        "negative")
    add("unread-after-10-years",
        lambda r: setattr(r.delivery_policy.print_if_unread_after,
                          "seconds", 10 * 365 * 86400),
        "INVALID_ARGUMENT", "delivery_policy.print_if_unread_after",
        "365 days")
    add("not-before-nanos-1e9",
        lambda r: (setattr(r.not_before, "seconds", int(time.time())),
                   setattr(r.not_before, "nanos", 1000000000)),
        "INVALID_ARGUMENT", "not_before", "not a valid time")
    add("not-before-in-two-years",
        lambda r: setattr(r.not_before, "seconds",
                          int(time.time()) + 2 * 366 * 86400),
        "INVALID_ARGUMENT", "not_before", "366 days")
    add("mode-99", lambda r: setattr(r.delivery_policy, "mode", 99),
        "INVALID_ARGUMENT", "delivery_policy.mode", "unknown value 99")
    add("color-42", lambda r: setattr(r.print_options, "color", 42),
        "INVALID_ARGUMENT", "print_options.color", "unknown value 42")
    add("post-type-minus-1",
        lambda r: setattr(r.print_options, "post_type", -1),
        "INVALID_ARGUMENT", "print_options.post_type")

    # Documents' metadata.
    add("no-documents", lambda r: r.ClearField("documents"),
        "INVALID_ARGUMENT", "documents", "at least one")
    add("duplicate-file-names", lambda r: r.documents.add(
        file_name="vedtak.pdf", content=pdf),
        "INVALID_ARGUMENT", "documents[1].file_name", "documents[0] too")
    add("media-type-html",
        lambda r: setattr(doc0(r), "media_type", "text/html"),
        "INVALID_ARGUMENT", "documents[0].media_type", "application/pdf")
    add("empty-document", lambda r: setattr(doc0(r), "content", b""),
        "INVALID_ARGUMENT", "documents[0].content", "empty")
    add("document-over-10MiB",
        lambda r: setattr(doc0(r), "content",
                          pdf + b" " * ((10 << 20) + 1 - len(pdf))),
        "INVALID_ARGUMENT", "documents[0].content", "the limit is 10485760")
    add("eleven-documents", lambda r: [
        r.documents.add(file_name=f"v{i}.pdf", content=pdf)
        for i in range(10)],
        "INVALID_ARGUMENT", "documents", "at most 10 documents")
    return out
