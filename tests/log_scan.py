"""Scans every log file a test run wrote for unmasked person numbers.

Usage: log_scan.py DIR [--min-files N] [--min-lines N]
       log_scan.py --self-test

Fails (exit 1) on any run of exactly 11 digits that is a valid person
number (birth, D, H or synthetic number with valid check digits, 2032 rule
included), and when DIR holds fewer files or lines than asked, so that a
run that wrote no logs cannot pass. Letter ids (UUIDs) and trace ids (32 hex
digits) are skipped: their digit runs are not about anyone. Findings are
reported masked."""

import argparse
import os
import re
import sys
import tempfile

K1 = [3, 7, 6, 1, 8, 9, 4, 5, 2]
K2 = [5, 4, 3, 2, 7, 6, 5, 4, 3, 2]
IDS = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                 r"[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|\b[0-9a-f]{32}\b")
RUN = re.compile(r"(?<![0-9])[0-9]{11}(?![0-9])")


def is_person_number(s):
    d = [int(c) for c in s]
    day, month = d[0] * 10 + d[1], d[2] * 10 + d[3]
    if 40 <= day <= 79:
        day -= 40
    if 40 <= month <= 59:
        month -= 40
    elif 80 <= month <= 99:
        month -= 80
    if not (1 <= day <= 31 and 1 <= month <= 12):
        return False
    if (sum(w * x for w, x in zip(K1, d)) + d[9]) % 11 > 3:
        return False
    r = sum(w * x for w, x in zip(K2, d)) % 11
    k2 = 0 if r == 0 else 11 - r
    return k2 != 10 and k2 == d[10]


def scan(root):
    """Returns (files, lines, findings)."""
    files = lines = 0
    findings = []
    for dirpath, _, names in os.walk(root):
        for name in sorted(names):
            path = os.path.join(dirpath, name)
            files += 1
            with open(path, "rb") as f:
                for n, raw in enumerate(f, start=1):
                    lines += 1
                    text = IDS.sub("-", raw.decode("utf-8", "replace"))
                    for m in RUN.finditer(text):
                        if is_person_number(m.group()):
                            findings.append(
                                f"{path}:{n}: {m.group()[:6]}***** unmasked")
    return files, lines, findings


def self_test():
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "a.log"), "w") as f:
            f.write('{"message":"to 018170***** ok"}\n')
            f.write('{"message":"letter 3f1e2d4c-0000-4000-8000-012345678901"}\n')
            f.write('{"message":"counts 12345678901 and 1700000000123"}\n')
        files, lines, findings = scan(d)
        assert (files, lines, findings) == (1, 3, []), findings
        with open(os.path.join(d, "b.log"), "w") as f:
            f.write("recipient 01817010055 failed\n")  # A synthetic person.
        files, lines, findings = scan(d)
        assert files == 2 and len(findings) == 1, findings
        assert "01817010055" not in findings[0]
    print("log_scan self-test: OK")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("dir", nargs="?")
    p.add_argument("--min-files", type=int, default=1)
    p.add_argument("--min-lines", type=int, default=1)
    p.add_argument("--self-test", action="store_true")
    a = p.parse_args()
    if a.self_test:
        self_test()
        return 0
    if not a.dir or not os.path.isdir(a.dir):
        print(f"log_scan: no log folder {a.dir}", file=sys.stderr)
        return 1
    files, lines, findings = scan(a.dir)
    print(f"log_scan: {files} files, {lines} lines, "
          f"{len(findings)} unmasked person numbers")
    for f in findings[:50]:
        print(f)
    if files < a.min_files or lines < a.min_lines:
        print(f"log_scan: expected at least {a.min_files} files and "
              f"{a.min_lines} lines; did the tests write their logs to "
              f"{a.dir}?", file=sys.stderr)
        return 1
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
