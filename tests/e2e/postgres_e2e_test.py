"""utpostd on the PostgreSQL store: a private PostgreSQL server, the broker,
the simulator and the daemon configured with store.engine postgres (the
password from a file, as a mounted Secret gives it). A letter reaches
DELIVERED with its chained receipts, the rows are in PostgreSQL, a
restarted daemon finds its schema in place and its letters kept,
utpostctl stats counts the letters PostgreSQL holds, and letters submitted
at once meet no deadlock."""

import concurrent.futures
import hashlib
import json
import os
import subprocess
import unittest
from datetime import datetime
from zoneinfo import ZoneInfo

from harness import (BERGEN, BUILD, CERTS, ROOT, Letter, Stack, letter_pb2,
                     load_persons, make_pdf, submit_request, write)
from postgres_server import PostgresServer


class PostgresStack(Stack):
    """A Stack whose daemon keeps its state in `pg`."""

    def __init__(self, pg, **kw):
        self.pg = pg
        super().__init__(**kw)

    def store_config(self):
        password_file = os.path.join(self.work, "store-password")
        write(password_file, (self.pg.password + "\n").encode())
        return (f"store:\n  engine: postgres\n  postgres:\n"
                f"    conninfo: \"{self.pg.conninfo()}\"\n"
                f"    password_file: {password_file}\n    pool_size: 4\n")


class PostgresStoreE2eTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pg = PostgresServer()
        try:
            cls.stack = PostgresStack(cls.pg)
        except BaseException:
            cls.pg.close()
            raise
        cls.persons = load_persons()

    @classmethod
    def tearDownClass(cls):
        cls.stack.close()
        cls.pg.close()

    def test_letters_at_once_meet_no_deadlock(self):
        # The outbox relay marks a batch of letters sent (QUEUED) while
        # workers, given their messages, already move some of them. A
        # transaction that locked a letter after writing a receipt would
        # hold the receipt counter that such a worker waits for: a deadlock,
        # which PostgreSQL breaks after deadlock_timeout (1 s) while every
        # other writer waits behind the counter.
        stub = self.stack.letters()
        people = self.persons["mailbox"]

        def one(i):
            return stub.SubmitLetter(submit_request(
                person=people[i % len(people)], ref=f"pg-e2e-burst-{i}"),
                timeout=60).letter.id

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            ids = list(pool.map(one, range(80)))
        done = self.stack.wait_final(stub, ids)
        self.assertEqual({Letter.State.Name(l.state) for l in done.values()},
                         {"DELIVERED"})
        # A session adds its deadlocks to pg_stat_database by the time it
        # ends: the daemon stops, and its sessions are gone.
        self.stack.daemon.stop()
        try:
            self.stack.wait_until(
                lambda: self.pg.psql(
                    "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = "
                    "current_database() AND pid <> pg_backend_pid()") == "0",
                "the daemon's sessions to end", timeout=30)
            self.assertEqual(self.pg.psql(
                "SELECT deadlocks FROM pg_stat_database "
                "WHERE datname = current_database()"), "0")
        finally:
            self.stack.start_daemon()

    def test_letter_is_delivered_with_its_receipts_in_postgres(self):
        stub = self.stack.letters()
        sent = stub.SubmitLetter(submit_request(
            person=self.persons["mailbox"][0], ref="pg-e2e-1"))
        self.assertTrue(sent.created)
        done = self.stack.wait_final(stub, [sent.letter.id])
        letter = done[sent.letter.id]
        self.assertEqual(Letter.State.Name(letter.state), "DELIVERED",
                         letter.reason)
        receipts = stub.GetReceipts(
            letter_pb2.GetReceiptsRequest(name=letter.name)).receipts
        self.assertEqual([Letter.State.Name(r.state) for r in receipts],
                         ["RECEIVED", "QUEUED", "ROUTED", "SENT_DIGITAL",
                          "DELIVERED"])
        for r in receipts:
            self.assertEqual(r.sha256, hashlib.sha256(r.jws.encode()).hexdigest())

        # The rows are PostgreSQL's, not a file's.
        self.assertFalse(os.path.exists(
            os.path.join(self.stack.work, "utpost.db")))
        lid = letter.id.replace("'", "")
        self.assertEqual(self.pg.psql(
            f"SELECT state FROM letters WHERE id = '{lid}'"),
            str(Letter.DELIVERED))
        self.assertEqual(self.pg.psql(
            f"SELECT COUNT(*) FROM receipts WHERE letter_id = '{lid}'"), "5")
        self.assertEqual(self.pg.psql(
            f"SELECT COUNT(*) FROM outbox WHERE letter_id = '{lid}' "
            "AND sent_at_ms IS NULL"), "0")
        # Cursors are the commit order, with no gaps.
        self.assertEqual(self.pg.psql(
            "SELECT MAX(cursor) = COUNT(*) FROM receipts"), "t")

        # A restart migrates nothing and keeps everything.
        self.stack.restart_daemon()
        self.assertEqual(self.pg.psql(
            "SELECT string_agg(version::text, ',' ORDER BY version) "
            "FROM schema_migrations"), "1,2,3,4,5")
        again = self.stack.letters().GetLetter(
            letter_pb2.GetLetterRequest(name=letter.name))
        self.assertEqual(again.state, Letter.DELIVERED)

    def test_statistics_count_the_letters_in_postgres(self):
        stub = self.stack.letters()
        sent = stub.SubmitLetter(submit_request(
            person=self.persons["mailbox"][1], ref="pg-e2e-stats",
            documents=[("vedtak.pdf", make_pdf("vedtak", pages=3))]))
        self.stack.wait_final(stub, [sent.letter.id])
        # The sheets it would take printed, stored with it.
        self.assertEqual(self.pg.psql(
            "SELECT print_sheets FROM letters "
            f"WHERE id = '{sent.letter.id}'"), "3")
        # Every letter of this class's tests is final once it is counted.
        rows = self.pg.psql(
            f"SELECT id FROM letters WHERE tenant = '{BERGEN}'").split()
        self.stack.wait_final(stub, rows)
        month = datetime.now(ZoneInfo("Europe/Oslo")).strftime("%Y-%m")
        r = subprocess.run(
            [os.path.join(BUILD, "cli", "utpostctl"),
             "--server", f"127.0.0.1:{self.stack.api_port}",
             "--cert", f"{CERTS}/tenant-{BERGEN}.pem",
             "--key", f"{CERTS}/tenant-{BERGEN}.key",
             "stats", "--period", month, "--json"],
            cwd=ROOT, stdin=subprocess.DEVNULL, capture_output=True,
            text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        tenants = json.loads(r.stdout)["tenants"]
        self.assertEqual([t["tenant"] for t in tenants], [BERGEN])
        total = tenants[0]["total"]
        delivered = int(self.pg.psql(
            f"SELECT COUNT(*) FROM letters WHERE tenant = '{BERGEN}' "
            f"AND state = {Letter.DELIVERED}"))
        self.assertGreaterEqual(delivered, 1)
        self.assertEqual(total["letters"], len(rows))
        self.assertEqual(total["digitally_delivered"], delivered)
        self.assertEqual(total["read"], 0)
        self.assertEqual(total["sheets"], 0)  # None went to print.
        self.assertEqual(total["sheets_unknown"], 0)
        self.assertEqual(total["delivery_measured"], delivered)
        self.assertGreater(total["delivery_mean_ms"], 0)


if __name__ == "__main__":
    unittest.main()
