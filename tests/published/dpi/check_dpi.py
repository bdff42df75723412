#!/usr/bin/env python3
"""Checks what Utpost's DPI channels send against the published artefacts,
not against the simulator (which shares Utpost's reading).

Usage: check_dpi.py <dpi_conformance_dump>   (run from the repository root)

1. The official complete examples validate against the schema fixtures here
   (proves the fixtures), with python3-jsonschema (Draft 7).
2. Every business message the dump tool captured (the JWS payload) validates
   against innbyggerpost_dpi_digital_1_0 / _utskrift_1_0: 0 errors.
3. Every package: decrypted with `openssl cms` (mailbox key), its
   META-INF/signatures.xml verified by `xmlsec1 --verify` with the dev CA as
   the only trust, and manifest.xml valid against sdp-manifest.xsd (xmllint).
Exit status 0 only when all of it holds.
"""
import base64
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import warnings
import zipfile

import jsonschema

HERE = os.path.dirname(os.path.abspath(__file__))
failures = []


def load(name):
    with open(os.path.join(HERE, name), encoding="utf-8") as f:
        return json.load(f)


def validator(schema_file):
    store = {}
    for name in ("sbdh.schema.json", "dpi-commons.schema.json",
                 "innbyggerpost_dpi_digital_1_0.schema.json",
                 "innbyggerpost_dpi_utskrift_1_0.schema.json"):
        s = load(name)
        store[s["$id"]] = s
    schema = load(schema_file)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        resolver = jsonschema.RefResolver.from_schema(schema, store=store)
        return jsonschema.Draft7Validator(schema, resolver=resolver)


def check(what, schema_file, document):
    errors = list(validator(schema_file).iter_errors(document))
    for e in errors:
        failures.append("%s: %s at %s" % (what, e.message,
                                          "/".join(map(str, e.path))))
    print("%-40s %s: %d schema errors" % (what, schema_file, len(errors)))
    return len(errors)


def run(cmd, what, cwd=None):
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd)
    if p.returncode != 0:
        failures.append("%s: %s: %s" % (what, " ".join(cmd),
                                        (p.stderr or p.stdout)[-2000:]))
    return p.returncode == 0


def payload(jws):
    part = jws.strip().split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def main():
    tool = sys.argv[1]
    # 1. The fixtures hold the official examples.
    check("official digital example", "innbyggerpost_dpi_digital_1_0.schema.json",
          load("example-digital-forretningsmelding.json")["example"])
    check("official utskrift example", "innbyggerpost_dpi_utskrift_1_0.schema.json",
          load("example-utskrift-forretningsmelding.json")["example"])
    # And they refuse what Utpost sent before (the old SDP shape).
    old = load("example-digital-forretningsmelding.json")["example"]
    old["standardBusinessDocument"]["digital"]["spraak"] = "NO"
    old["standardBusinessDocument"]["digital"]["tittel"] = "Vedtak"
    n = len(list(validator("innbyggerpost_dpi_digital_1_0.schema.json")
                 .iter_errors(old)))
    if n == 0:
        failures.append("the digital fixture accepts an unknown member tittel")

    out = tempfile.mkdtemp(prefix="dpi-conformance-")
    try:
        if not run([tool, out], "dump"):
            return
        cases = sorted(glob.glob(os.path.join(out, "*.jwt")))
        if len(cases) < 5:
            failures.append("dump wrote %d cases, expected 5" % len(cases))
        for jwt in cases:
            name = os.path.basename(jwt)[:-4]
            with open(jwt) as f:
                message = payload(f.read())
            body = message.get("standardBusinessDocument", {})
            print_case = "utskrift" in body
            check(name, "innbyggerpost_dpi_%s_1_0.schema.json" %
                  ("utskrift" if print_case else "digital"), message)
            receiver = body["standardBusinessDocumentHeader"]["receiver"][0][
                "identifier"]["value"]
            if not receiver.startswith("0192:") or len(receiver) != 14:
                failures.append("%s: SBDH receiver %s is not an organisation"
                                % (name, receiver))
            if "30925910089" in json.dumps(
                    body["standardBusinessDocumentHeader"]):
                failures.append("%s: a person number in the SBDH" % name)
            check_package(name, jwt[:-4] + ".cms", out)
    finally:
        shutil.rmtree(out, ignore_errors=True)


def check_package(name, cms, out):
    zip_path = os.path.join(out, name + ".zip")
    if not run(["openssl", "cms", "-decrypt", "-binary", "-inform", "DER",
                "-in", cms, "-recip", "certs-dev/eboks-mailbox.pem",
                "-inkey", "certs-dev/eboks-mailbox.key", "-out", zip_path],
               name + " decrypt"):
        return
    root = os.path.join(out, name)
    with zipfile.ZipFile(zip_path) as z:
        names = z.namelist()
        if names[0] != "mimetype":
            failures.append("%s: mimetype is not first" % name)
        z.extractall(root)
    # The references are relative to the container's root: xmlsec1 opens
    # them from its working directory.
    sig = os.path.join(root, "signatures.xml")
    shutil.copy(os.path.join(root, "META-INF", "signatures.xml"), sig)
    ok = run(["xmlsec1", "--verify", "--trusted-pem", os.path.abspath("certs-dev/ca.pem"),
              "--id-attr:Id", "http://uri.etsi.org/01903/v1.3.2#:SignedProperties",
              sig],
             name + " xmlsec1", cwd=root)
    # A changed document must not verify.
    docs = [n for n in names if n not in ("mimetype", "manifest.xml")
            and not n.startswith("META-INF/")]
    with open(os.path.join(root, docs[0]), "ab") as f:
        f.write(b" ")
    tampered = subprocess.run(
        ["xmlsec1", "--verify", "--trusted-pem", os.path.abspath("certs-dev/ca.pem"),
         "--id-attr:Id", "http://uri.etsi.org/01903/v1.3.2#:SignedProperties",
         sig],
        capture_output=True, cwd=root)
    if tampered.returncode == 0:
        failures.append("%s: xmlsec1 verifies a changed document" % name)
    xsd_ok = run(["xmllint", "--noout", "--schema",
                  os.path.join(HERE, "xsd", "sdp-manifest.xsd"),
                  os.path.join(root, "manifest.xml")], name + " manifest")
    print("%-40s xmlsec1 %s, manifest %s" % (name, "OK" if ok else "FAILED",
                                             "valid" if xsd_ok else "INVALID"))


if __name__ == "__main__":
    main()
    for f in failures:
        print("FAIL:", f)
    sys.exit(1 if failures else 0)
