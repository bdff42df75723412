#!/usr/bin/python3
"""Validates DPI receipts against the published receipt schemas.

The schemas are the fixtures beside this file, transcribed from
felleslosninger/docs (see their "$comment" and tests/published/README.md).
Each receipt is a JSON file holding the JWS payload, {"standardBusinessDocument":
{"standardBusinessDocumentHeader": ..., "<type>": ...}}; the schema is chosen
by the receipt type's key, so a receipt of no known type is an error too.

  validate.py FILE...     prints every error, "N errors" last; exit 0 only
                          for 0 errors
  validate.py --self-test the examples in examples/ have 0 errors, and each
                          of a set of broken copies has at least one (so the
                          schemas judge something)
"""

import copy
import glob
import json
import os
import sys

import jsonschema

HERE = os.path.dirname(os.path.abspath(__file__))
TYPES = ("leveringskvittering", "aapningskvittering", "mottakskvittering",
         "returpostkvittering", "varslingfeiletkvittering", "feil")


def load_schemas():
    """{$id: schema} of every fixture, and {receipt type: its schema}."""
    store = {}
    schemas = {}
    for path in glob.glob(os.path.join(HERE, "*.schema.json")):
        with open(path, encoding="utf-8") as f:
            schema = json.load(f)
        store[schema["$id"]] = schema
        name = os.path.basename(path)
        for t in TYPES:
            if name == "innbyggerpost_dpi_%s_1_0.schema.json" % t:
                schemas[t] = schema
    missing = [t for t in TYPES if t not in schemas]
    if missing:
        raise SystemExit("no schema for " + ", ".join(missing))
    return store, schemas


STORE, SCHEMAS = load_schemas()


def errors(receipt):
    """Every schema error of `receipt`, as text."""
    sbd = receipt.get("standardBusinessDocument") if isinstance(
        receipt, dict) else None
    keys = [k for k in (sbd or {}) if k in TYPES]
    if len(keys) != 1:
        return ["no single receipt type among %s" % sorted(sbd or {})]
    schema = SCHEMAS[keys[0]]
    # Two published schemas name draft 2019-09, one names draft-07 with
    # "https://" (no dialect id); the keywords they use mean the same in
    # draft-07, which Debian's jsonschema (4.10) knows by every name.
    cls = jsonschema.validators.validator_for(
        schema, default=jsonschema.Draft7Validator)
    # The $refs name the schemas by their published $id; they resolve to
    # the fixtures, never to the network.
    resolver = jsonschema.RefResolver(schema["$id"], schema, store=STORE)
    validator = cls(schema,
                    resolver=resolver,
                    format_checker=jsonschema.FormatChecker())
    return [
        "%s at /%s: %s" % (keys[0], "/".join(str(p) for p in e.absolute_path),
                           e.message) for e in validator.iter_errors(receipt)
    ]


def broken_copies(example):
    """Copies of a valid receipt that the published schemas refuse."""
    t = [k for k in example["standardBusinessDocument"] if k in TYPES][0]
    out = []

    def change(why, edit):
        c = copy.deepcopy(example)
        edit(c["standardBusinessDocument"])
        out.append((why, c))

    change("no tidspunkt", lambda s: s[t].pop("tidspunkt"))
    change("no avsender", lambda s: s[t].pop("avsender"))
    change("an unknown field", lambda s: s[t].update({"status": "LEVERT"}))
    change("no SBDH", lambda s: s.pop("standardBusinessDocumentHeader"))
    change(
        "no documentIdentification", lambda s: s[
            "standardBusinessDocumentHeader"].pop("documentIdentification"))
    change("two senders",
           lambda s: s["standardBusinessDocumentHeader"]["sender"].append(
               copy.deepcopy(s["standardBusinessDocumentHeader"]["sender"][0])))
    change(
        "a virksomhetsidentifikator without ICD", lambda s: s[t]["mottaker"][
            "virksomhetsidentifikator"].update({"value": "922020175"}))
    if t == "feil":
        change("feiltype not KLIENT|SERVER",
               lambda s: s[t].update({"feiltype": "ANNET"}))
        change("no feiltype", lambda s: s[t].pop("feiltype"))
    if t == "varslingfeiletkvittering":
        change("varslingskanal not epost|sms",
               lambda s: s[t].update({"varslingskanal": "brev"}))
    if t == "returpostkvittering":
        change("beskrivelse (not in returpostkvittering)",
               lambda s: s[t].update({"beskrivelse": "ukjent adresse"}))
    return out


def self_test():
    failures = 0
    examples = sorted(glob.glob(os.path.join(HERE, "examples", "*.json")))
    seen = set()
    for path in examples:
        with open(path, encoding="utf-8") as f:
            example = json.load(f)
        errs = errors(example)
        print("%s: %d errors" % (os.path.basename(path), len(errs)))
        for e in errs:
            print("  " + e)
        failures += len(errs)
        seen.update(k for k in example["standardBusinessDocument"]
                    if k in TYPES)
        for why, broken in broken_copies(example):
            if not errors(broken):
                print("  %s with %s: accepted, should be refused" %
                      (os.path.basename(path), why))
                failures += 1
    if seen != set(TYPES):
        print("no example of " + ", ".join(sorted(set(TYPES) - seen)))
        failures += 1
    print("self-test: %d failures" % failures)
    return 0 if failures == 0 else 1


def main(argv):
    if argv == ["--self-test"]:
        return self_test()
    if not argv:
        print(__doc__)
        return 2
    total = 0
    for path in argv:
        with open(path, encoding="utf-8") as f:
            errs = errors(json.load(f))
        for e in errs:
            print("%s: %s" % (path, e))
        total += len(errs)
    print("%d errors in %d receipts" % (total, len(argv)))
    return 0 if total == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
