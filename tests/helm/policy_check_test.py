"""Unit tests of policy_check.py on hand-made pods: a compliant one passes,
each weakening is named, container settings win over the pod's."""

import copy
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import policy_check  # noqa: E402

GOOD = {
    "kind": "Deployment",
    "metadata": {"name": "d"},
    "spec": {"template": {"spec": {
        "securityContext": {"runAsNonRoot": True, "runAsUser": 10001,
                            "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [{
            "name": "c",
            "ports": [{"name": "health", "containerPort": 8081}],
            "securityContext": {"readOnlyRootFilesystem": True,
                                "allowPrivilegeEscalation": False,
                                "capabilities": {"drop": ["ALL"]}},
            "livenessProbe": {"grpc": {"port": 8081, "service": "liveness"}},
            "readinessProbe": {"grpc": {"port": 8081,
                                        "service": "readiness"}},
            "resources": {"requests": {"cpu": "1", "memory": "1Gi"},
                          "limits": {"cpu": "1", "memory": "1Gi"}},
        }],
    }}},
}


def variant(change):
    obj = copy.deepcopy(GOOD)
    spec = obj["spec"]["template"]["spec"]
    change(spec, spec["containers"][0])
    return policy_check.check([obj])


class PolicyCheckTest(unittest.TestCase):
    def test_compliant_pod_passes(self):
        self.assertEqual(policy_check.check([GOOD]), [])

    def test_no_pod_is_a_failure(self):
        self.assertEqual(policy_check.check([{"kind": "Service"}]),
                         ["no pod in the manifests"])

    def test_container_setting_wins_over_the_pod(self):
        def root(spec, c):
            c["securityContext"]["runAsNonRoot"] = False
        self.assertIn("Deployment/d container c: runAsNonRoot is not true",
                      variant(root))

    def test_each_rule_is_named(self):
        cases = {
            "readOnlyRootFilesystem is not true":
                lambda s, c: c["securityContext"].pop(
                    "readOnlyRootFilesystem"),
            "capabilities do not drop ALL":
                lambda s, c: c["securityContext"]["capabilities"].update(
                    drop=["NET_RAW"]),
            "seccompProfile is not RuntimeDefault":
                lambda s, c: s["securityContext"].update(
                    seccompProfile={"type": "Unconfined"}),
            "livenessProbe on port 8080, not the health port 8081":
                lambda s, c: c["livenessProbe"]["grpc"].update(port=8080),
            "readinessProbe is not a grpc probe":
                lambda s, c: c.update(readinessProbe={"tcpSocket": {
                    "port": 8081}}),
            "no memory limit":
                lambda s, c: c["resources"]["limits"].pop("memory"),
            "runs as user 0 (root)":
                lambda s, c: s["securityContext"].update(runAsUser=0),
        }
        for message, change in cases.items():
            with self.subTest(message):
                self.assertEqual(variant(change),
                                 [f"Deployment/d container c: {message}"])


if __name__ == "__main__":
    unittest.main()
