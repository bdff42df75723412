"""The private PostgreSQL server the end-to-end tests start
(postgres_server.py): it starts, takes connections with its password only,
keeps committed rows across a crash, and stops."""

import os
import unittest

from postgres_server import PostgresServer


class PostgresServerTest(unittest.TestCase):
    def test_starts_accepts_connections_and_stops(self):
        pg = PostgresServer()
        try:
            self.assertEqual(pg.psql("SELECT current_database()"), "utpost")
            self.assertEqual(pg.psql("SHOW fsync"), "on")
            self.assertEqual(pg.psql("SHOW listen_addresses"), "127.0.0.1")
            pg.password, good = "wrong", pg.password
            self.assertIsNone(pg.psql("SELECT 1", check=False))
            pg.password = good
            pg.stop()
            self.assertFalse(pg.running)
            self.assertIsNone(pg.psql("SELECT 1", check=False))
        finally:
            pg.close()
        self.assertFalse(os.path.exists(pg.dir))

    def test_crash_keeps_committed_rows(self):
        with PostgresServer() as pg:
            pg.create_database("kept")
            pg.psql("CREATE TABLE t (v INT); INSERT INTO t VALUES (7)",
                    dbname="kept")
            pg.stop(immediate=True)
            pg.start()
            self.assertEqual(pg.psql("SELECT v FROM t", dbname="kept"), "7")


if __name__ == "__main__":
    unittest.main()
