#!/usr/bin/env python3
"""Judges the Altinn channel's upload request by the published binding.

The request (written by altinn_upload_capture) is parsed as
multipart/form-data by Python's own MIME parser (the `email` package), not by
anything in Utpost, and checked against tests/published/altinn/
upload-form-fields.json, transcribed from Altinn/altinn-correspondence's
binding models: every field a bound name (the binder ignores others), the
required ones present, lengths, enums and patterns kept, list indexes from 0
without gaps, and as many `attachments` files as attachment metadata entries,
each named by one (error 1005).

  altinn_form_check.py CAPTURE_BINARY FIXTURE   check the adapter's request
  altinn_form_check.py --self-test FIXTURE      the check refuses known-bad
                                                requests (the old JSON part)
"""
import datetime
import email.parser
import email.policy
import json
import os
import re
import subprocess
import sys
import tempfile

INDEX = re.compile(r"\[(\d+)\]")


def parse(raw):
    """(headers, [(name, value)], [(name, filename, bytes)]) of a capture."""
    head, _, body = raw.partition(b"\r\n\r\n")
    headers = {}
    for line in head.decode("ascii").split("\r\n"):
        name, _, value = line.partition(": ")
        headers[name.lower()] = value
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"MIME-Version: 1.0\r\nContent-Type: " +
        headers.get("content-type", "").encode("ascii") + b"\r\n\r\n" + body)
    if not message.is_multipart():
        raise ValueError("not a multipart body")
    if message.defects:
        raise ValueError(f"MIME defects: {message.defects}")
    fields, files = [], []
    for part in message.iter_parts():
        if part.get_content_disposition() != "form-data":
            raise ValueError("a part is not form-data")
        name = part.get_param("name", header="content-disposition")
        filename = part.get_filename()
        payload = part.get_payload(decode=True) or b""
        if filename is None:
            fields.append(
                (name, payload.decode(part.get_content_charset() or "utf-8")))
        else:
            files.append((name, filename, payload))
    return headers, fields, files


def utf16_length(text):
    return len(text.encode("utf-16-le")) // 2


def check(headers, fields, files, fixture):
    """The list of rules the request breaks (empty: conforms)."""
    spec = {f["name"].lower(): f for f in fixture["fields"]}
    errors = []
    if not headers.get("content-type", "").startswith("multipart/form-data"):
        errors.append("Content-Type is not multipart/form-data")
    if headers.get("x-method", "POST") != "POST":
        errors.append("method is not POST")
    if not headers.get("x-url", "/correspondence/api/v1/correspondence/upload"
                       ).endswith("/correspondence/api/v1/correspondence/upload"):
        errors.append("not the upload endpoint")
    seen = {}
    indexes = {}  # list prefix -> set of indexes
    for name, value in fields:
        key = name.lower()
        if key in seen:
            errors.append(f"{name}: sent twice")
        seen[key] = value
        generic = INDEX.sub("[i]", key)
        for m in INDEX.finditer(key):
            indexes.setdefault(key[:m.start()], set()).add(int(m.group(1)))
        rule = spec.get(generic)
        if rule is None:
            errors.append(f"{name}: not a bound name (ignored by the binder)")
            continue
        length = utf16_length(value)
        if "maxLength" in rule and length > rule["maxLength"]:
            errors.append(f"{name}: {length} characters, at most "
                          f"{rule['maxLength']}")
        if "minLength" in rule and length < rule["minLength"]:
            errors.append(f"{name}: shorter than {rule['minLength']}")
        if "enum" in rule and value not in rule["enum"]:
            errors.append(f"{name}: {value!r} not one of {rule['enum']}")
        if "pattern" in rule and not re.match(rule["pattern"], value):
            errors.append(f"{name}: {value!r} does not match "
                          f"{rule['pattern']}")
        if rule.get("notValue") == value:
            errors.append(f"{name}: {value!r} is not allowed")
        if rule.get("type") == "boolean" and value.lower() not in (
                "true", "false"):
            errors.append(f"{name}: {value!r} is not a boolean")
        if rule.get("type") == "date-time":
            try:
                datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                errors.append(f"{name}: {value!r} is not a date-time")
    for prefix, found in indexes.items():
        if sorted(found) != list(range(len(found))):
            errors.append(f"{prefix}[...]: indexes {sorted(found)} are not "
                          "0, 1, ... without gaps")
    # Required fields: plain ones always, indexed ones per index, the
    # notification's template when any notification field is sent.
    for key, rule in spec.items():
        if not rule.get("required"):
            continue
        if "requiredWith" in rule:
            if any(k.startswith(rule["requiredWith"].lower()) for k in seen) \
                    and not seen.get(key):
                errors.append(f"{rule['name']}: required with a notification")
            continue
        if "[i]" not in key:
            if not seen.get(key):
                errors.append(f"{rule['name']}: required")
            continue
        prefix = key[:key.index("[i]")]
        found = indexes.get(prefix, set())
        if key.endswith("[i]"):
            if not found:
                errors.append(f"{rule['name']}: at least one required")
            elif len(found) > rule.get("maxItems", len(found)):
                errors.append(f"{rule['name']}: more than {rule['maxItems']}")
            continue
        for i in sorted(found):
            concrete = key.replace("[i]", f"[{i}]", 1)
            if not seen.get(concrete):
                errors.append(f"{concrete}: required")
    # Files (1005).
    rule = fixture["files"]
    metadata = sorted(indexes.get("correspondence.content.attachments", set()))
    names = [seen.get(f"correspondence.content.attachments[{i}].filename", "")
             for i in metadata]
    for name, filename, payload in files:
        if name.lower() != rule["name"]:
            errors.append(f"file part {name!r}: files bind as "
                          f"{rule['name']!r} only")
        if filename not in names:
            errors.append(f"file {filename!r}: no attachment metadata names it")
        if not payload:
            errors.append(f"file {filename!r}: empty")
    if len(files) != len(metadata):
        errors.append(f"{len(files)} files for {len(metadata)} attachment "
                      "metadata entries (1005)")
    return errors


