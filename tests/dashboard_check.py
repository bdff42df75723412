"""Checks deploy/grafana/utpost-dashboard.json: valid JSON, unique panel
ids, and every panel query parses as PromQL (promtool check rules over the
queries as recording rules, with the dashboard variables filled in) and
names only metrics that utpostd exports (listed in
gateway/observability/gateway_metrics.cc); the alert rules in
deploy/prometheus/alerts.yml name only exported metrics as well.

Usage: dashboard_check.py PROMTOOL REPO_ROOT"""

import json
import os
import re
import subprocess
import sys
import tempfile


def main():
    promtool, root = sys.argv[1], sys.argv[2]
    with open(os.path.join(root, "deploy", "grafana",
                           "utpost-dashboard.json")) as f:
        dash = json.load(f)
    with open(os.path.join(root, "gateway", "observability",
                           "gateway_metrics.cc")) as f:
        exported = set(re.findall(r'"(utpost_[a-z_]+)"', f.read()))
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    assert len(exprs) >= 10, exprs
    suffixes = ("_bucket", "_sum", "_count")
    for e in exprs:
        for name in re.findall(r"\butpost_[a-z_]+", e):
            base = name
            for s in suffixes:
                if name.endswith(s) and name[: -len(s)] in exported:
                    base = name[: -len(s)]
            assert base in exported, f"{name} is not exported: {e}"
    # The alert rules, too, name only exported metrics.
    with open(os.path.join(root, "deploy", "prometheus", "alerts.yml")) as f:
        for name in re.findall(r"\butpost_[a-z_]+", f.read()):
            assert name in exported, f"alerts.yml: {name} is not exported"
    lines = ["groups:", "  - name: dashboard", "    rules:"]
    for i, e in enumerate(exprs):
        e = (e.replace("$__rate_interval", "5m").replace("$__range", "1d")
             .replace("$instance", ".*")
             .replace("$tenant", ".*"))
        lines.append(f"      - record: dashboard:q{i}")
        lines.append(f"        expr: {json.dumps(e)}")
    with tempfile.NamedTemporaryFile("w", suffix=".yml") as f:
        f.write("\n".join(lines) + "\n")
        f.flush()
        r = subprocess.run([promtool, "check", "rules", f.name],
                           capture_output=True, text=True)
    print(r.stdout + r.stderr)
    if r.returncode != 0:
        return 1
    print(f"dashboard: {len(dash['panels'])} panels, {len(exprs)} queries OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
