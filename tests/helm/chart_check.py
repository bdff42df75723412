"""Checks of the Helm chart helm/utpost, each a ctest test (tests/helm).

  chart_check.py --helm HELM --models DIR CHECK [VALUES ...]

CHECK is one of
  lint VALUES            helm lint --strict with VALUES (or the defaults: -)
  manifests VALUES       helm template; every object valid against the
                         Kubernetes API schemas (kubernetes-models, through
                         node), the RabbitmqCluster against
                         schemas/rabbitmqcluster-v1beta1.json; the api and
                         worker Deployments there; the PrometheusRule's
                         groups those of deploy/prometheus/alerts.yml and the
                         dashboard ConfigMap deploy/grafana's JSON
  values-schema          values.schema.json refuses wrong types and values
                         (and the defaults and ci/ values pass)
  policy VALUES          policy_check.py passes on the rendered pods
  policy-broken VALUES   ... and fails on VALUES, with every rule's message
  config-keys VALUES     the ConfigMap's utpostd.yaml has the keys that
                         scripts/run-local.sh writes, and `utpostd
                         --check-config` accepts it for both roles (--utpostd)
  readme                 helm/utpost/README.md names every value of
                         values.yaml

VALUES "-" means the chart's defaults. Exit 0 when the check passes.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

import jsonschema
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CHART = os.path.join(ROOT, "helm", "utpost")
# The chart wants grpc probes (Kubernetes 1.24+); render for a current one.
KUBE_VERSION = "1.29.0"
RELEASE = "utpost"
NAMESPACE = "post"

sys.path.insert(0, HERE)
import policy_check  # noqa: E402


class CheckFailed(Exception):
    pass


def expect(condition, message):
    if not condition:
        raise CheckFailed(message)


def values_args(values):
    if values in (None, "-"):
        return []
    return ["-f", values]


def run_helm(args, helm):
    p = subprocess.run([helm] + args, capture_output=True, text=True)
    # helm says where it follows the links of files/ on every run.
    stderr = "\n".join(l for l in p.stderr.splitlines()
                       if "found symbolic link in path" not in l)
    return p.returncode, p.stdout, stderr


def render(helm, values, extra=()):
    code, out, err = run_helm(["template", RELEASE, CHART, "--namespace",
                               NAMESPACE, "--kube-version", KUBE_VERSION] +
                              values_args(values) + list(extra), helm)
    expect(code == 0, f"helm template failed:\n{err}")
    return out, [o for o in yaml.safe_load_all(out) if o]


def find(objects, kind, name=None):
    found = [o for o in objects if o.get("kind") == kind and
             (name is None or o["metadata"]["name"] == name)]
    return found


def check_lint(a):
    code, out, err = run_helm(["lint", "--strict", CHART] +
                              values_args(a.values), a.helm)
    print(out, err, sep="")
    expect(code == 0, "helm lint failed")
    expect("0 chart(s) failed" in out, "helm lint: unexpected summary")


def check_manifests(a):
    _, objects = render(a.helm, a.values)
    kinds = sorted({o["kind"] for o in objects})
    print(f"{len(objects)} objects: {', '.join(kinds)}")
    for name in (f"{RELEASE}-api", f"{RELEASE}-worker"):
        expect(find(objects, "Deployment", name), f"no Deployment {name}")
    for kind in ("Service", "ConfigMap", "NetworkPolicy",
                 "PodDisruptionBudget"):
        expect(find(objects, kind), f"no {kind}")
    crds = [o for o in objects if o["apiVersion"].startswith("rabbitmq.com/")]
    kube = [o for o in objects if o not in crds]
    p = subprocess.run(
        ["node", os.path.join(HERE, "validate_manifests.js"), a.models],
        input=json.dumps(kube), capture_output=True, text=True)
    print(p.stdout, p.stderr, sep="", end="")
    expect(p.returncode == 0, "objects invalid against the Kubernetes API "
           "schemas (or of a kind without one)")
    # The validator refuses what it should: a wrong type deep in a pod.
    bad = json.loads(json.dumps(find(kube, "Deployment")[0]))
    bad["spec"]["template"]["spec"]["containers"][0]["ports"][0][
        "containerPort"] = "grpc"
    p = subprocess.run(
        ["node", os.path.join(HERE, "validate_manifests.js"), a.models],
        input=json.dumps([bad]), capture_output=True, text=True)
    expect(p.returncode == 1 and "containerPort must be integer" in p.stdout,
           f"the validator accepted a string containerPort: {p.stdout}")
    with open(os.path.join(HERE, "schemas",
                           "rabbitmqcluster-v1beta1.json")) as f:
        rabbit_schema = json.load(f)
    for o in crds:
        expect(o["kind"] == "RabbitmqCluster",
               f"{o['kind']}: no schema for it here")
        errors = sorted(jsonschema.Draft7Validator(rabbit_schema)
                        .iter_errors(o), key=lambda e: list(e.path))
        expect(not errors, "RabbitmqCluster invalid: " + "; ".join(
            f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors))
        print(f"valid RabbitmqCluster/{o['metadata']['name']} "
              f"(rabbitmq.com/v1beta1)")
    # One source: what the chart serves is what deploy/ holds.
    with open(os.path.join(ROOT, "deploy", "prometheus", "alerts.yml")) as f:
        alerts = yaml.safe_load(f)
    for rule in find(objects, "PrometheusRule"):
        expect(rule["spec"]["groups"] == alerts["groups"],
               "PrometheusRule groups differ from deploy/prometheus/alerts.yml")
        print("PrometheusRule: the groups of deploy/prometheus/alerts.yml")
    with open(os.path.join(ROOT, "deploy", "grafana",
                           "utpost-dashboard.json")) as f:
        dashboard = json.load(f)
    for cm in find(objects, "ConfigMap", f"{RELEASE}-dashboard"):
        expect(cm["metadata"]["labels"].get("grafana_dashboard") == "1",
               "dashboard ConfigMap without the label grafana_dashboard: \"1\"")
        expect(json.loads(cm["data"]["utpost-dashboard.json"]) == dashboard,
               "dashboard ConfigMap differs from deploy/grafana")
        print("dashboard ConfigMap: deploy/grafana/utpost-dashboard.json")


def check_values_schema(a):
    for values in ("-", os.path.join(CHART, "ci", "production-values.yaml")):
        render(a.helm, values)
    # (--set arguments, what helm's schema validation must say)
    refused = [
        (["--set", "api.replicas=two"],
         "api.replicas: Invalid type. Expected: integer, given: string"),
        (["--set-string", "ports.health=8081"],
         "ports.health: Invalid type. Expected: integer, given: string"),
        (["--set", "broker.mode=bundled"], "broker.mode: broker.mode must be "
         "one of the following"),
        (["--set", "ports.grpc=443"], "ports.grpc: Must be greater than or "
         "equal to 1024"),
        (["--set", "config.server.listen=0.0.0.0:1"],
         "config.server: Must not validate the schema"),
        (["--set", "config.log_level=loud"], "config.log_level"),
        (["--set", "worker.hap.enabled=true"],
         "Additional property hap is not allowed"),
        (["--set", "store.conninfo=host=db password=x"], "store.conninfo"),
    ]
    for args, message in refused:
        code, _, err = run_helm(["template", RELEASE, CHART, "--kube-version",
                                 KUBE_VERSION] + args, a.helm)
        expect(code != 0, f"{' '.join(args)}: accepted")
        expect("don't meet the specifications of the schema" in err and
               message in err,
               f"{' '.join(args)}: refused, but not with {message!r}:\n{err}")
        print(f"refused {' '.join(args)}: {message}")


def check_policy(a):
    out, objects = render(a.helm, a.values)
    problems = policy_check.check(objects)
    print("\n".join(problems) or "policy: every pod passes")
    expect(not problems, "policy violations")
    # And through the command line, as CI would call it.
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
        f.write(out)
        f.flush()
        p = subprocess.run([sys.executable, os.path.join(
            HERE, "policy_check.py"), f.name], capture_output=True, text=True)
    expect(p.returncode == 0, f"policy_check.py failed:\n{p.stdout}")


def check_policy_broken(a):
    out, _ = render(a.helm, a.values)
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
        f.write(out)
        f.flush()
        p = subprocess.run([sys.executable, os.path.join(
            HERE, "policy_check.py"), f.name], capture_output=True, text=True)
    print(p.stdout, end="")
    expect(p.returncode == 1, f"policy_check.py exited {p.returncode}, not 1")
    for role in ("api", "worker"):
        where = f"Deployment/{RELEASE}-{role} container utpostd"
        for message in ("runAsNonRoot is not true", "runs as user 0 (root)",
                        "readOnlyRootFilesystem is not true",
                        "allowPrivilegeEscalation is not false",
                        "capabilities do not drop ALL",
                        "capabilities added: NET_ADMIN",
                        "seccompProfile is not RuntimeDefault",
                        "no livenessProbe", "no readinessProbe",
                        "no cpu request", "no memory limit"):
            expect(f"{where}: {message}\n" in p.stdout,
                   f"missing violation {where}: {message}")
    print("policy-broken: refused with every rule's message")


def run_local_config():
    """The YAML scripts/run-local.sh writes for utpostd, its variables
    replaced by harmless values."""
    with open(os.path.join(ROOT, "scripts", "run-local.sh")) as f:
        script = f.read()
    m = re.search(r'cat >"\$run/utpostd\.yaml" <<YAML\n(.*?)\nYAML\n', script,
                  re.S)
    expect(m, "scripts/run-local.sh: no utpostd.yaml here-document")
    text = re.sub(r"\$(\w+)", lambda v: "9" if v.group(1).endswith("_port")
                  else "/x", m.group(1))
    return yaml.safe_load(text)


def key_paths(node, prefix=""):
    """Every key of a YAML tree as a dotted path; list items as []."""
    paths = set()
    if isinstance(node, dict):
        for k, v in node.items():
            p = f"{prefix}.{k}" if prefix else str(k)
            paths.add(p)
            paths |= key_paths(v, p)
    elif isinstance(node, list):
        for item in node:
            paths |= key_paths(item, prefix + "[]")
    return paths


def check_config_keys(a):
    _, objects = render(a.helm, a.values)
    cm = find(objects, "ConfigMap", f"{RELEASE}-config")
    expect(cm, "no ConfigMap with utpostd.yaml")
    text = cm[0]["data"]["utpostd.yaml"]
    rendered = yaml.safe_load(text)
    local = key_paths(run_local_config())
    chart = key_paths(rendered)
    # run-local.sh runs one process on a SQLite file; the chart's pods share
    # PostgreSQL, so store.engine and store.postgres take sqlite_path's place.
    expect(rendered["store"]["engine"] == "postgres",
           "the chart's store is not postgres")
    missing = sorted(local - chart - {"store.sqlite_path"})
    expect(not missing, "keys scripts/run-local.sh writes and the chart's "
           f"ConfigMap does not: {', '.join(missing)}")
    print(f"{len(local)} keys of run-local.sh's utpostd.yaml, all in the "
          f"chart's (which has {len(chart)})")
    print("only in the chart: " + ", ".join(sorted(chart - local)))
    expect(a.utpostd, "--utpostd is required for config-keys")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "utpostd.yaml")
        with open(path, "w") as f:
            f.write(text)
        for role in ("api", "worker"):
            p = subprocess.run([a.utpostd, "--config", path, "--role", role,
                                "--check-config"],
                               capture_output=True, text=True)
            print(p.stdout, p.stderr, sep="", end="")
            expect(p.returncode == 0, f"utpostd --check-config refused the "
                   f"chart's configuration for role {role}")
        # And it does refuse a bad one: the check is a real check.
        with open(path, "w") as f:
            f.write(text + "\nnot_a_setting: 1\n")
        p = subprocess.run([a.utpostd, "--config", path, "--check-config"],
                           capture_output=True, text=True)
        expect(p.returncode == 2 and "not_a_setting" in p.stderr,
               f"utpostd --check-config accepted an unknown key: "
               f"{p.returncode} {p.stderr}")


def check_readme(a):
    with open(os.path.join(CHART, "values.yaml")) as f:
        values = yaml.safe_load(f)
    with open(os.path.join(CHART, "README.md")) as f:
        readme = f.read()
    section = re.search(r"^## Values\n(.*?)(^## |\Z)", readme, re.S | re.M)
    expect(section, "README.md has no section ## Values")
    documented = set(re.findall(r"^\| `([^`]+)` \|", section.group(1), re.M))

    def leaves(node, prefix=""):
        # A value is a leaf unless it is a map of further values; free maps
        # (resources, config's sections) are documented as one value.
        out = set()
        for k, v in node.items():
            p = f"{prefix}.{k}" if prefix else k
            if isinstance(v, dict) and v and p not in documented:
                out |= leaves(v, p)
            else:
                out.add(p)
        return out

    undocumented = sorted(leaves(values) - documented)
    expect(not undocumented,
           f"values missing in helm/utpost/README.md: {', '.join(undocumented)}")
    unknown = sorted(p for p in documented if not any(
        p == l or l.startswith(p + ".") for l in leaves(values)))
    expect(not unknown, f"README.md lists values values.yaml has not: "
           f"{', '.join(unknown)}")
    print(f"README.md lists all {len(leaves(values))} values")


CHECKS = {
    "lint": check_lint,
    "manifests": check_manifests,
    "values-schema": check_values_schema,
    "policy": check_policy,
    "policy-broken": check_policy_broken,
    "config-keys": check_config_keys,
    "readme": check_readme,
}


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--helm", required=True)
    ap.add_argument("--models", required=True,
                    help="folder with node_modules/kubernetes-models")
    ap.add_argument("--utpostd")
    ap.add_argument("check", choices=sorted(CHECKS))
    ap.add_argument("values", nargs="?", default="-")
    a = ap.parse_args()
    if not os.access(a.helm, os.X_OK):
        print(f"{a.helm}: no helm here; run scripts/install-deps.sh "
              "(scripts/helm-tools.sh)", file=sys.stderr)
        return 1
    try:
        CHECKS[a.check](a)
    except CheckFailed as e:
        print(f"FAILED {a.check}: {e}", file=sys.stderr)
        return 1
    print(f"ok {a.check}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
