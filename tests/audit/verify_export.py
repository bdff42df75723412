#!/usr/bin/python3
"""Verifies a Utpost receipt log export (docs/receipt-log.md) with nothing
but the Python standard library and the openssl command line tool: no Utpost
code. Checks every receipt's and tree head's ES256 signature and that its
x5c certificate chains to the CA, every inclusion proof (RFC 9162 2.1.3.2)
and every consistency proof between successive tree heads (2.1.4.2).

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


def verify_file(path, ca_file):
    """Returns (faults, counts)."""
    faults = []
    counts = {"receipts": 0, "tree_heads": 0, "inclusion": 0,
              "consistency": 0}
    heads = {}
    order = []
    links = {}
    receipts = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            item = json.loads(line)
            kind = item.get("type")
            if kind == "tree_head":
                order.append((n, item))
            elif kind == "consistency":
                links[(item["first"], item["second"])] = item
            elif kind == "receipt":
                receipts.append((n, item))
    with tempfile.TemporaryDirectory() as work:
        checker = JwsChecker(ca_file, work)
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
    return faults, counts


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("export")
    ap.add_argument("--ca", required=True)
    args = ap.parse_args()
    faults, counts = verify_file(args.export, args.ca)
    for f in faults:
        print("FAULT", f)
    print(("OK" if not faults else "FAILED") + ": "
          + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return 1 if faults else 0


if __name__ == "__main__":
    sys.exit(main())
