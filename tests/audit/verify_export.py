#!/usr/bin/python3
"""Verifies a Utpost receipt log export (docs/receipt-log.md) with nothing
but the Python standard library and the openssl command line tool: no Utpost
code. Checks every receipt's and tree head's ES256 signature and that its
x5c certificate chains to the CA, every inclusion proof (RFC 9162 2.1.3.2)
and every consistency proof between successive tree heads (2.1.4.2).

For format utpost-receipt-log-export/2 it also checks that the export is
complete: the signed header is the first line, the signed trailer the last,
the trailer commits to the number and SHA-256 of all lines before it and to
the last tree head, and every letter's signed statement names exactly the
receipts the file holds for that letter (so a removed receipt, the last one
of a letter included, or any removed line is a fault). Format /1 files
cannot prove that; a note says so.

    /usr/bin/python3 tests/audit/verify_export.py EXPORT.jsonl --ca CA.pem

Exit code 0 when everything verifies, 1 with one line per fault otherwise.
"""

import argparse
import base64
import hashlib
import json
import os
import subprocess
import sys
import tempfile


def b64url(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def leaf_hash(data):
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def verify_inclusion(leaf, index, size, proof, root):
    """RFC 9162 2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(first, second, first_root, second_root, proof):
    """RFC 9162 2.1.4.2."""
    if first == second:
        return not proof and first_root == second_root
    if first == 0 or first > second or not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_root and sr == second_root


def der_int(b):
    b = b.lstrip(b"\x00") or b"\x00"
    if b[0] & 0x80:
        b = b"\x00" + b
    return b"\x02" + bytes([len(b)]) + b


class JwsChecker:
    """ES256 compact JWS with an x5c chain, checked with openssl."""

    def __init__(self, ca_file, work):
        self.ca_file = ca_file
        self.work = work
        self.keys = {}  # leaf DER -> public key file, once chained

    def _key_for(self, x5c):
        der = base64.b64decode(x5c[0])
        if der in self.keys:
            return self.keys[der]
        n = len(self.keys)
        leaf = os.path.join(self.work, f"leaf{n}.pem")
        chain = os.path.join(self.work, f"chain{n}.pem")
        with open(leaf, "w") as f:
            f.write(pem(der))
        with open(chain, "w") as f:
            for c in x5c[1:]:
                f.write(pem(base64.b64decode(c)))
        argv = ["openssl", "verify", "-CAfile", self.ca_file]
        if len(x5c) > 1:
            argv += ["-untrusted", chain]
        r = subprocess.run(argv + [leaf], capture_output=True, text=True)
        if r.returncode != 0 or ": OK" not in r.stdout:
            raise ValueError("certificate does not chain to the CA: "
                             + (r.stdout + r.stderr).strip())
        pub = os.path.join(self.work, f"pub{n}.pem")
        subprocess.run(["openssl", "x509", "-in", leaf, "-pubkey", "-noout",
                        "-out", pub], check=True)
        self.keys[der] = pub
        return pub

    def verify(self, jws):
        """Returns the payload dict; raises ValueError when not valid."""
        parts = jws.split(".")
        if len(parts) != 3:
            raise ValueError("not a compact JWS")
        header = json.loads(b64url(parts[0]))
        if header.get("alg") != "ES256" or not header.get("x5c"):
            raise ValueError("not ES256 with x5c")
        pub = self._key_for(header["x5c"])
        sig = b64url(parts[2])
        if len(sig) != 64:
            raise ValueError("signature is not 64 bytes")
        body = der_int(sig[:32]) + der_int(sig[32:])
        der_sig = b"\x30" + bytes([len(body)]) + body
        sig_file = os.path.join(self.work, "sig.der")
        data_file = os.path.join(self.work, "data")
        with open(sig_file, "wb") as f:
            f.write(der_sig)
        with open(data_file, "wb") as f:
            f.write((parts[0] + "." + parts[1]).encode())
        r = subprocess.run(["openssl", "dgst", "-sha256", "-verify", pub,
                            "-signature", sig_file, data_file],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise ValueError("signature does not verify")
        return json.loads(b64url(parts[1]))


def pem(der):
    b = base64.b64encode(der).decode()
    return ("-----BEGIN CERTIFICATE-----\n"
            + "\n".join(b[i:i + 64] for i in range(0, len(b), 64))
            + "\n-----END CERTIFICATE-----\n")


FORMAT_1 = "utpost-receipt-log-export/1"
FORMAT_2 = "utpost-receipt-log-export/2"


def plural(n, one, many):
    return f"{n} {one if n == 1 else many}"


def seq_list(seqs):
    """[1, 3, 4, 5] -> 'seq 1, 3..5'."""
    out, i = [], 0
    while i < len(seqs):
        j = i
        while j + 1 < len(seqs) and seqs[j + 1] == seqs[j] + 1:
            j += 1
        out.append(str(seqs[i]) if i == j else f"{seqs[i]}..{seqs[j]}")
        i = j + 1
    return "seq " + ", ".join(out)


def check_completeness(raw, items, heads_order, receipts, checker, faults):
    """Format /2: header first, trailer last and over every line before it,
    one statement per letter naming exactly the receipts in the file."""
    nlines = len(raw)
    headers = [(n, i) for n, i in items if i.get("type") == "export"]
    trailers = [(n, i) for n, i in items if i.get("type") == "trailer"]
    statements = [(n, i) for n, i in items if i.get("type") == "letter"]

    header = None
    if not headers:
        first = items[0][1].get("type") if items and items[0][0] == 1 else None
        faults.append(f"line 1: the export header is missing (line 1 is "
                      f"{'a ' + first + ' line' if first else 'not an export line'}"
                      "): the first line was removed or moved")
    else:
        hn, h = headers[0]
        if hn != 1:
            faults.append(f"line {hn}: the export header is not the first "
                          "line of the export (moved)")
        for n, _ in headers[1:]:
            faults.append(f"line {n}: a second export header")
        try:
            p = checker.verify(h["jws"])
            keys = ("format", "tenant", "letter", "start_time", "end_time",
                    "tree_size", "receipts", "letters", "lines")
            if p.get("statement") != "utpost-export-header":
                faults.append(f"line {hn}: the JWS is not an export header")
            elif any(p.get(k) != h.get(k) for k in keys):
                faults.append(f"line {hn}: the signed header does not say "
                              "what its line says")
            else:
                header = p
        except (ValueError, KeyError) as e:
            faults.append(f"line {hn}: export header: {e}")

    trailer = None
    for n, _ in trailers[:-1]:
        faults.append(f"line {n}: a second trailer (only the last line may "
                      "be one)")
    announced = header["lines"] if header else 0
    if not trailers:
        if header and nlines < announced:
            faults.append(f"line {nlines + 1}: the export ends early: its "
                          f"last {plural(announced - nlines, 'line is', 'lines are')}"
                          f" missing (the signed header announces {announced}"
                          f" lines, the file has {nlines}; the trailer is "
                          "gone)")
        else:
            faults.append(f"line {nlines + 1}: the export ends early: it has "
                          "no trailer (the last line was removed)")
    else:
        tn, t = trailers[-1]
        if tn != nlines:
            faults.append(f"line {tn}: the trailer is not the last line: "
                          f"{plural(nlines - tn, 'line follows', 'lines follow')}"
                          " it (moved or appended)")
        try:
            p = checker.verify(t["jws"])
            if p.get("statement") != "utpost-export-trailer" or any(
                    p.get(k) != t.get(k) for k in
                    ("lines", "sha256", "tree_size", "root_hash")):
                faults.append(f"line {tn}: the signed trailer does not say "
                              "what its line says")
            else:
                trailer = p
        except (ValueError, KeyError) as e:
            faults.append(f"line {tn}: trailer: {e}")
        if trailer:
            before = tn - 1
            if before < trailer["lines"]:
                k = trailer["lines"] - before
                faults.append(f"line {tn}: {plural(k, 'line', 'lines')} "
                              f"before the trailer {'is' if k == 1 else 'are'}"
                              f" missing: it commits to {trailer['lines']} "
                              f"lines, the file has {before}")
            elif before > trailer["lines"]:
                faults.append(f"line {tn}: {before - trailer['lines']} "
                              "line(s) before the trailer that it does not "
                              "commit to")
            digest = hashlib.sha256(
                "".join(l + "\n" for l in raw[:before]).encode()).hexdigest()
            if digest != trailer["sha256"]:
                faults.append(f"line {tn}: the SHA-256 of the lines before "
                              "the trailer is not the one it signed (a line "
                              "was changed, removed, added or moved)")
            if header:
                for k in ("format", "tenant", "letter", "start_time",
                          "end_time", "tree_size"):
                    if header.get(k) != trailer.get(k):
                        faults.append(f"line {tn}: the trailer states another"
                                      f" {k} than the export header")
            last = heads_order[-1][1] if heads_order else None
            if (last is None and trailer["tree_size"] != 0) or (
                    last is not None and (
                        last["tree_size"] != trailer["tree_size"]
                        or last["root_hash"] != trailer["root_hash"])):
                faults.append(f"line {tn}: the trailer binds to the tree "
                              f"head of size {trailer['tree_size']}, which is"
                              " not the export's last tree head")
    if header:
        if header["receipts"] != len(receipts):
            faults.append(f"line 1: the export header announces "
                          f"{plural(header['receipts'], 'receipt', 'receipts')}"
                          f", the file holds {len(receipts)}")
        if header["letters"] != len(statements):
            faults.append(f"line 1: the export header announces "
                          f"{plural(header['letters'], 'letter', 'letters')}"
                          f", the file holds statements of {len(statements)}")
        if trailers and announced != nlines:
            faults.append(f"line 1: the export header announces {announced} "
                          f"lines, the file has {nlines}")

    by_letter = {}
    for n, r in receipts:
        by_letter.setdefault(r["letter_id"], {})[r["seq"]] = (n, r)
    head_size = heads_order[-1][1]["tree_size"] if heads_order else 0
    stated = {}
    for n, st in statements:
        letter = st.get("letter_id")
        if letter in stated:
            faults.append(f"line {n}: letter {letter}: a second statement "
                          f"(the first is at line {stated[letter]})")
            continue
        stated[letter] = n
        keys = ("letter_id", "tenant", "tree_size", "receipts",
                "last_sha256", "in_range", "first_seq", "last_seq")
        try:
            p = checker.verify(st["jws"])
        except (ValueError, KeyError) as e:
            faults.append(f"line {n}: letter {letter}: statement: {e}")
            continue
        if p.get("statement") != "utpost-letter-receipts":
            faults.append(f"line {n}: letter {letter}: the JWS is not a "
                          "letter statement")
            continue
        if any(p.get(k) != st.get(k) for k in keys):
            faults.append(f"line {n}: letter {letter}: the signed statement "
                          "does not say what its line says")
            continue
        if p["tree_size"] != head_size:
            faults.append(f"line {n}: letter {letter}: the statement is for "
                          f"the tree of size {p['tree_size']}, the export's "
                          f"last head is of size {head_size}")
        if header:
            if (p["start_time"], p["end_time"]) != (header["start_time"],
                                                    header["end_time"]):
                faults.append(f"line {n}: letter {letter}: the statement "
                              "covers another time range than the header")
            if header["tenant"] and p["tenant"] != header["tenant"]:
                faults.append(f"line {n}: letter {letter}: the statement "
                              f"names tenant {p['tenant']}, the export is of"
                              f" tenant {header['tenant']}")
            if header.get("letter") and p["letter_id"] != header["letter"]:
                faults.append(f"line {n}: letter {letter}: the statement is"
                              " of another letter than the export's, "
                              f"{header['letter']}")
        first, last = p["first_seq"], p["last_seq"]
        if first < 1 or p["in_range"] != last - first + 1:
            faults.append(f"line {n}: letter {letter}: its {p['in_range']} "
                          f"receipts in range are not sequences "
                          f"{first}..{last}")
            continue
        present = by_letter.get(letter, {})
        says = (f"the statement at line {n} says "
                f"{plural(p['in_range'], 'receipt', 'receipts')} ("
                + (f"seq {first}" if first == last else f"seq {first}..{last}")
                + ")" + ("" if last == p["receipts"] else
                         f" of its {p['receipts']} in the tree"))
        missing = [q for q in range(first, last + 1) if q not in present]
        extra = sorted(q for q in present if q < first or q > last)
        if missing:
            faults.append(f"letter {letter}: "
                          f"{plural(len(missing), 'receipt', 'receipts')} "
                          f"({seq_list(missing)}) missing: {says}")
        if extra:
            faults.append(f"letter {letter}: "
                          f"{plural(len(extra), 'receipt', 'receipts')} "
                          f"({seq_list(extra)}) not named by its statement: "
                          f"{says}")
        if last == p["receipts"] and last in present:
            rn, r = present[last]
            if hashlib.sha256(r["jws"].encode()).hexdigest() != \
                    p["last_sha256"]:
                faults.append(f"line {rn}: letter {letter} seq {last}: not "
                              f"the letter's last receipt the statement at "
                              f"line {n} names (SHA-256 differs)")
    for letter, present in by_letter.items():
        if letter not in stated:
            faults.append(f"letter {letter}: no statement of its receipts "
                          "(its statement line was removed; "
                          f"{plural(len(present), 'receipt', 'receipts')} in"
                          " the file cannot be shown complete)")


def verify_file(path, ca_file, notes=None, checker_class=None):
    """Returns (faults, counts); appends to `notes` what the export proves
    or cannot prove. `checker_class(ca_file, work_dir)` checks each JWS
    (verify(jws) returns the payload or raises ValueError); by default a
    JwsChecker, which asks the openssl command line."""
    faults = []
    counts = {"receipts": 0, "tree_heads": 0, "inclusion": 0,
              "consistency": 0}
    heads = {}
    order = []
    links = {}
    receipts = []
    items = []
    with open(path, newline="\n") as f:
        raw = f.read().split("\n")
    if raw and raw[-1] == "":
        raw.pop()  # After the last newline.
    for n, line in enumerate(raw, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError:
            faults.append(f"line {n}: not JSON")
            continue
        if not isinstance(item, dict):
            faults.append(f"line {n}: not a JSON object")
            continue
        items.append((n, item))
        kind = item.get("type")
        if kind == "tree_head":
            order.append((n, item))
        elif kind == "consistency":
            links[(item["first"], item["second"])] = item
        elif kind == "receipt":
            receipts.append((n, item))
    fmt = next((i.get("format") for _, i in items
                if i.get("type") == "export"), None)
    if fmt is None and any(i.get("type") in ("trailer", "letter")
                           for _, i in items):
        fmt = FORMAT_2  # The header is gone; the rest is /2.
    with tempfile.TemporaryDirectory() as work:
        checker = (checker_class or JwsChecker)(ca_file, work)
        prev = None
        for n, h in order:
            counts["tree_heads"] += 1
            try:
                p = checker.verify(h["jws"])
            except ValueError as e:
                faults.append(f"line {n}: tree head: {e}")
                continue
            if p["tree_size"] != h["tree_size"] or p["root_hash"] != h["root_hash"]:
                faults.append(f"line {n}: tree head payload differs")
                continue
            root = bytes.fromhex(p["root_hash"])
            if prev is not None:
                link = links.get((prev[0], p["tree_size"]))
                if link is None:
                    faults.append(f"line {n}: no consistency proof from "
                                  f"size {prev[0]}")
                elif not verify_consistency(
                        prev[0], p["tree_size"], prev[1], root,
                        [bytes.fromhex(x) for x in link["proof"]]):
                    faults.append(f"line {n}: tree head {p['tree_size']} "
                                  f"does not extend {prev[0]}")
                else:
                    counts["consistency"] += 1
            heads[p["tree_size"]] = root
            prev = (p["tree_size"], root)
        for n, r in receipts:
            counts["receipts"] += 1
            name = (f"line {n}: leaf {r['leaf_index']} (letter "
                    f"{r['letter_id']} seq {r['seq']})")
            try:
                p = checker.verify(r["jws"])
            except ValueError as e:
                faults.append(f"{name}: {e}")
                continue
            if p["letter_id"] != r["letter_id"] or p["seq"] != r["seq"]:
                faults.append(f"{name}: payload names another receipt")
            root = heads.get(r["tree_size"])
            if root is None:
                faults.append(f"{name}: no tree head of size {r['tree_size']}")
            elif not verify_inclusion(
                    leaf_hash(r["jws"].encode()), r["leaf_index"],
                    r["tree_size"], [bytes.fromhex(x) for x in
                                     r["inclusion_proof"]], root):
                faults.append(f"{name}: inclusion proof fails")
            else:
                counts["inclusion"] += 1
        if fmt == FORMAT_2:
            check_completeness(raw, items, order, receipts, checker, faults)
        elif fmt in (None, FORMAT_1):
            if notes is not None:
                notes.append(f"format {FORMAT_1}: this export cannot prove "
                             "it is complete")
        else:
            faults.append(f"line 1: unknown format {fmt!r}")
    if fmt == FORMAT_2 and not faults and notes is not None:
        notes.append("complete: the signed trailer commits to every line "
                     "before it and each letter has every receipt its signed"
                     " statement names")
    return faults, counts


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("export")
    ap.add_argument("--ca", required=True)
    args = ap.parse_args()
    notes = []
    faults, counts = verify_file(args.export, args.ca, notes)
    for f in faults:
        print("FAULT", f)
    for n in notes:
        print("NOTE", n)
    print(("OK" if not faults else "FAILED") + ": "
          + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return 1 if faults else 0


if __name__ == "__main__":
    sys.exit(main())
