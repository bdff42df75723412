"""A private PostgreSQL server for end-to-end tests, as
tests/testing/postgres_server.h is for C++ tests: a cluster made with initdb
in a temporary folder, listening on 127.0.0.1 only on a free port, its Unix
socket in that folder, fsync on, one superuser "utpost" with a random
password (scram-sha-256) and a database "utpost".

    with PostgresServer() as pg:
        conninfo = pg.conninfo()          # without the password
        env = {"UTPOST_STORE_PASSWORD": pg.password}
        pg.psql("SELECT 1")

When the tests run as root (CI), initdb and postgres run as UTPOST_PG_USER
(default "postgres", the user Debian's postgresql package creates) through
setpriv, since both refuse root. Binaries: UTPOST_PG_BINDIR, else the newest
/usr/lib/postgresql/<major>/bin, else PATH."""

import glob
import os
import pwd
import random
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time


def _bindir():
    env = os.environ.get("UTPOST_PG_BINDIR")
    if env:
        return env
    found = [d for d in glob.glob("/usr/lib/postgresql/*/bin")
             if os.access(os.path.join(d, "initdb"), os.X_OK)]
    if found:
        return max(found, key=lambda d: int(d.split("/")[-2]))
    initdb = shutil.which("initdb")
    if initdb:
        return os.path.dirname(initdb)
    raise RuntimeError("no initdb found: install Debian's postgresql package "
                       "(scripts/install-deps.sh) or set UTPOST_PG_BINDIR")


def _free_port():
    # Below Linux's ephemeral range (32768 up), where client sockets could
    # take the port before the server binds it.
    for _ in range(200):
        port = random.randint(20000, 32000)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise RuntimeError("no free port for postgres")


class PostgresServer:
    USER = "utpost"

    def __init__(self):
        self.bindir = _bindir()
        self.password = secrets.token_hex(16)
        self._run_as = None
        if os.geteuid() == 0:
            name = os.environ.get("UTPOST_PG_USER", "postgres")
            try:
                pw = pwd.getpwnam(name)
            except KeyError:
                raise RuntimeError(
                    f"running as root and there is no user {name!r} to run "
                    "postgres as (initdb refuses root): install Debian's "
                    "postgresql package or set UTPOST_PG_USER") from None
            self._run_as = (pw.pw_uid, pw.pw_gid)
        self.proc = None
        last = None
        for _ in range(3):
            self.dir = tempfile.mkdtemp(prefix="utpost-pg-")
            self.port = _free_port()
            try:
                self._init()
                self.start()
                self.create_database("utpost")
                return
            except RuntimeError as e:
                last = e
                self.close()
        raise last

    def _argv(self, argv):
        if self._run_as is None:
            return argv
        uid, gid = self._run_as
        return ["setpriv", f"--reuid={uid}", f"--regid={gid}",
                "--clear-groups", "--"] + argv

    def _env(self):
        return {"PATH": "/usr/bin:/bin", "LC_ALL": "C", "TZ": "UTC"}

    def _init(self):
        if self._run_as is not None:
            os.chown(self.dir, *self._run_as)
        pwfile = os.path.join(self.dir, "initdb.pw")
        with open(pwfile, "w") as f:
            f.write(self.password + "\n")
        os.chmod(pwfile, 0o600)
        if self._run_as is not None:
            os.chown(pwfile, *self._run_as)
        with open(os.path.join(self.dir, "initdb.log"), "ab") as log:
            r = subprocess.run(self._argv([
                os.path.join(self.bindir, "initdb"), "-D", self.data_dir,
                "-U", self.USER, "--pwfile=" + pwfile,
                "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C",
                # The initial files need not reach the disk before the first
                # checkpoint; the server itself runs with fsync on.
                "--no-sync", "--no-instructions"]),
                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                env=self._env())
        os.unlink(pwfile)
        if r.returncode != 0:
            raise RuntimeError("initdb failed:\n" + self.log_tail())

    @property
    def data_dir(self):
        return os.path.join(self.dir, "data")

    def start(self):
        """Starts the server and waits until it accepts connections."""
        log = open(os.path.join(self.dir, "server.log"), "ab")
        self.proc = subprocess.Popen(self._argv([
            os.path.join(self.bindir, "postgres"), "-D", self.data_dir,
            "-c", "listen_addresses=127.0.0.1", "-c", f"port={self.port}",
            "-c", "unix_socket_directories=" + self.dir,
            "-c", "fsync=on", "-c", "synchronous_commit=on",
            "-c", "max_connections=100", "-c", "shared_buffers=32MB",
            "-c", "logging_collector=off", "-c", "log_min_messages=warning"]),
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=self._env())
        log.close()
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                self.proc = None
                raise RuntimeError("postgres exited while starting:\n"
                                   + self.log_tail())
            r = subprocess.run(
                [os.path.join(self.bindir, "pg_isready"), "-q", "-h",
                 "127.0.0.1", "-p", str(self.port)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL)
            if r.returncode == 0:
                return
            time.sleep(0.05)
        raise RuntimeError("postgres did not accept connections within 60 s:\n"
                           + self.log_tail())

    def stop(self, immediate=False):
        """Stops the server; the data stays. `immediate` stops it as a crash
        would (recovery replays the WAL at the next start)."""
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGQUIT if immediate else signal.SIGINT)
        try:
            self.proc.wait(timeout=10 if immediate else 30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def restart(self):
        self.stop()
        self.start()

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def conninfo(self, dbname="utpost", password=False):
        """A libpq connection string over TCP; with the password only when
        asked (utpostd takes it from UTPOST_STORE_PASSWORD)."""
        s = (f"host=127.0.0.1 port={self.port} dbname={dbname} "
             f"user={self.USER} connect_timeout=10")
        if password:
            s += f" password={self.password}"
        return s

    def psql(self, sql, dbname="utpost", check=True):
        """Runs `sql` with psql and returns its unaligned, tuples-only
        output."""
        env = dict(self._env(), PGPASSWORD=self.password)
        r = subprocess.run(
            [os.path.join(self.bindir, "psql"), "-X", "-q", "-A", "-t",
             "-v", "ON_ERROR_STOP=1", "-d", self.conninfo(dbname), "-c", sql],
            stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env)
        if check and r.returncode != 0:
            raise RuntimeError(f"psql {sql!r}: {r.stderr.strip()}")
        return r.stdout.strip() if r.returncode == 0 else None

    def create_database(self, name):
        if not name.replace("_", "").isalnum() or not name.isascii():
            raise ValueError(f"bad database name {name!r}")
        self.psql(f"CREATE DATABASE {name}", dbname="postgres")

    def log_tail(self):
        out = []
        for name in ("initdb.log", "server.log"):
            try:
                with open(os.path.join(self.dir, name), errors="replace") as f:
                    out.append(name + ":\n" + f.read()[-2000:])
            except OSError:
                pass
        return "\n".join(out)

    def close(self, immediate=False):
        """Stops the server and removes its folder (kept when
        UTPOST_KEEP_PG_DIR is set). `immediate` skips the shutdown
        checkpoint, which writes and syncs every dirty page (seconds after a
        test's thousands of letters) of a cluster that is thrown away; a
        kept folder recovers from its WAL when started again."""
        self.stop(immediate=immediate)
        if not os.environ.get("UTPOST_KEEP_PG_DIR"):
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
