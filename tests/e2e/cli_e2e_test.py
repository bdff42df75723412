"""utpostctl against a running stack, as an integrator and an operator
would use it: submit from a letter file, get, list, receipts, status, and
exit codes that scripts can rely on."""

import json
import os
import queue
import re
import subprocess
import threading
import time
import unittest

from harness import (BUILD, CERTS, ROOT, Stack, make_pdf,
                     verify_jws_with_openssl, write)

CTL = os.path.join(BUILD, "cli", "utpostctl")


class CliTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = Stack()

    @classmethod
    def tearDownClass(cls):
        cls.stack.close()

    def ctl(self, *args, operator=False, env=None):
        argv = [CTL, "--server", f"127.0.0.1:{self.stack.api_port}"]
        if operator:
            argv += ["--cert", f"{CERTS}/operator.pem",
                     "--key", f"{CERTS}/operator.key"]
        return subprocess.run(argv + list(args), cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=60)

    def letter_file(self, directory, name, ref):
        """A valid letter file `name` in `directory`, with its PDF."""
        os.makedirs(directory, exist_ok=True)
        write(os.path.join(directory, ref + ".pdf"), make_pdf(ref))
        path = os.path.join(directory, name)
        write(path, f"""client_reference: {ref}
title: Vedtak {ref}
recipient:
  person: "01817010055"
  postal_address:
    name: Kari Testesen
    address_lines: [Storgata 1]
    postal_code: "5003"
    city: Bergen
delivery_policy:
  mode: DIGITAL_THEN_PRINT
files: [{ref}.pdf]
""")
        return path

    def submit_new(self, label):
        """Submits a fresh letter; returns its id."""
        ref = f"{label}-{time.time_ns()}"
        path = self.letter_file(os.path.join(self.stack.work, ref),
                                "letter.yaml", ref)
        r = self.ctl("submit", path, "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)["letter"]["id"]

    def test_submit_get_receipts_and_status(self):
        r = self.ctl("submit", "examples/letter.yaml", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        submitted = json.loads(r.stdout)
        self.assertTrue(submitted["created"])
        letter_id = submitted["letter"]["id"]

        again = self.ctl("submit", "examples/letter.yaml")
        self.assertEqual(again.returncode, 0, again.stderr)
        self.assertIn(f"already submitted {letter_id}", again.stdout)

        self.stack.wait_final(self.stack.letters(), [letter_id])
        got = self.ctl("get", letter_id, "--json")
        self.assertEqual(got.returncode, 0, got.stderr)
        letter = json.loads(got.stdout)
        self.assertEqual(letter["state"], "DELIVERED")
        self.assertEqual(letter["recipient"]["person"], "018170*****")
        self.assertEqual(
            [e["state"] for e in letter["timeline"]],
            ["RECEIVED", "QUEUED", "ROUTED", "SENT_DIGITAL", "DELIVERED"])

        human = self.ctl("get", letter_id)
        self.assertIn("DELIVERED", human.stdout)
        self.assertIn("vedtak.pdf", human.stdout)

        receipts = self.ctl("receipts", letter_id, "--json")
        self.assertEqual(receipts.returncode, 0, receipts.stderr)
        jws = [r["jws"] for r in json.loads(receipts.stdout)["receipts"]]
        self.assertEqual(len(jws), 5)
        for j in jws:
            verify_jws_with_openssl(j)

        listed = self.ctl("list", "--state", "DELIVERED")
        self.assertIn(letter_id, listed.stdout)

        status = self.ctl("status", "--json", operator=True)
        self.assertEqual(status.returncode, 0, status.stderr)
        counts = {c["state"]: int(c["count"])
                  for c in json.loads(status.stdout)["letters"]}
        self.assertGreaterEqual(counts.get("DELIVERED", 0), 1)
        queues = [q["queue"] for q in json.loads(status.stdout)["queues"]]
        self.assertIn("utpost.route", queues)

    def test_exit_codes(self):
        # Refused by the server: a tenant asking for the operators' status.
        self.assertEqual(self.ctl("status").returncode, 1)
        # Bad input: an unreadable letter file.
        self.assertEqual(self.ctl("submit", "no-such-file.yaml").returncode, 2)
        # Unknown letter.
        missing = self.ctl("get", "00000000-0000-4000-8000-000000000000")
        self.assertEqual(missing.returncode, 1)
        self.assertIn("NOT_FOUND", missing.stderr)
        # Nobody listening.
        r = subprocess.run([CTL, "--server", "127.0.0.1:1", "--timeout", "3",
                            "list"], cwd=ROOT, capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(r.returncode, 3, r.stderr)

    def test_bad_letter_file_names_the_field(self):
        path = os.path.join(self.stack.work, "bad.yaml")
        with open(path, "w") as f:
            f.write("titel: typo\n")
        r = self.ctl("submit", path)
        self.assertEqual(r.returncode, 2)
        self.assertIn("titel", r.stderr)

    def test_usage_errors_exit_2_and_help_exits_0(self):
        unknown = self.ctl("list", "--no-such-option")
        self.assertEqual(unknown.returncode, 2, unknown.stderr)
        self.assertIn("--no-such-option", unknown.stderr)
        self.assertIn("Run with --help for more information.", unknown.stderr)

        no_id = self.ctl("get")
        self.assertEqual(no_id.returncode, 2, no_id.stderr)
        self.assertIn("id is required", no_id.stderr)
        self.assertIn("Run with --help for more information.", no_id.stderr)

        self.assertEqual(self.ctl().returncode, 2)  # No command.

        top = self.ctl("--help")
        self.assertEqual(top.returncode, 0, top.stderr)
        self.assertIn("Exit codes", top.stdout)
        for command in ["submit", "get", "list", "watch", "cancel",
                        "receipts", "status"]:
            h = self.ctl(command, "--help")
            self.assertEqual(h.returncode, 0, h.stderr)
            self.assertRegex(h.stdout, rf"utpostctl .*{command}",
                             f"{command} --help has no example")
        self.assertIn("--page-token", self.ctl("list", "--help").stdout)
        self.assertIn("--cursor", self.ctl("watch", "--help").stdout)

    def test_list_pages_with_page_token(self):
        first_id = self.submit_new("page")
        second_id = self.submit_new("page")

        page1 = self.ctl("list", "--page-size", "1")
        self.assertEqual(page1.returncode, 0, page1.stderr)
        m = re.search(r"\(more: --page-token (\S+)\)", page1.stdout)
        self.assertIsNotNone(m, page1.stdout)
        self.assertIn(second_id, page1.stdout)  # Newest first.

        page2 = self.ctl("list", "--page-size", "1", "--page-token",
                         m.group(1), "--json")
        self.assertEqual(page2.returncode, 0, page2.stderr)
        letters = json.loads(page2.stdout)["letters"]
        self.assertEqual([l["id"] for l in letters], [first_id])

        bad = self.ctl("list", "--page-token", "not-a-token")
        self.assertEqual(bad.returncode, 1, bad.stderr)
        self.assertIn("INVALID_ARGUMENT", bad.stderr)

    def test_batch_json_reports_each_failure(self):
        ref = f"batch-{time.time_ns()}"
        batch = os.path.join(self.stack.work, ref)
        self.letter_file(batch, "a-good.yaml", ref)
        bad = os.path.join(batch, "b-bad.yaml")
        write(bad, "titel: typo\n")

        r = self.ctl("submit", "--batch", batch, "--json")
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        lines = [json.loads(line) for line in r.stdout.splitlines()]
        self.assertEqual(len(lines), 3, r.stdout)
        self.assertEqual(lines[-1], {"submitted": 1, "failed": 1})
        submitted = [l for l in lines[:-1] if "letter" in l]
        failed = [l for l in lines[:-1] if "error" in l]
        self.assertEqual(len(submitted), 1, r.stdout)
        self.assertEqual(submitted[0]["letter"]["client_reference"], ref)
        self.assertEqual(len(failed), 1, r.stdout)
        self.assertEqual(failed[0]["file"], bad)
        self.assertEqual(failed[0]["code"], 2)
        self.assertIn("titel", failed[0]["error"])

        # The human output is unchanged: progress on stderr, summary on stdout.
        human = self.ctl("submit", "--batch", batch)
        self.assertEqual(human.returncode, 2)
        self.assertIn("1 submitted, 1 failed", human.stdout)
        self.assertIn("b-bad.yaml", human.stdout)
        self.assertIn("submitted 2/2", human.stderr)

    def test_cert_and_key_go_together(self):
        env = {k: v for k, v in os.environ.items()
               if k not in ("UTPOST_CERT", "UTPOST_KEY")}
        r = self.ctl("--cert", f"{CERTS}/operator.pem", "status", env=env)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("--key", r.stderr)
        r = self.ctl("--key", f"{CERTS}/operator.key", "status", env=env)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("--cert", r.stderr)
        r = self.ctl("status", env=dict(
            env, UTPOST_CERT=f"{CERTS}/operator.pem"))
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("UTPOST_KEY", r.stderr)
        r = self.ctl("status", env=dict(
            env, UTPOST_KEY=f"{CERTS}/operator.key"))
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("UTPOST_CERT", r.stderr)
        # Both, from the environment: the operator may see the status.
        r = self.ctl("status", env=dict(
            env, UTPOST_CERT=f"{CERTS}/operator.pem",
            UTPOST_KEY=f"{CERTS}/operator.key"))
        self.assertEqual(r.returncode, 0, r.stderr)

    def watch_until(self, letter_id, *args):
        """Runs `watch` until the DELIVERED event of `letter_id`; returns the
        lines as (cursor, line)."""
        proc = subprocess.Popen(
            [CTL, "--server", f"127.0.0.1:{self.stack.api_port}", "watch"]
            + list(args), cwd=ROOT, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        lines = queue.Queue()
        threading.Thread(target=lambda: [lines.put(l) for l in proc.stdout]
                         + [lines.put(None)], daemon=True).start()
        seen = []
        try:
            while True:
                line = lines.get(timeout=60)
                if line is None:
                    self.fail("watch ended: " + proc.stderr.read())
                m = re.match(r"#(\d+)  ", line)
                self.assertIsNotNone(m, f"no cursor at the start of {line!r}")
                seen.append((int(m.group(1)), line))
                if line.split()[2:4] == [letter_id, "DELIVERED"]:
                    return seen
        finally:
            proc.kill()
            proc.wait()
            proc.stdout.close()
            proc.stderr.close()

    def test_watch_shows_cursor_and_resumes(self):
        letter_id = self.submit_new("watch")
        self.stack.wait_final(self.stack.letters(), [letter_id])

        everything = self.watch_until(letter_id)
        cursors = [c for c, _ in everything]
        self.assertEqual(cursors, sorted(cursors))
        ours = [(c, l) for c, l in everything if letter_id in l]
        self.assertEqual(len(ours), 5, ours)
        resume_after = ours[1][0]  # QUEUED
        self.assertIn("QUEUED", ours[1][1])

        resumed = self.watch_until(letter_id, "--cursor", str(resume_after))
        self.assertTrue(all(c > resume_after for c, _ in resumed), resumed)
        self.assertEqual(resumed,
                         [(c, l) for c, l in everything if c > resume_after])
        self.assertEqual([l.split()[3] for _, l in resumed
                          if letter_id in l],
                         ["ROUTED", "SENT_DIGITAL", "DELIVERED"])


if __name__ == "__main__":
    unittest.main()
