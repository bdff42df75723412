"""utpostctl stats against a running stack: a small batch of Bergen's
letters (two Digipost mailboxes, a reader who opens hers, an e-Boks (DPI)
mailbox, an organisation (Altinn), a reserved person (print)) and one of
Oslo's, sent through the simulator to their final states. The figures of
the month (letters per channel, read rate, time to delivery, envelopes,
the sheets counted at submission, cost against all-print) come back as
JSON, CSV and a table, and agree with a preflight of the same letters; a
tenant sees only its own, an operator both, with the tenants' names."""

import csv
import io
import json
import os
import subprocess
import unittest
from datetime import datetime
from zoneinfo import ZoneInfo

from harness import (BERGEN, CERTS, CTL, OSLO, PRICING, ROOT, Letter, Stack,
                     letter_pb2, load_persons, make_pdf, submit_request)

# Sheets of the batch's letters, had each gone to print: one page each but
# the print letter's, duplex pages 3 and 2 (2 + 1 sheets), and Altinn's of
# two pages (simplex). The stack adds no cover page.
PRINT_SHEETS = 3
ALTINN_SHEETS = 2
SHEETS = 4 * 1 + PRINT_SHEETS + ALTINN_SHEETS


def print_cost(sheets):
    return 300 + 40 * sheets + 2100  # B-post.


PRINT_COST = print_cost(PRINT_SHEETS)
COST = 3 * 50 + 60 + 70 + PRINT_COST
ALL_PRINT = 6 * (300 + 2100) + 40 * SHEETS


class StatsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = Stack(extra_config=PRICING)
        persons = load_persons()
        bergen = cls.stack.letters(BERGEN)
        printed = submit_request(
            person=persons["reserved"][0],
            documents=[("vedtak.pdf", make_pdf("vedtak", pages=3)),
                       ("vedlegg.pdf", make_pdf("vedlegg", pages=2))])
        printed.print_options.duplex = True
        requests = [submit_request(person=p) for p in (
            persons["mailbox"][0], persons["mailbox"][1],
            persons["eboks"][0])] + [printed]
        reader_request = submit_request(person=persons["reader"][0])
        # Testbedrift AS opens its Altinn correspondence after 2 s.
        organisation_request = submit_request(
            organisation="910000004", address=False,
            documents=[("vedtak.pdf", make_pdf("vedtak", pages=2))])
        cls.preflight = bergen.PreflightLetters(
            letter_pb2.PreflightLettersRequest(
                letters=requests + [reader_request, organisation_request]))
        ids = [bergen.SubmitLetter(r).letter.id for r in requests]
        reader = bergen.SubmitLetter(reader_request).letter.id
        organisation = bergen.SubmitLetter(organisation_request).letter.id
        oslo = cls.stack.letters(OSLO)
        oslo_id = oslo.SubmitLetter(
            submit_request(person=persons["mailbox"][2])).letter.id
        cls.final = cls.stack.wait_final(bergen, ids)
        for i in (reader, organisation):
            cls.final[i] = cls.stack.wait_state(bergen, i, ["READ"])
        cls.stack.wait_final(oslo, [oslo_id])
        cls.month = datetime.now(ZoneInfo("Europe/Oslo")).strftime("%Y-%m")

    @classmethod
    def tearDownClass(cls):
        cls.stack.close()

    def ctl(self, *args, who=BERGEN):
        name = "operator" if who == "operator" else f"tenant-{who}"
        argv = [CTL, "--server", f"127.0.0.1:{self.stack.api_port}",
                "--cert", f"{CERTS}/{name}.pem",
                "--key", f"{CERTS}/{name}.key"] + list(args)
        return subprocess.run(argv, cwd=ROOT, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=120)

    def month_of(self, tenant_stats):
        return next(m for m in tenant_stats["months"]
                    if m["month"] == self.month)

    def test_the_tenants_figures_as_json(self):
        bergen = self.stack.letters(BERGEN)
        states = sorted(
            (l.channel, Letter.State.Name(l.state)) for l in
            (bergen.GetLetter(letter_pb2.GetLetterRequest(name=i))
             for i in self.final))
        r = self.ctl("stats", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        j = json.loads(r.stdout)
        self.assertEqual(j["time_zone"], "Europe/Oslo")
        self.assertEqual(j["currency"], "NOK")
        self.assertIs(j["priced"], True)
        self.assertEqual([t["tenant"] for t in j["tenants"]], [BERGEN])
        t = j["tenants"][0]
        self.assertEqual(t["name"], "Bergen kommune")
        self.assertEqual(len(t["months"]), 12)
        m = self.month_of(t)
        self.assertEqual(m, dict(t["total"], month=self.month))
        self.assertEqual(m["letters"], 6, states)
        self.assertEqual(m["sent"], 6, states)
        self.assertEqual(m["failed"], 0)
        self.assertEqual(m["in_progress"], 0)
        channels = {c["channel"]: c for c in m["channels"]}
        self.assertEqual(list(channels), ["digital", "dpi", "altinn", "print"])
        self.assertEqual(channels["digital"]["letters"], 3)
        self.assertEqual(channels["dpi"]["letters"], 1)
        self.assertEqual(channels["altinn"]["letters"], 1)
        self.assertEqual(channels["print"]["letters"], 1)
        self.assertAlmostEqual(channels["digital"]["share"], 0.5)
        self.assertEqual(m["envelopes"], 1)
        self.assertEqual(m["sheets"], PRINT_SHEETS)
        self.assertEqual(m["sheets_unknown"], 0)  # Zero values present.
        self.assertEqual(m["returned"], 0)
        # Digipost (the reader) and Altinn report reads.
        self.assertEqual(m["read"], 2, states)
        self.assertEqual(m["digitally_delivered"], 5, states)
        self.assertAlmostEqual(m["read_rate"], 0.4)
        self.assertEqual(m["delivery_measured"], 6)
        self.assertIsInstance(m["delivery_p50_ms"], int)
        self.assertGreater(m["delivery_mean_ms"], 0)
        self.assertLess(m["delivery_mean_ms"], 120000)
        self.assertEqual(channels["print"]["cost"], PRINT_COST)
        self.assertEqual(channels["altinn"]["cost"], 70)
        self.assertEqual(m["cost"], COST)
        self.assertEqual(m["cost_all_print"], ALL_PRINT)
        self.assertEqual(m["cost_saved"], ALL_PRINT - COST)
        other = next(x for x in t["months"] if x["month"] != self.month)
        self.assertEqual(other["letters"], 0)

    def test_sheets_and_cost_are_what_the_preflight_of_the_letters_said(self):
        totals = self.preflight.totals
        self.assertEqual(totals.would_send, 6)
        self.assertEqual(totals.print_sheets, PRINT_SHEETS)
        self.assertEqual(self.preflight.outcomes[3].sheets, PRINT_SHEETS)
        r = self.ctl("stats", "--period", self.month, "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        m = json.loads(r.stdout)["tenants"][0]["total"]
        self.assertEqual(m["sheets"], totals.print_sheets)
        self.assertEqual(m["cost"], totals.cost)
        self.assertEqual(m["cost_all_print"], totals.cost_all_print)

    def test_a_tenant_sees_only_its_own_and_an_operator_every(self):
        r = self.ctl("stats", "--tenant", OSLO, "--json")
        self.assertEqual(r.returncode, 1)
        self.assertIn("PERMISSION_DENIED", r.stderr)
        r = self.ctl("stats", "--period", self.month, "--json", who=OSLO)
        self.assertEqual(r.returncode, 0, r.stderr)
        t = json.loads(r.stdout)["tenants"]
        self.assertEqual([x["tenant"] for x in t], [OSLO])
        self.assertEqual(t[0]["total"]["letters"], 1)
        r = self.ctl("stats", "--period", self.month, "--json",
                     who="operator")
        self.assertEqual(r.returncode, 0, r.stderr)
        t = {x["tenant"]: x for x in json.loads(r.stdout)["tenants"]}
        self.assertEqual(sorted(t), sorted([BERGEN, OSLO]))
        self.assertEqual(t[OSLO]["name"], "Oslo kommune")
        self.assertEqual(t[BERGEN]["total"]["letters"], 6)
        self.assertEqual(len(t[BERGEN]["months"]), 1)
        r = self.ctl("stats", "--tenant", OSLO, "--json", who="operator")
        self.assertEqual(r.returncode, 0, r.stderr)
        tenants = json.loads(r.stdout)["tenants"]
        self.assertEqual([x["tenant"] for x in tenants], [OSLO])

    def test_csv_and_table(self):
        r = self.ctl("stats", "--period", self.month, "--csv")
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = list(csv.DictReader(io.StringIO(r.stdout)))
        self.assertEqual([x["month"] for x in rows], [self.month, "total"])
        self.assertEqual(rows[0]["name"], "Bergen kommune")
        self.assertEqual(rows[0]["letters"], "6")
        self.assertEqual(rows[0]["print"], "1")
        self.assertEqual(rows[0]["sheets"], str(PRINT_SHEETS))
        self.assertEqual(rows[0]["sheets_unknown"], "0")
        self.assertEqual(rows[1]["cost"], str(COST))
        self.assertEqual(rows[1]["cost_all_print"], str(ALL_PRINT))
        r = self.ctl("stats", "--period", self.month)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("Bergen kommune (964338531)", r.stdout)
        self.assertIn("TOTAL", r.stdout)
        self.assertIn("amounts in NOK", r.stdout)
        self.assertIn("SHEETS", r.stdout)
        self.assertNotIn("no sheet count", r.stdout)

    def test_report_is_a_pdf_with_the_tenants_name_and_figures(self):
        out = os.path.join(self.stack.work, "bergen.pdf")
        r = self.ctl("report", "--tenant", OSLO, "-o", out)
        self.assertEqual(r.returncode, 1)
        self.assertIn("PERMISSION_DENIED", r.stderr)
        self.assertFalse(os.path.exists(out))
        r = self.ctl("report", "--tenant", BERGEN, "-o", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        check = subprocess.run(["qpdf", "--check", out], capture_output=True,
                               text=True)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
        text = subprocess.run(["pdftotext", "-layout", out, "-"],
                              capture_output=True, text=True, check=True)
        words = " ".join(text.stdout.split())
        self.assertIn("Digital post: Bergen kommune (964338531)", words)
        self.assertIn("Sent digitally 5 (83.3%)", words)
        self.assertIn("Sent to print (envelopes) 1", words)
        self.assertIn(f"Printed sheets {PRINT_SHEETS} ", words)
        self.assertIn("Read rate 40.0% of 5 delivered digitally", words)
        saved = ALL_PRINT - COST
        self.assertIn(f"Cost {COST // 100}.{COST % 100:02d} NOK", words)
        self.assertIn(f"Cost saved {saved // 100}.{saved % 100:02d} NOK",
                      words)
        self.assertIn("Letters sent per month: digital and print", words)
        self.assertIn("Read rate per month", words)
        # An operator must name the tenant: two are configured.
        r = self.ctl("report", "-o", out, who="operator")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--tenant", r.stderr)
        r = self.ctl("report", "--tenant", OSLO, "-o", out, who="operator")
        self.assertEqual(r.returncode, 0, r.stderr)
        text = subprocess.run(["pdftotext", out, "-"], capture_output=True,
                              text=True, check=True)
        self.assertIn("Oslo kommune", text.stdout)

    def test_bad_usage_is_exit_2_and_a_bad_month_is_refused(self):
        r = self.ctl("stats", "--period", "last-year")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--period", r.stderr)
        r = self.ctl("stats", "--perid", "2026")
        self.assertEqual(r.returncode, 2)
        self.assertIn('did you mean "--period"', r.stderr)
        r = self.ctl("stats", "--period", "2026-13")
        self.assertEqual(r.returncode, 1)
        self.assertIn("INVALID_ARGUMENT", r.stderr)
        r = self.ctl("stats", "--csv", "--json")
        self.assertEqual(r.returncode, 2)


if __name__ == "__main__":
    unittest.main()
