"""Policy of the pods a chart renders: what every container of utpost must
have, checked on the manifests (`helm template` output).

  - runs as a non-root user (runAsNonRoot true, no runAsUser 0), on the
    container or inherited from the pod
  - a read-only root filesystem; no privilege escalation
  - every capability dropped (drop ALL) and none added
  - seccomp profile RuntimeDefault (the container's or the pod's)
  - gRPC liveness and readiness probes on the container's health port, the
    services "liveness" and "readiness"
  - CPU and memory requests and limits

  python3 policy_check.py MANIFESTS.yaml   # exit 1 and one line per violation

The chart's tests (chart_check.py) run it on the default and production
values, which must pass, and on tests/helm/broken-values.yaml, which must
fail with each rule's message.
"""

import sys

import yaml

POD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}


def pod_spec(obj):
    """The pod spec of a workload object, or None for other kinds."""
    kind = obj.get("kind")
    if kind == "Pod":
        return obj.get("spec") or {}
    if kind == "CronJob":
        return (((obj.get("spec") or {}).get("jobTemplate") or {}).get(
            "spec", {}).get("template") or {}).get("spec") or {}
    if kind in POD_KINDS:
        return ((obj.get("spec") or {}).get("template") or {}).get(
            "spec") or {}
    return None


def effective(container_sc, pod_sc, key):
    """A securityContext setting: the container's, else the pod's."""
    if key in container_sc and container_sc[key] is not None:
        return container_sc[key]
    return pod_sc.get(key)


def health_port(container):
    for port in container.get("ports") or []:
        if port.get("name") == "health":
            return port.get("containerPort")
    return None


def check_probe(container, field, service, where):
    probe = container.get(field)
    if not probe:
        return [f"{where}: no {field}"]
    grpc = probe.get("grpc")
    if not grpc:
        return [f"{where}: {field} is not a grpc probe"]
    problems = []
    port = health_port(container)
    if port is None:
        problems.append(f"{where}: no container port named health")
    elif grpc.get("port") != port:
        problems.append(f"{where}: {field} on port {grpc.get('port')}, "
                        f"not the health port {port}")
    if grpc.get("service") != service:
        problems.append(f"{where}: {field} asks for service "
                        f"{grpc.get('service')!r}, not {service!r}")
    return problems


def check_container(container, pod_sc, where):
    sc = container.get("securityContext") or {}
    problems = []
    if effective(sc, pod_sc, "runAsNonRoot") is not True:
        problems.append(f"{where}: runAsNonRoot is not true")
    if effective(sc, pod_sc, "runAsUser") == 0:
        problems.append(f"{where}: runs as user 0 (root)")
    if sc.get("readOnlyRootFilesystem") is not True:
        problems.append(f"{where}: readOnlyRootFilesystem is not true")
    if sc.get("allowPrivilegeEscalation") is not False:
        problems.append(f"{where}: allowPrivilegeEscalation is not false")
    if sc.get("privileged"):
        problems.append(f"{where}: privileged")
    caps = sc.get("capabilities") or {}
    if "ALL" not in (caps.get("drop") or []):
        problems.append(f"{where}: capabilities do not drop ALL")
    if caps.get("add"):
        problems.append(f"{where}: capabilities added: "
                        f"{', '.join(caps['add'])}")
    seccomp = effective(sc, pod_sc, "seccompProfile") or {}
    if seccomp.get("type") != "RuntimeDefault":
        problems.append(f"{where}: seccompProfile is not RuntimeDefault")
    problems += check_probe(container, "livenessProbe", "liveness", where)
    problems += check_probe(container, "readinessProbe", "readiness", where)
    resources = container.get("resources") or {}
    for kind in ("requests", "limits"):
        for resource in ("cpu", "memory"):
            if not (resources.get(kind) or {}).get(resource):
                problems.append(f"{where}: no {resource} {kind[:-1]}")
    return problems


def check(objects):
    """Violations in the objects, one line each; [] if none. Also fails when
    there is no pod at all (a policy that checks nothing passes nothing)."""
    problems = []
    pods = 0
    for obj in objects:
        if not obj:
            continue
        spec = pod_spec(obj)
        if spec is None:
            continue
        pods += 1
        name = f"{obj['kind']}/{obj['metadata']['name']}"
        pod_sc = spec.get("securityContext") or {}
        if spec.get("hostNetwork") or spec.get("hostPID") or spec.get(
                "hostIPC"):
            problems.append(f"{name}: shares a host namespace")
        for c in (spec.get("initContainers") or []) + (spec.get("containers")
                                                       or []):
            where = f"{name} container {c.get('name')}"
            problems += check_container(c, pod_sc, where)
    if pods == 0:
        problems.append("no pod in the manifests")
    return problems


def main(argv):
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1]) as f:
        objects = list(yaml.safe_load_all(f))
    problems = check(objects)
    for p in problems:
        print(p)
    if problems:
        print(f"policy: {len(problems)} violation(s)")
        return 1
    print("policy: every pod passes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