def self_test(fixture):
    """The check must refuse what the real binder would not take."""
    boundary = "b0undary"

    def body(parts):
        out = b""
        for name, filename, value in parts:
            disposition = f'form-data; name="{name}"'
            if filename is not None:
                disposition += f'; filename="{filename}"'
            out += (f"--{boundary}\r\nContent-Disposition: {disposition}\r\n"
                    f"\r\n").encode() + value.encode() + b"\r\n"
        return (f"Content-Type: multipart/form-data; boundary={boundary}"
                "\r\n\r\n").encode() + out + f"--{boundary}--\r\n".encode()

    good = [
        ("correspondence.resourceId", None, "res"),
        ("correspondence.sender", None,
         "urn:altinn:organization:identifier-no:964338531"),
        ("correspondence.sendersReference", None, "ref"),
        ("correspondence.content.language", None, "nb"),
        ("correspondence.content.messageTitle", None, "Tittel"),
        ("correspondence.content.messageSummary", None, "Tittel"),
        ("correspondence.content.messageBody", None, "Tekst"),
        ("correspondence.content.attachments[0].fileName", None, "a.pdf"),
        ("correspondence.content.attachments[0].sendersReference", None, "r1"),
        ("recipients[0]", None,
         "urn:altinn:organization:identifier-no:910000004"),
        ("idempotentKey", None, "5f0c8a9e-1b2c-4d3e-8f40-123456789abc"),
        ("attachments", "a.pdf", "%PDF"),
    ]
    old_json_part = [
        ("correspondence", None, json.dumps({
            "resourceId": "res", "recipients": ["x"],
            "idempotentKey": "5f0c8a9e-1b2c-4d3e-8f40-123456789abc"})),
        ("attachments", "a.pdf", "%PDF"),
    ]
    cases = [
        ("the published binding's own example", good, []),
        ("one JSON part (Utpost before issue 10)", old_json_part,
         ["correspondence: not a bound name", "correspondence.resourceId: "
          "required", "recipients[i]: at least one required",
          "1 files for 0 attachment metadata entries"]),
        ("a file without metadata", good + [("attachments", "b.pdf", "x")],
         ["no attachment metadata names it", "2 files for 1"]),
        ("recipient without URN", [p if p[0] != "recipients[0]" else
                                   (p[0], None, "910000004") for p in good],
         ["recipients[0]: '910000004' does not match"]),
        ("title too long", [p if p[0] != "correspondence.content.messageTitle"
                            else (p[0], None, "æ" * 256) for p in good],
         ["messageTitle: 256 characters, at most 255"]),
        ("recipients inside correspondence",
         good + [("correspondence.recipients[0]", None, "x")],
         ["correspondence.recipients[0]: not a bound name"]),
        ("a gap in the attachment indexes",
         [(p[0].replace("attachments[0]", "attachments[2]"), p[1], p[2])
          for p in good],
         ["not 0, 1, ... without gaps"]),
    ]
    failures = 0
    for title, parts, expected in cases:
        errors = check(*parse(body(parts)), fixture)
        text = "\n".join(errors)
        ok = (not errors) if not expected else all(e in text for e in expected)
        print(f"{'ok  ' if ok else 'FAIL'} {title}: {errors}")
        failures += not ok
    return failures


def main(argv):
    if len(argv) != 3:
        print(__doc__)
        return 2
    with open(argv[2], encoding="utf-8") as f:
        fixture = json.load(f)
    if argv[1] == "--self-test":
        return 1 if self_test(fixture) else 0
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "upload.http")
        subprocess.run([argv[1], out], check=True)
        with open(out, "rb") as f:
            headers, fields, files = parse(f.read())
    errors = check(headers, fields, files, fixture)
    for name, value in fields:
        print(f"  field {name} ({utf16_length(value)} characters)")
    for name, filename, payload in files:
        print(f"  file  {name} {filename!r} ({len(payload)} bytes)")
    for e in errors:
        print(f"BREAKS: {e}")
    print(f"{len(fields)} fields, {len(files)} files, "
          f"{len(errors)} rules broken")
    return 1 if errors or not fields else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
