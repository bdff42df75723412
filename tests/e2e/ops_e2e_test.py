"""utpostctl as an operator on call would use it, against a running stack:
pause the print channel and see letters wait, resume and see them go out;
make the print provider fail until letters park, find them, re-drive them
after recovery, and check every letter reached the provider exactly once.
Also: a tenant certificate is refused by every OpsService method."""

import json
import os
import subprocess
import time
import unittest

import grpc

from harness import (BERGEN, BUILD, CERTS, CTL, OSLO, ROOT, Letter, Process,
                     Stack, at_or_past, load_persons, make_pdf, ops_pb2,
                     ops_pb2_grpc, submit_request, write)


class OpsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # Short retries, few attempts: a failing provider parks letters in
        # seconds.
        cls.stack = Stack(retry_delays=(1,), max_attempts=3)
        cls.persons = load_persons()

    @classmethod
    def tearDownClass(cls):
        cls.stack.close()

    # --- helpers ---------------------------------------------------------
    def ctl(self, *args, operator=True, tenant=BERGEN, check=None):
        argv = [CTL, "--server", f"127.0.0.1:{self.stack.api_port}"]
        if operator:
            argv += ["--cert", f"{CERTS}/operator.pem",
                     "--key", f"{CERTS}/operator.key"]
        else:
            argv += ["--cert", f"{CERTS}/tenant-{tenant}.pem",
                     "--key", f"{CERTS}/tenant-{tenant}.key"]
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("UTPOST_")}
        env["HOME"] = self.stack.work  # No personal config file.
        r = subprocess.run(argv + list(args), cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=60)
        if check is not None:
            self.assertEqual(r.returncode, check,
                             f"{args}: {r.stdout}\n{r.stderr}")
        return r

    def ctl_json(self, *args, **kw):
        r = self.ctl(*args, "--json", check=0, **kw)
        return json.loads(r.stdout)

    def status(self):
        return self.ctl_json("status")

    def parked_queue_depth(self):
        return next(int(q.get("messages", 0)) for q in self.status()["queues"]
                    if q["queue"].endswith(".parked"))

    def poll(self, what, fn, timeout=60):
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            last = fn()
            if last:
                return last
            time.sleep(0.5)
        self.fail(f"timed out waiting for {what}; last: {last}")

    def states(self, ids):
        """id -> (state, reason) of the given letters, through `letters`."""
        listed = self.ctl_json("letters", "--page-size", "1000")
        return {l["letter"]["id"]: (l["letter"]["state"],
                                    l["letter"].get("reason", ""))
                for l in listed.get("letters", [])
                if l["letter"]["id"] in ids}

    def wait_states(self, ids, states, timeout=60):
        """Waits until every letter is in `states` (a name or several);
        returns id -> (state, reason)."""
        states = (states,) if isinstance(states, str) else tuple(states)
        return self.poll(
            f"{len(ids)} letters in {states}",
            lambda: (lambda s: s if len(s) == len(ids) and all(
                v[0] in states for v in s.values()) else None)(
                self.states(ids)), timeout)

    def print_letters_file(self, label, n):
        """A JSON Lines batch of `n` letters for reserved persons (print)."""
        d = os.path.join(self.stack.work, label)
        os.makedirs(d, exist_ok=True)
        write(os.path.join(d, "brev.pdf"), make_pdf(label))
        reserved = self.persons["reserved"]
        lines = []
        for i in range(n):
            lines.append(json.dumps({
                "client_reference": f"{label}-{i}-{time.time_ns()}",
                "title": f"Vedtak {label} {i}",
                "recipient": {
                    "person": reserved[i % len(reserved)],
                    "postal_address": {
                        "name": "Reidun Reservert",
                        "address_lines": ["Storgata 1"],
                        "postal_code": "5003", "city": "Bergen"}},
                "files": ["brev.pdf"]}))
        path = os.path.join(d, "letters.jsonl")
        write(path, "\n".join(lines) + "\n")
        return path

    def submit_batch_file(self, path, n, tenant=BERGEN):
        r = self.ctl("submit", "--batch", path, "--json", operator=False,
                     tenant=tenant, check=0)
        lines = [json.loads(l) for l in r.stdout.splitlines()]
        self.assertEqual(lines[-1]["submitted"], n, r.stdout)
        self.assertEqual(lines[-1]["failed"], 0, r.stdout)
        return [l["letter"]["id"] for l in lines[:-1]]

    def queue(self, status, name):
        for q in status.get("queues", []):
            if q["queue"] == name:
                return (int(q.get("messages", 0)), int(q.get("consumers", 0)))
        self.fail(f"no queue {name} in {status.get('queues')}")

    # --- the operator's day ------------------------------------------------
    def test_pause_resume_park_and_redrive(self):
        # The workers consume print first: their consumers attach once the
        # broker topology is declared, which can come after the stack is up,
        # so "no consumers" below must follow "consumers".
        self.poll("print consumers to start",
                  lambda: self.queue(self.status(),
                                     "utpost.deliver.print")[1] > 0)
        # Pause print: every worker lets go of the print delivery queue.
        r = self.ctl("pause", "print", check=0)
        # Whatever fails below, the class's other tests find print
        # delivering and the provider well.
        self.addCleanup(self.ctl, "resume", "print")
        self.assertIn("channel print paused", r.stdout)
        self.poll("print consumers to stop",
                  lambda: self.queue(self.status(),
                                     "utpost.deliver.print")[1] == 0)

        # Letters that need print wait, routed, in the queue.
        batch = self.print_letters_file("paused", 3)
        human = self.ctl("submit", "--batch", batch, operator=False, check=0)
        self.assertIn("3 submitted, 0 already submitted, 0 refused\n",
                      human.stdout)
        # stderr is no terminal here: one closing line, no progress frames
        # (cli_e2e_test shows the frames on a terminal).
        self.assertRegex(human.stderr, r"^submitted 3/3 in [0-9.]+ s\n$")
        with open(batch) as f:
            refs = [json.loads(l)["client_reference"] for l in f]
        ids = []
        for ref in refs:
            listed = self.ctl_json("letters", "--client-reference", ref)
            self.assertEqual(len(listed["letters"]), 1, listed)
            self.assertEqual(listed["letters"][0]["tenant"], BERGEN)
            ids.append(listed["letters"][0]["letter"]["id"])
        self.wait_states(ids, "ROUTED")

        # An Oslo letter waits too; the operator may cancel it, across
        # tenants.
        oslo_ids = self.submit_batch_file(
            self.print_letters_file("oslo", 1), 1, tenant=OSLO)
        self.wait_states(oslo_ids, "ROUTED")
        r = self.ctl("cancel", oslo_ids[0], check=0)
        self.assertIn(f"cancelled {oslo_ids[0]} (tenant {OSLO})", r.stdout)
        letter = self.ctl_json("letter", oslo_ids[0])
        self.assertEqual(letter["letter"]["state"], "CANCELLED")
        self.assertEqual(letter["letter"]["timeline"][-1]["reason"],
                         "cancelled by operator operator")

        time.sleep(3)  # Long enough for a worker that should not deliver.
        status = self.status()
        self.assertEqual([p["channel"] for p in status["paused_channels"]],
                         ["print"])
        self.assertEqual(status["paused_channels"][0]["paused_by"],
                         "operator")
        # A batch from utpostctl travels the bulk lane; a pause holds both.
        ready, consumers = self.queue(status, "utpost.deliver.print")
        bulk_ready, bulk_consumers = self.queue(status,
                                                "utpost.bulk.deliver.print")
        self.assertGreaterEqual(ready + bulk_ready, 3, status["queues"])
        self.assertEqual((consumers, bulk_consumers), (0, 0))
        waiting = {w["state"]: w for w in status["waiting"]}
        self.assertGreaterEqual(int(waiting["ROUTED"]["count"]), 3)
        self.assertGreater(waiting["ROUTED"]["oldest_age_seconds"], 2)
        self.assertEqual(set(self.states(ids).values()),
                         {("ROUTED", "reserved against digital post")})
        routed = self.ctl("letters", "--state", "ROUTED", "--channel",
                          "print", check=0)
        for i in ids:
            self.assertIn(i, routed.stdout)
        dashboard = self.ctl("status", check=0)
        self.assertIn("PAUSED", dashboard.stdout)
        self.assertIn("print (by operator", dashboard.stdout)
        self.assertRegex(dashboard.stdout,
                         r"utpost\.deliver\.print\s+\d+\s+0\n")
        delivered = self.stack.deliveries()["print"]
        self.assertFalse(set(ids) & set(delivered), delivered)

        # Resume: they go out.
        r = self.ctl("resume", "print", check=0)
        self.assertIn("channel print delivering", r.stdout)
        # The print provider posts them 2 s after it took them: PRINTED.
        self.wait_states(ids, at_or_past("SENT_PRINT"))
        self.assertEqual(self.status()["paused_channels"]
                         if "paused_channels" in self.status() else [], [])

        # The print provider fails: letters are retried, then parked.
        self.stack.sim_call("POST", "/sim/v1/faults",
                            {"endpoint": "print", "status": 503,
                             "count": -1})
        self.addCleanup(self.stack.clear_faults)
        failing = self.submit_batch_file(self.print_letters_file("fail", 2),
                                         2)
        parked = self.wait_states(failing, "PARKED")
        for state, reason in parked.values():
            self.assertIn("deliver.print failed 3 times", reason)
        table = self.ctl("letters", "--state", "PARKED", check=0)
        for i in failing:
            self.assertIn(i, table.stdout)
        self.assertIn("deliver.print failed 3 times", table.stdout)
        timeline = self.ctl_json("letter", failing[0])
        attempts = timeline["failed_attempts"]
        self.assertEqual([a["attempt"] for a in attempts], [1, 2, 3])
        self.assertTrue(all(a["stage"] == "deliver.print" for a in attempts))
        self.assertTrue(attempts[-1].get("parked", False))
        self.assertIn("503", attempts[0]["error"])
        human = self.ctl("letter", failing[0], check=0)
        self.assertIn("failed attempts", human.stdout)
        self.assertIn("(parked)", human.stdout)
        # The provider figures show the failures (flushed every 5 s).
        self.poll("print errors in the provider figures", lambda: any(
            p["channel"] == "print" and int(p.get("errors", 0)) >= 6
            for p in self.status()["providers"]), timeout=30)
        self.assertEqual(int(self.status()["parked"]), 2)
        # A copy of each parked work item waits in the parked queue, for
        # the broker's own tools.
        self.poll("two copies in the parked queue",
                  lambda: self.parked_queue_depth() == 2)

        # After recovery, one command sends them back.
        self.stack.sim_call("DELETE", "/sim/v1/faults")
        r = self.ctl("redrive", "--all", "--yes", check=0)
        self.assertIn("redriven 2 letters", r.stdout)
        # ...and their copies leave the parked queue.
        self.assertEqual(self.parked_queue_depth(), 0)
        self.wait_states(failing, at_or_past("SENT_PRINT"))
        timeline = self.ctl_json("letter", failing[0])
        self.assertIn({"state": "ROUTED", "reason":
                       "redriven by operator operator"},
                      [{"state": e["state"], "reason": e.get("reason")}
                       for e in timeline["letter"]["timeline"]])
        again = self.ctl("redrive", "--all", "--yes", check=0)
        self.assertIn("redriven 0 letters", again.stdout)

        # Every letter reached the print provider exactly once.
        delivered = self.stack.deliveries()["print"]
        for i in ids + failing:
            self.assertEqual(delivered.get(i),
                             {"accepted": 1, "duplicates": 0}, i)
        self.assertNotIn(oslo_ids[0], delivered)

    # --- refusals and usage ----------------------------------------------
    def test_tenant_certificate_is_refused_by_every_ops_method(self):
        stub = ops_pb2_grpc.OpsServiceStub(self.stack.channel())
        calls = [
            (stub.GetStatus, ops_pb2.GetStatusRequest()),
            (stub.ListLetters, ops_pb2.OpsListLettersRequest()),
            (stub.GetLetter, ops_pb2.OpsGetLetterRequest(
                name="00000000-0000-4000-8000-000000000000")),
            (stub.RedriveLetters, ops_pb2.RedriveLettersRequest(all=True)),
            (stub.PauseChannel, ops_pb2.PauseChannelRequest(channel="print")),
            (stub.ResumeChannel,
             ops_pb2.ResumeChannelRequest(channel="print")),
            (stub.CancelLetter, ops_pb2.OpsCancelLetterRequest(
                name="00000000-0000-4000-8000-000000000000")),
        ]
        self.assertEqual(
            len(calls),
            len(ops_pb2.DESCRIPTOR.services_by_name["OpsService"].methods))
        for call, req in calls:
            with self.assertRaises(grpc.RpcError) as e:
                call(req, timeout=10)
            self.assertEqual(e.exception.code(),
                             grpc.StatusCode.PERMISSION_DENIED,
                             type(req).__name__)
        # And through utpostctl: refused by the server, exit code 1.
        for args in (["status"], ["letters"], ["pause", "print"],
                     ["redrive", "--all", "--yes"]):
            r = self.ctl(*args, operator=False)
            self.assertEqual(r.returncode, 1, (args, r.stderr))
            self.assertIn("PERMISSION_DENIED", r.stderr)
        self.assertEqual(self.status()["paused_channels"]
                         if "paused_channels" in self.status() else [], [])

    def test_errors_name_the_field_and_exit_codes_hold(self):
        # Bad values are caught before any call: exit 2 (utpostctl usage).
        r = self.ctl("letters", "--tenant", "12")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("--tenant: \"12\" is not an organisation number",
                      r.stderr)
        r = self.ctl("pause", "fax")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("channel: unknown channel", r.stderr)
        r = self.ctl("letter", "00000000-0000-4000-8000-000000000000")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("NOT_FOUND", r.stderr)
        r = self.ctl("redrive", "00000000-0000-4000-8000-000000000000")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("NOT_FOUND", r.stderr)
        # Usage errors are caught before any call.
        self.assertEqual(self.ctl("letters", "--older-than", "ten").returncode,
                         2)
        self.assertEqual(self.ctl("redrive").returncode, 2)
        self.assertEqual(self.ctl("redrive", "--all", "--tenant",
                                  BERGEN).returncode, 2)
        self.assertEqual(self.ctl("status", "--watch", "x").returncode, 2)
        # Ages filter: nothing is older than a day here.
        old = self.ctl_json("letters", "--older-than", "1d")
        self.assertEqual(old.get("letters", []), [])

    def test_help_has_examples_for_every_operator_command(self):
        for command in ["status", "letters", "letter", "redrive", "pause",
                        "resume", "cancel", "submit"]:
            h = self.ctl(command, "--help", check=0)
            self.assertRegex(h.stdout, rf"utpostctl .*{command}",
                             f"{command} --help has no example")
        self.assertIn("--watch", self.ctl("status", "--help").stdout)
        self.assertIn("--older-than", self.ctl("letters", "--help").stdout)

    def test_batch_from_a_yaml_list_summarises_failures(self):
        d = os.path.join(self.stack.work, "yaml-batch")
        os.makedirs(d, exist_ok=True)
        write(os.path.join(d, "brev.pdf"), make_pdf("yaml"))
        ref = f"yaml-{time.time_ns()}"
        mailbox = self.persons["mailbox"][0]
        path = os.path.join(d, "letters.yaml")
        write(path, f"""- client_reference: {ref}-1
  title: Vedtak 1
  recipient: {{person: "{mailbox}"}}
  files: [brev.pdf]
- client_reference: {ref}-2
  titel: typo
  files: [brev.pdf]
- client_reference: {ref}-3
  title: Vedtak 3
  recipient: {{person: "{mailbox}"}}
  files: [brev.pdf]
""")
        r = self.ctl("submit", "--batch", path, operator=False)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("2 submitted, 0 already submitted, 0 refused, 1 invalid",
                      r.stdout)
        self.assertIn(f"{path}#2", r.stdout)
        self.assertIn("titel", r.stdout)
        self.assertIn("submitted 3/3", r.stderr)
        for n in (1, 3):
            listed = self.ctl_json("letters", "--client-reference",
                                   f"{ref}-{n}", "--newer-than", "10m")
            self.assertEqual(len(listed["letters"]), 1, listed)

    def test_connection_settings_from_a_config_file(self):
        path = os.path.join(self.stack.work, "utpostctl.yaml")
        write(path, f"server: 127.0.0.1:{self.stack.api_port}\n"
                    f"ca: {CERTS}/ca.pem\n"
                    f"cert: {CERTS}/operator.pem\n"
                    f"key: {CERTS}/operator.key\n"
                    "timeout: 20\n")
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("UTPOST_")}
        env["HOME"] = self.stack.work
        run = lambda *a, e=env: subprocess.run(  # noqa: E731
            [CTL] + list(a), cwd=ROOT, env=e, capture_output=True,
            text=True, timeout=60)
        r = run("--config", path, "status", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("certificates", json.loads(r.stdout))
        # The default file is read when present.
        os.makedirs(os.path.join(self.stack.work, ".config", "utpost"),
                    exist_ok=True)
        write(os.path.join(self.stack.work, ".config", "utpost",
                           "utpostctl.yaml"), f"server: 127.0.0.1:"
              f"{self.stack.api_port}\nca: {CERTS}/ca.pem\n"
              f"cert: {CERTS}/operator.pem\nkey: {CERTS}/operator.key\n")
        self.assertEqual(run("status").returncode, 0)
        # The environment wins over the file, flags over both.
        tenant = dict(env, UTPOST_CERT=f"{CERTS}/tenant-{BERGEN}.pem",
                      UTPOST_KEY=f"{CERTS}/tenant-{BERGEN}.key")
        self.assertEqual(run("status", e=tenant).returncode, 1)
        self.assertEqual(run("--cert", f"{CERTS}/operator.pem", "--key",
                             f"{CERTS}/operator.key", "status",
                             e=tenant).returncode, 0)
        bad = os.path.join(self.stack.work, "bad.yaml")
        write(bad, "servr: x\n")
        r = run("--config", bad, "status")
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown setting \"servr\"", r.stderr)



