"""utpostd on the PostgreSQL store: a private PostgreSQL server, the broker,
the simulator and the daemon configured with store.engine postgres (the
password from a file, as a mounted Secret gives it). A letter reaches
DELIVERED with its chained receipts, the rows are in PostgreSQL, and a
restarted daemon finds its schema in place and its letters kept."""

import hashlib
import os
import re
import unittest

from harness import (Letter, Stack, letter_pb2, load_persons, submit_request,
                     write)
from postgres_server import PostgresServer


class PostgresStack(Stack):
    """A Stack whose daemon keeps its state in `pg`."""

    def __init__(self, pg, **kw):
        self.pg = pg
        super().__init__(**kw)

    def write_config(self, role):
        super().write_config(role)
        password_file = os.path.join(self.work, "store-password")
        write(password_file, (self.pg.password + "\n").encode())
        with open(self.config_path()) as f:
            text = f.read()
        store = (f"store:\n  engine: postgres\n  postgres:\n"
                 f"    conninfo: \"{self.pg.conninfo()}\"\n"
                 f"    password_file: {password_file}\n    pool_size: 4\n")
        text, n = re.subn(r"store:\n  sqlite_path: [^\n]*\n", store, text)
        if n != 1:
            raise RuntimeError("no store block in the daemon configuration")
        with open(self.config_path(), "w") as f:
            f.write(text)


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
            "SELECT string_agg(version::text, ',') FROM schema_migrations"),
            "1")
        again = self.stack.letters().GetLetter(
            letter_pb2.GetLetterRequest(name=letter.name))
        self.assertEqual(again.state, Letter.DELIVERED)


if __name__ == "__main__":
    unittest.main()
