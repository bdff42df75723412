"""Checks that every alert in deploy/prometheus/alerts.yml has a runbook_url
naming a section of docs/runbooks.md (by its heading's anchor, as Markdown
renderers make it), and that every section of docs/runbooks.md belongs to
an alert. With --self-test, checks that a missing or dangling runbook_url
is found.

Usage: runbooks_check.py REPO_ROOT | --self-test"""

import os
import re
import sys

import yaml


def anchor(heading):
    """GitHub's anchor of a Markdown heading."""
    a = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return a.replace(" ", "-")


def faults(rules_text, runbooks_text):
    out = []
    sections = {anchor(h) for h in
                re.findall(r"^## (.+)$", runbooks_text, re.M)}
    alerts = set()
    for group in yaml.safe_load(rules_text)["groups"]:
        for rule in group["rules"]:
            if "alert" not in rule:
                continue
            name = rule["alert"]
            alerts.add(anchor(name))
            url = (rule.get("annotations") or {}).get("runbook_url")
            if not url:
                out.append(f"{name}: no runbook_url")
                continue
            m = re.fullmatch(r"docs/runbooks\.md#([\w-]+)", url)
            if not m:
                out.append(f"{name}: runbook_url {url} is not "
                           "docs/runbooks.md#SECTION")
            elif m.group(1) not in sections:
                out.append(f"{name}: runbook_url {url} names no section "
                           "of docs/runbooks.md")
            elif m.group(1) != anchor(name):
                out.append(f"{name}: runbook_url {url} is another alert's "
                           "section")
    for s in sorted(sections - alerts):
        out.append(f"docs/runbooks.md#{s}: a section for no alert")
    return out


def self_test():
    rules = """groups:
  - name: g
    rules:
      - alert: A
        expr: up == 0
        annotations:
          runbook_url: docs/runbooks.md#a
      - alert: B
        expr: up == 0
      - alert: C
        expr: up == 0
        annotations:
          runbook_url: docs/runbooks.md#nowhere
"""
    got = faults(rules, "# R\n\n## A\n\n## C\n\n## D\n")
    want = ["B: no runbook_url",
            "C: runbook_url docs/runbooks.md#nowhere names no section of "
            "docs/runbooks.md",
            "docs/runbooks.md#d: a section for no alert"]
    assert got == want, got
    assert faults(rules.replace("#nowhere", "#c").replace(
        "      - alert: B\n        expr: up == 0\n", ""),
        "## A\n## C\n") == []
    print("runbooks_check self-test OK")
    return 0


def main():
    if sys.argv[1:] == ["--self-test"]:
        return self_test()
    root = sys.argv[1]
    with open(os.path.join(root, "deploy", "prometheus", "alerts.yml")) as f:
        rules = f.read()
    with open(os.path.join(root, "docs", "runbooks.md")) as f:
        runbooks = f.read()
    found = faults(rules, runbooks)
    for line in found:
        print("FAULT " + line)
    if found:
        return 1
    print("runbooks: every alert has its section")
    return 0


if __name__ == "__main__":
    sys.exit(main())