class SplitRolesTest(unittest.TestCase):
    """The api and the worker as separate processes sharing the store: the
    worker obeys a pause given to the api, and the api shows the worker's
    provider figures."""

    def test_pause_and_provider_figures_cross_processes(self):
        with Stack(role="api") as stack:
            worker = Process(
                "utpostd-worker",
                [os.path.join(BUILD, "gateway", "utpostd"), "--config",
                 stack.second_process_config(), "--role", "worker"],
                stack.work, r"utpostd ready")
            try:
                self.run_scenario(stack)
            finally:
                worker.stop()

    def run_scenario(self, stack):
        ops = stack.ops()
        letters = stack.letters()

        def wait(what, fn, timeout=60):
            deadline = time.time() + timeout
            while time.time() < deadline:
                got = fn()
                if got:
                    return got
                time.sleep(0.5)
            self.fail(f"timed out waiting for {what}")

        def state(letter_id):
            return ops.GetLetter(ops_pb2.OpsGetLetterRequest(
                name=letter_id)).letter.state

        def print_queue():
            for q in ops.GetStatus(ops_pb2.GetStatusRequest()).queues:
                if q.queue == "utpost.deliver.print":
                    return q
            return None

        wait("the worker to consume print",
             lambda: (print_queue() or ops_pb2.Status.QueueDepth()).consumers
             > 0)
        ops.PauseChannel(ops_pb2.PauseChannelRequest(channel="print"))
        wait("the worker to let go of print",
             lambda: print_queue() is not None
             and print_queue().consumers == 0)
        reserved = load_persons()["reserved"][0]
        sent = letters.SubmitLetter(submit_request(person=reserved))
        wait("the letter to be routed",
             lambda: state(sent.letter.id) == Letter.ROUTED)
        time.sleep(3)
        self.assertEqual(state(sent.letter.id), Letter.ROUTED)
        ops.ResumeChannel(ops_pb2.ResumeChannelRequest(channel="print"))
        wait("the letter to be sent to print",
             lambda: state(sent.letter.id) in (Letter.SENT_PRINT,
                                               Letter.PRINTED))

        def print_figures():
            for p in ops.GetStatus(ops_pb2.GetStatusRequest()).providers:
                if p.channel == "print" and p.sends >= 1:
                    return p
            return None
        figures = wait("the worker's figures in the api's status",
                       print_figures, timeout=30)
        self.assertEqual(figures.errors, 0)
        self.assertGreater(figures.mean_latency_ms, 0)

if __name__ == "__main__":
    unittest.main()
