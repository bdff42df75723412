"""utpostctl against a running stack, as an integrator and an operator
would use it: submit from a letter file, get, list, receipts, status, and
exit codes that scripts can rely on; then what kubectl users expect:
suggestions for typos, bad values refused before any call (exit 2), a
refused certificate told as such, letters found by an id prefix, fixed
state order, JSON numbers, redrive --dry-run and confirmation, progress
frames only on a terminal, batch summaries and --follow."""

import json
import os
import pty
import queue
import re
import subprocess
import threading
import time
import unittest

from harness import (CERTS, CTL, ROOT, Stack, at_or_past, load_persons,
                     make_pdf, verify_jws_with_openssl, write)


class CliTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # Few, short retries: a failing print provider parks a letter in
        # seconds (the redrive case).
        cls.stack = Stack(retry_delays=(1,), max_attempts=3)
        cls.persons = load_persons()

    @classmethod
    def tearDownClass(cls):
        cls.stack.close()

    def argv(self, *args, operator=False):
        argv = [CTL, "--server", f"127.0.0.1:{self.stack.api_port}"]
        if operator:
            argv += ["--cert", f"{CERTS}/operator.pem",
                     "--key", f"{CERTS}/operator.key"]
        return argv + list(args)

    def ctl(self, *args, operator=False, env=None, timeout=60):
        # stdin is no terminal, as in a script.
        return subprocess.run(self.argv(*args, operator=operator), cwd=ROOT,
                              env=env, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True,
                              timeout=timeout)

    def ctl_on_terminal(self, *args, stream, operator=False, answer=""):
        """Runs utpostctl with `stream` ("stdin" or "stderr") on a
        pseudo-terminal; `answer` is typed into a terminal stdin. Returns
        (exit code, stdout, stderr or what the terminal showed)."""
        master, slave = pty.openpty()
        kw = {"stdout": subprocess.PIPE}
        if stream == "stdin":
            kw.update(stdin=slave, stderr=subprocess.PIPE)
        else:
            kw.update(stdin=subprocess.DEVNULL, stderr=slave)
        proc = subprocess.Popen(self.argv(*args, operator=operator),
                                cwd=ROOT, **kw)
        os.close(slave)
        if answer:
            os.write(master, answer.encode())
        seen = b""
        if stream == "stderr":
            while True:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # The other end closed.
                    break
                if not chunk:
                    break
                seen += chunk
        out, err = proc.communicate(timeout=120)
        os.close(master)
        shown = err if stream == "stdin" else seen
        return proc.returncode, out.decode(), shown.decode(errors="replace")

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
        self.assertEqual(lines[-1], {"submitted": 1, "already_submitted": 0,
                                     "refused": 0, "invalid": 1,
                                     "unreachable": 0, "failed": 1})
        submitted = [l for l in lines[:-1] if "letter" in l]
        failed = [l for l in lines[:-1] if "error" in l]
        self.assertEqual(len(submitted), 1, r.stdout)
        self.assertEqual(submitted[0]["letter"]["client_reference"], ref)
        self.assertEqual(len(failed), 1, r.stdout)
        self.assertEqual(failed[0]["file"], bad)
        self.assertEqual(failed[0]["code"], 2)
        self.assertIn("titel", failed[0]["error"])

        # Human: progress on stderr, summary on stdout; the good letter is
        # now counted apart, as already submitted.
        human = self.ctl("submit", "--batch", batch)
        self.assertEqual(human.returncode, 2)
        self.assertIn("0 submitted, 1 already submitted, 0 refused, 1 invalid",
                      human.stdout)
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

    # --- What kubectl users expect (issue 14, point 4). ---

    def test_unknown_command_or_flag_gets_did_you_mean(self):
        r = self.ctl("satus")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn('unknown command "satus"; did you mean "status"?',
                      r.stderr)
        # A swap is two edits: "stauts" is nearer "stats" (one) than
        # "status" (two).
        r = self.ctl("stauts")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn('unknown command "stauts"; did you mean "stats"?',
                      r.stderr)
        r = self.ctl("letters", "--stat", "PARKED", operator=True)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn('unknown flag "--stat" for "letters"; did you mean '
                      '"--state"?', r.stderr)
        r = self.ctl("list", "--page-sise", "3")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn('did you mean "--page-size"?', r.stderr)
        r = self.ctl("audit", "verfiy", "x.jsonl")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn('did you mean "verify"?', r.stderr)
        r = self.ctl("deploy")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("the commands are submit, upload, get, list", r.stderr)

    def test_bad_values_exit_2_naming_the_valid_ones(self):
        channels = "digital, dpi, altinn, print"
        cases = [
            (["letters", "--channel", "email"], channels),
            (["redrive", "--channel", "email"], channels),
            (["pause", "email"], channels),
            (["letters", "--tenant", "123"], "9 digits"),
            (["redrive", "--tenant", "123"], "9 digits"),
            (["letters", "--page-size", "5000"], "1 to 1000"),
            (["list", "--page-size", "5000"], "1 to 1000"),
            (["list", "--state", "delivred"], "did you mean DELIVERED?"),
            (["letters", "--state", "nope"],
             "RECEIVED, QUEUED, ROUTED, SENT_DIGITAL, DELIVERED"),
            (["get", "0b7"], "at least 4 characters"),
            (["get", "not-an-id!"], "is not a letter id"),
            (["watch", "--cursor", "-5"], "--cursor"),
            (["submit", "--batch", "examples", "--concurrency", "0"],
             "1 to 256"),
        ]
        for args, want in cases:
            r = self.ctl(*args, operator=True)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertIn(want, r.stderr, args)
        # A server refusal stays 1: a page token the server does not know.
        self.assertEqual(self.ctl("list", "--page-token", "x").returncode, 1)

    def test_help_lists_channels_states_and_exit_codes(self):
        top = self.ctl("--help").stdout
        self.assertIn("Channels: digital, dpi, altinn, print.", top)
        self.assertIn("States (any case): RECEIVED, QUEUED, ROUTED", top)
        for code in ("0  ok", "1  the server refused", "2  bad usage",
                     "3  the server unreachable"):
            self.assertIn(code, top)
        letters = self.ctl("letters", "--help").stdout
        self.assertIn("digital, dpi, altinn, print", letters)
        self.assertIn("PARKED (any case)", letters)
        self.assertIn("SENT_PRINT", self.ctl("list", "--help").stdout)
        self.assertIn("altinn", self.ctl("pause", "--help").stdout)
        self.assertIn("--dry-run", self.ctl("redrive", "--help").stdout)
        self.assertIn("--follow", self.ctl("submit", "--help").stdout)

    def test_states_are_case_insensitive(self):
        letter_id = self.submit_new("case")
        self.stack.wait_final(self.stack.letters(), [letter_id])
        r = self.ctl("list", "--state", "delivered", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(letter_id, [l["id"] for l in json.loads(r.stdout)
                                  ["letters"]])
        r = self.ctl("letters", "--state", "Delivered", "--newer-than", "10m",
                     operator=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(letter_id, r.stdout)

    def test_refused_client_certificate_is_told_as_such(self):
        r = self.ctl("--cert", f"{CERTS}/stranger.pem",
                     "--key", f"{CERTS}/stranger.key", "list")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("TLS handshake refused", r.stderr)
        self.assertIn("stranger.pem", r.stderr)
        self.assertIn("signed by the CA utpostd trusts", r.stderr)
        self.assertNotIn("unreachable", r.stderr)
        # The same server answers a proper certificate meanwhile.
        self.assertEqual(self.ctl("list", "--page-size", "1").returncode, 0)
        # In a batch: each letter counted refused, with the reason.
        d = self.batch_dir("stranger", 2)
        r = self.ctl("--cert", f"{CERTS}/stranger.pem",
                     "--key", f"{CERTS}/stranger.key", "submit", "--batch", d)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("0 submitted, 0 already submitted, 2 refused\n",
                      r.stdout)
        self.assertIn("TLS handshake refused", r.stdout)
        # A server certificate our CA did not sign: also a handshake
        # failure, naming --ca.
        r = self.ctl("--ca", f"{CERTS}/other-ca.pem", "list")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("other-ca.pem", r.stderr)

    def test_letter_found_by_a_unique_id_prefix(self):
        letter_id = self.submit_new("prefix")
        self.stack.wait_final(self.stack.letters(), [letter_id])
        got = self.ctl("get", letter_id[:8], "--json")
        self.assertEqual(got.returncode, 0, got.stderr)
        self.assertEqual(json.loads(got.stdout)["id"], letter_id)
        receipts = self.ctl("receipts", letter_id[:10], "--json")
        self.assertEqual(receipts.returncode, 0, receipts.stderr)
        self.assertEqual(len(json.loads(receipts.stdout)["receipts"]), 5)
        op = self.ctl("letter", letter_id[:8].upper(), operator=True)
        self.assertEqual(op.returncode, 0, op.stderr)
        self.assertIn(f"letter     {letter_id}", op.stdout)
        # No letter has this prefix (ids are random): NOT_FOUND, exit 1.
        others = {l["id"] for l in json.loads(
            self.ctl("list", "--page-size", "1000", "--json").stdout)
            ["letters"]}
        prefix = next(p for p in ("0000000", "1111111", "2222222")
                      if not any(i.startswith(p) for i in others))
        r = self.ctl("get", prefix)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(f'no letter id starts with "{prefix}"', r.stderr)

    def test_letters_cuts_references_in_the_middle_and_counts(self):
        ref = f"property-tax-2026-bergen-{time.time_ns()}-000123"
        path = self.letter_file(os.path.join(self.stack.work, "long"),
                                "letter.yaml", ref)
        self.assertEqual(self.ctl("submit", path).returncode, 0)
        r = self.ctl("letters", "--client-reference", ref, operator=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("(1 letter)", r.stdout)
        self.assertNotIn(ref, r.stdout)
        self.assertIn(ref[:9] + "..." + ref[-9:], r.stdout)
        none = self.ctl("letters", "--client-reference", "no-such-ref",
                        operator=True)
        self.assertIn("(0 letters)", none.stdout)

    def test_status_has_one_state_order_and_no_empty_sections(self):
        self.submit_new("status")
        human = self.ctl("status", operator=True)
        self.assertEqual(human.returncode, 0, human.stderr)
        order = ["RECEIVED", "QUEUED", "ROUTED", "SENT_DIGITAL", "DELIVERED",
                 "READ", "SENT_PRINT", "PRINTED", "FAILED", "CANCELLED",
                 "PARKED"]
        lines = human.stdout.splitlines()
        letters = next(l for l in lines if l.startswith("LETTERS"))
        shown = [w for w in letters.split() if w in order]
        self.assertTrue(shown, letters)
        self.assertEqual(shown, sorted(shown, key=order.index), letters)
        # Tenant rows share one column per state, in that order.
        at = next(i for i, l in enumerate(lines) if l.startswith("TENANT"))
        self.assertEqual(lines[at].split()[2:], shown, human.stdout)
        for row in lines[at + 1:]:
            if not row.startswith("         ") or not row.split():
                break
            cells = row.split()
            self.assertTrue(all(c.isdigit() for c in cells[:2 + len(shown)]),
                            row)
            # Then the tenant's name from the configuration.
            self.assertIn(" ".join(cells[2 + len(shown):]),
                          ("Bergen kommune", "Oslo kommune"), row)
        # Nothing is paused here: no PAUSED section.
        self.assertNotIn("PAUSED", human.stdout)

    def test_json_numbers_are_numbers_and_zero_values_present(self):
        status = self.ctl("status", "--json", operator=True)
        self.assertEqual(status.returncode, 0, status.stderr)
        s = json.loads(status.stdout)
        self.assertTrue(all(isinstance(c["count"], int)
                            for c in s["letters"]), s["letters"])
        self.assertIsInstance(s["parked"], int)
        self.assertIsInstance(s["outbox_pending"], int)
        self.assertIn("paused_channels", s)
        self.assertEqual(s["broker_error"], "")
        # A fresh letter, as the submission answers it: nothing has gone
        # wrong, so its reason is empty, and present.
        ref = f"json-{time.time_ns()}"
        path = self.letter_file(os.path.join(self.stack.work, ref),
                                "letter.yaml", ref)
        r = self.ctl("submit", path, "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        letter = json.loads(r.stdout)["letter"]
        self.assertIsInstance(letter["documents"][0]["size_bytes"], int)
        self.assertGreater(letter["documents"][0]["size_bytes"], 0)
        self.assertEqual(letter["reason"], "")

    def print_letter(self, ref):
        """A letter file for a person reserved against digital post."""
        d = os.path.join(self.stack.work, ref)
        os.makedirs(d, exist_ok=True)
        write(os.path.join(d, "brev.pdf"), make_pdf(ref))
        path = os.path.join(d, "letter.yaml")
        write(path, f"""client_reference: {ref}
title: Vedtak {ref}
recipient:
  person: "{self.persons['reserved'][0]}"
  postal_address:
    name: Reidun Reservert
    address_lines: [Storgata 1]
    postal_code: "5003"
    city: Bergen
files: [brev.pdf]
""")
        return path

    def state_of(self, letter_id):
        return json.loads(self.ctl("get", letter_id, "--json").stdout)["state"]

    def wait_state(self, letter_id, states, timeout=60):
        """Waits until the letter is in `states` (a name or several)."""
        states = (states,) if isinstance(states, str) else tuple(states)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.state_of(letter_id) in states:
                return
            time.sleep(0.5)
        self.fail(f"{letter_id} not {states}: {self.state_of(letter_id)}")

    def test_redrive_dry_run_and_confirmation_for_all(self):
        self.stack.sim_call("POST", "/sim/v1/faults",
                            {"endpoint": "print", "status": 503,
                             "count": -1})
        self.addCleanup(self.stack.sim_call, "DELETE", "/sim/v1/faults")
        ref = f"park-{time.time_ns()}"
        r = self.ctl("submit", self.print_letter(ref), "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        letter_id = json.loads(r.stdout)["letter"]["id"]
        self.wait_state(letter_id, "PARKED")

        dry = self.ctl("redrive", "--all", "--dry-run", operator=True)
        self.assertEqual(dry.returncode, 0, dry.stderr)
        self.assertIn("(dry run; nothing changed)", dry.stdout)
        self.assertIn(letter_id, dry.stdout)
        dry = self.ctl("redrive", "--channel", "print", "--dry-run", "--json",
                       operator=True)
        listed = json.loads(dry.stdout)
        self.assertTrue(listed["dry_run"])
        self.assertIn(letter_id, listed["letter_ids"])
        self.assertEqual(listed["would_redrive"], len(listed["letter_ids"]))
        self.assertEqual(self.state_of(letter_id), "PARKED")

        # No terminal: --all needs --yes, and nothing is called.
        r = self.ctl("redrive", "--all", operator=True)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("add --yes", r.stderr)
        self.assertEqual(self.state_of(letter_id), "PARKED")
        # A terminal: asked; "n" changes nothing.
        code, out, shown = self.ctl_on_terminal(
            "redrive", "--all", stream="stdin", operator=True, answer="n\n")
        self.assertEqual(code, 1, shown)
        self.assertRegex(shown, r"Redrive all \d+ parked letters? of every "
                                r"tenant\? \[y/N\]")
        self.assertIn("nothing redriven", shown)
        self.assertEqual(self.state_of(letter_id), "PARKED")

        # Recovered: redrive it by its id prefix.
        self.stack.sim_call("DELETE", "/sim/v1/faults")
        r = self.ctl("redrive", letter_id[:8], operator=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("redriven 1 letter\n", r.stdout)
        self.wait_state(letter_id, at_or_past("SENT_PRINT"))

    def batch_dir(self, label, n):
        d = os.path.join(self.stack.work, f"{label}-{time.time_ns()}")
        for i in range(n):
            self.letter_file(d, f"{i}.yaml", f"{os.path.basename(d)}-{i}")
        return d

    def test_batch_progress_frames_only_on_a_terminal(self):
        d = self.batch_dir("frames", 2)
        piped = self.ctl("submit", "--batch", d)
        self.assertEqual(piped.returncode, 0, piped.stderr)
        self.assertNotIn("\r", piped.stderr)
        self.assertRegex(piped.stderr, r"^submitted 2/2 in [0-9.]+ s\n$")
        code, out, shown = self.ctl_on_terminal("submit", "--batch", d,
                                                stream="stderr")
        self.assertEqual(code, 0, shown)
        self.assertIn("\r[", shown)
        self.assertIn("letters/s  ETA", shown)
        self.assertIn("0 submitted, 2 already submitted, 0 refused", out)

    def test_batch_summary_counts_already_submitted_and_refused_apart(self):
        d = self.batch_dir("summary", 2)
        self.assertEqual(self.ctl("submit", "--batch", d).returncode, 0)
        self.letter_file(d, "9-new.yaml", os.path.basename(d) + "-new")
        refused = self.letter_file(d, "9-refused.yaml",
                                   os.path.basename(d) + "-refused")
        with open(refused) as f:
            text = f.read()
        write(refused, text.replace("title: Vedtak", "title: " + "x" * 300))
        r = self.ctl("submit", "--batch", d)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("1 submitted, 2 already submitted, 1 refused\n",
                      r.stdout)
        self.assertIn("9-refused.yaml: INVALID_ARGUMENT", r.stdout)

    def test_submit_batch_follow_waits_for_final_states(self):
        d = self.batch_dir("follow", 3)
        r = self.ctl("submit", "--batch", d, "--follow", timeout=180)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("3 submitted, 0 already submitted, 0 refused", r.stdout)
        self.assertIn("3 letters at their final state: 3 DELIVERED", r.stdout)
        # What it printed is what the gateway holds.
        listed = json.loads(self.ctl("list", "--json").stdout)["letters"]
        ours = [l for l in listed
                if l["client_reference"].startswith(os.path.basename(d))]
        self.assertEqual([l["state"] for l in ours], ["DELIVERED"] * 3)
        # Again, with --json: already submitted, and already final.
        again = self.ctl("submit", "--batch", d, "--follow", "--json")
        self.assertEqual(again.returncode, 0, again.stderr)
        lines = [json.loads(l) for l in again.stdout.splitlines()]
        self.assertEqual(lines[-2]["already_submitted"], 3)
        self.assertEqual(lines[-1], {"final": {"DELIVERED": 3}})
        self.assertEqual(self.ctl("submit", "examples/letter.yaml",
                                  "--follow").returncode, 2)


if __name__ == "__main__":
    unittest.main()
