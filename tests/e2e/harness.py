"""A real Utpost stack for end-to-end tests: a private RabbitMQ node, the
provider simulator and utpostd, each a separate process on loopback, plus a
gRPC client that is not Utpost's code (Debian's python3-grpcio, with stubs
generated from the .proto files by grpc's own code generator).

Run with the repository root as working directory and UTPOST_BUILD_DIR set
to the build folder (ctest does both)."""

import base64
import collections
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import ssl

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("UTPOST_BUILD_DIR", os.path.join(ROOT, "build"))
CERTS = os.path.join(ROOT, "certs-dev")
# The operators' command line, as the tests run it.
CTL = os.path.join(BUILD, "cli", "utpostctl")

# Every test's process logs go under this folder when it is set (ctest sets
# it to one folder in the build tree, which the log scan test reads).
TEST_LOG_DIR = os.environ.get("UTPOST_TEST_LOG_DIR")

# The print provider's organisation number in the test configuration,
# named on the receipts of letters handed to it.
PRINT_PROVIDER = "987654325"
# Who takes a letter on each channel, as the hand-over receipts name them:
# Digipost, the DPI mailbox provider e-Boks, Altinn's operator Digdir, and
# the configured print provider.
CHANNEL_PROVIDERS = {"digital": "984661185", "dpi": "922020175",
                     "altinn": "991825827", "print": PRINT_PROVIDER}
BERGEN = "964338531"
OSLO = "958935420"


def cpu_seconds(pid):
    """User and system CPU seconds of process `pid` and of its children it
    has waited for; 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # utime, stime, cutime, cstime: fields 14 to 17 of proc(5).
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def cpu_tree(pid):
    """cpu_seconds of `pid` and of its live descendants."""
    children = collections.defaultdict(list)
    for child in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{child}/stat") as f:
                parent = f.read().rsplit(")", 1)[1].split()[1]
        except OSError:
            continue
        children[int(parent)].append(int(child))
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        total += cpu_seconds(p)
        todo += children.get(p, [])
    return total


def cpu_of(match):
    """CPU seconds of every process whose command line contains `match`,
    with their waited-for children."""
    total = 0.0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        if match.encode() in cmdline:
            total += cpu_seconds(pid)
    return total


def memory_kib(pid, key="VmHWM"):
    """A memory figure of /proc/PID/status in KiB (VmHWM: the peak resident
    set; VmRSS: the resident set now); 0 when the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _generate_stubs():
    import atexit
    out = tempfile.mkdtemp(prefix="utpost-stubs-")
    atexit.register(shutil.rmtree, out, True)
    # google/rpc: the status details a refusal carries (RetryInfo); left
    # without __init__.py, to join the google namespace package.
    protos = ["utpost/v1/letter.proto", "utpost/v1/ops.proto",
              "utpost/v1/audit.proto", "google/rpc/status.proto",
              "google/rpc/error_details.proto"]
    subprocess.run(
        ["protoc", "-I", os.path.join(ROOT, "proto"), "--python_out=" + out,
         "--grpc_out=" + out,
         "--plugin=protoc-gen-grpc=" + shutil.which("grpc_python_plugin")]
        + [os.path.join(ROOT, "proto", p) for p in protos],
        check=True)
    for d in ["utpost", "utpost/v1"]:
        open(os.path.join(out, d, "__init__.py"), "a").close()
    # Standard gRPC protocols Debian has no Python stubs for.
    test_protos = os.path.join(ROOT, "tests", "e2e", "protos")
    std = ["grpc_health_v1/health.proto",
           "grpc_reflection_v1alpha/reflection.proto"]
    subprocess.run(
        ["protoc", "-I", test_protos, "--python_out=" + out,
         "--grpc_out=" + out,
         "--plugin=protoc-gen-grpc=" + shutil.which("grpc_python_plugin")]
        + [os.path.join(test_protos, p) for p in std],
        check=True)
    for d in ["grpc_health_v1", "grpc_reflection_v1alpha"]:
        open(os.path.join(out, d, "__init__.py"), "a").close()
    sys.path.insert(0, out)


_generate_stubs()
import grpc  # noqa: E402
from utpost.v1 import letter_pb2, letter_pb2_grpc  # noqa: E402
from utpost.v1 import ops_pb2, ops_pb2_grpc  # noqa: E402
from grpc_health_v1 import health_pb2, health_pb2_grpc  # noqa: E402
from grpc_reflection_v1alpha import reflection_pb2  # noqa: E402
from grpc_reflection_v1alpha import reflection_pb2_grpc  # noqa: E402

Letter = letter_pb2.Letter
FINAL_STATES = {Letter.DELIVERED, Letter.SENT_PRINT, Letter.FAILED,
                Letter.CANCELLED, Letter.PARKED, Letter.READ, Letter.PRINTED}

# Where a letter goes by itself from a state, as the provider that has it
# reports on: a mailbox delivers, a recipient reads, a print provider posts
# (the simulator 2 s after it took the letter). A test that looks for a
# letter handed over may find it already further on.
LATER_STATES = {
    "SENT_DIGITAL": ("DELIVERED", "READ"),
    "DELIVERED": ("READ",),
    "SENT_PRINT": ("PRINTED",),
}


def at_or_past(*states):
    """The state names given and those a letter reaches by itself from them
    (LATER_STATES), in that order, each once."""
    out = []
    for s in states:
        for x in (s,) + LATER_STATES.get(s, ()):
            if x not in out:
                out.append(x)
    return tuple(out)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def write(path, data):
    with open(path, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)


def load_persons():
    """Sample persons of the simulator's data file, by kind: mailbox
    (Digipost), reader (Digipost, opens letters after a while), eboks,
    nomailbox, reserved, deleted, unregistered."""
    import yaml
    with open(os.path.join(ROOT, "sim", "data", "persons.yaml")) as f:
        data = yaml.safe_load(f)
    kinds = {"unregistered": ["04847910181"]}
    for p in data["persons"]:
        provider = (p.get("digital_post") or {}).get(
            "postkasseleverandoeradresse")
        if p.get("status", "AKTIV") != "AKTIV":
            kind = "deleted"
        elif p.get("reservasjon", "NEI") == "JA":
            kind = "reserved"
        elif provider == "984661185" and "reads_after_seconds" in p:
            kind = "reader"
        elif provider == "984661185":
            kind = "mailbox"
        elif provider:
            kind = "eboks"
        else:
            kind = "nomailbox"
        kinds.setdefault(kind, []).append(str(p["number"]))
    return kinds


def make_pdf(text="Utpost test letter", pages=1, sizes=None):
    """A small valid, printable PDF (A4, fonts embedded) made here, byte by
    byte. `sizes` gives each page's (width, height) in points; A4 when
    left out."""
    objs = []
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(pages))
    objs.append("<< /Type /Catalog /Pages 2 0 R >>")
    objs.append(f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>")
    font = 3 + 2 * pages
    for i in range(pages):
        stream = f"BT /F1 12 Tf 72 770 Td ({text} {i + 1}) Tj ET"
        width, height = sizes[i] if sizes else (595, 842)
        objs.append(f"<< /Type /Page /Parent 2 0 R "
                    f"/MediaBox [0 0 {width} {height}] "
                    f"/Resources << /Font << /F1 {font} 0 R >> >> "
                    f"/Contents {4 + 2 * i} 0 R >>")
        objs.append(f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream")
    # A Type 3 font: its glyphs (one short stroke for every character) are
    # in the document, so it counts as embedded and the letter is printable.
    widths = " ".join(["500"] * 95)
    objs.append("<< /Type /Font /Subtype /Type3 /FontBBox [0 0 500 700] "
                "/FontMatrix [0.001 0 0 0.001 0 0] "
                f"/CharProcs << /g {font + 1} 0 R >> "
                "/Encoding << /Type /Encoding /Differences [32"
                + " /g" * 95 + "] >> "
                f"/FirstChar 32 /LastChar 126 /Widths [{widths}] "
                "/Resources << >> >>")
    glyph = "500 0 d0 50 0 m 450 0 l S"
    objs.append(f"<< /Length {len(glyph)} >>\nstream\n{glyph}\nendstream")
    out = b"%PDF-1.4\n"
    offsets = []
    for n, body in enumerate(objs, start=1):
        offsets.append(len(out))
        out += f"{n} 0 obj\n{body}\nendobj\n".encode()
    xref = len(out)
    out += f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode()
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode()
    out += (f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R >>\n"
            f"startxref\n{xref}\n%%EOF\n").encode()
    return out


class Process:
    def __init__(self, name, argv, log_dir, ready_pattern):
        self.name = name
        self.log_path = os.path.join(log_dir, name + ".log")
        self.log = open(self.log_path, "ab")
        # Unbuffered, so that select() below sees every line still unread.
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE,
                                     stderr=self.log, cwd=ROOT, bufsize=0)
        self.ready = None
        deadline = time.time() + 30
        pattern = re.compile(ready_pattern)
        while time.time() < deadline:
            # Never wait past the deadline for a line that does not come.
            ready, _, _ = select.select([self.proc.stdout], [], [],
                                        max(0.0, deadline - time.time()))
            if not ready:
                break
            line = self.proc.stdout.readline().decode()
            if not line:
                break
            self.log.write(line.encode())
            self.log.flush()
            m = pattern.search(line)
            if m:
                self.ready = m
                break
        if self.ready is None:
            self.proc.kill()
            raise RuntimeError(f"{name} did not start; see {self.log_path}:\n"
                               + open(self.log_path).read()[-3000:])
        # Keep draining stdout into the log.
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self):
        try:
            for line in self.proc.stdout:
                self.log.write(line)
                self.log.flush()
        except (ValueError, OSError):
            pass  # Closed by close().

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.close()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.close()

    def close(self):
        for f in (self.proc.stdout, self.log):
            try:
                f.close()
            except (ValueError, OSError):
                pass


def broker_port():
    """An AMQP port whose +10000 (epmd) and +20000 (distribution) ports,
    which scripts/rabbitmq.sh also uses, are free as well."""
    import random
    for _ in range(200):
        # All three below Linux's ephemeral range (32768 and up), where
        # other sockets could take them before the broker binds them.
        port = random.randint(5700, 12700)
        try:
            for p in (port, port + 10000, port + 20000):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", p))
            return port
        except OSError:
            continue
    raise RuntimeError("no free port for the broker")


# Which store every Stack's daemon uses: "sqlite" (the default) or
# "postgres" (UTPOST_E2E_STORE=postgres): then one private PostgreSQL server
# serves the whole test process, started on first use and stopped at exit,
# with a fresh database for each Stack.
STORE_ENGINE = os.environ.get("UTPOST_E2E_STORE", "sqlite")
if STORE_ENGINE not in ("sqlite", "postgres"):
    raise RuntimeError(f"UTPOST_E2E_STORE={STORE_ENGINE!r}: expected sqlite "
                       "or postgres")
_postgres = None
_postgres_databases = 0


def postgres_server():
    """This process's private PostgreSQL server, started on first use."""
    global _postgres
    if _postgres is None:
        import atexit
        from postgres_server import PostgresServer
        _postgres = PostgresServer()
        # At exit the cluster is thrown away: no shutdown checkpoint.
        atexit.register(_postgres.close, immediate=True)
    return _postgres


def new_postgres_database():
    """Creates a database of its own for one Stack and returns its name."""
    global _postgres_databases
    _postgres_databases += 1
    name = f"e2e_{os.getpid()}_{_postgres_databases}"
    postgres_server().create_database(name)
    return name


# Unit prices in øre (made-up figures, as scripts/run-local.sh has them), for
# a Stack's extra_config where a test checks costs.
PRICING = """
pricing:
  currency: NOK
  digital_per_letter: 50
  dpi_per_letter: 60
  altinn_per_letter: 70
  print_per_letter: 300
  print_per_sheet: 40
  postage_b: 2100
  postage_a: 2500
"""


class Broker:
    def __init__(self, work_dir):
        self.dir = os.path.join(work_dir, "rabbitmq")
        self.port = broker_port()
        self.start()

    def start(self):
        subprocess.run([os.path.join(ROOT, "scripts", "rabbitmq.sh"), "start",
                        self.dir, str(self.port)], check=True)

    def stop(self):
        subprocess.run([os.path.join(ROOT, "scripts", "rabbitmq.sh"), "stop",
                        self.dir], check=False)


class Stack:
    """Broker + simulator + utpostd. Use as a context manager."""

    def __init__(self, retry_delays=(1, 2), max_attempts=6, role="all",
                 extra_config="", print_config="", log_format="json",
                 tenant_limits=None):
        """`tenant_limits`: organisation number -> that tenant's `limits`
        as a YAML flow mapping, e.g. {BERGEN: "{letters_per_day: 3}"}."""
        self.tenant_limits = tenant_limits or {}
        self.work = tempfile.mkdtemp(prefix="utpost-e2e-")
        self.log_dir = self.work
        if TEST_LOG_DIR:
            os.makedirs(TEST_LOG_DIR, exist_ok=True)
            self.log_dir = tempfile.mkdtemp(prefix="stack-", dir=TEST_LOG_DIR)
        self.log_format = log_format
        self.metrics_port = free_port()
        self.health_port = free_port()
        self.retry_delays = retry_delays
        self.max_attempts = max_attempts
        self.extra_config = extra_config
        # More settings of providers.print, e.g. ", cover_page: true".
        self.print_config = print_config
        self.broker = None
        self.sim = None
        self.daemon = None
        try:
            self._start(role)
        except BaseException:
            self.close()  # Leave no broker or simulator behind.
            raise

    def _start(self, role):
        self.broker = self.make_broker()
        self.sim = Process(
            "utpost-sim",
            [os.path.join(BUILD, "sim", "utpost-sim"), "--listen",
             "127.0.0.1:0", "--cert", f"{CERTS}/server.pem", "--key",
             f"{CERTS}/server.key", "--persons",
             os.path.join(ROOT, "sim", "data", "persons.yaml"),
             "--sender-cert", f"{CERTS}/sender.pem", "--organisations",
             os.path.join(ROOT, "sim", "data", "organisations.yaml"),
             "--token-ca", f"{CERTS}/ca.pem", "--require-tokens"],
            self.log_dir, r"listening on 127\.0\.0\.1:(\d+)")
        self.sim_port = int(self.sim.ready.group(1))
        self.api_port = free_port()
        self.start_daemon(role)

    def make_broker(self):
        """The broker this stack runs on; something with stop()."""
        return Broker(self.work)

    def broker_config(self):
        """Where utpostd finds the broker: the settings under `broker:`."""
        return f"port: {self.broker.port}"

    def config_path(self):
        return os.path.join(self.work, "utpostd.yaml")

    def second_process_config(self, name="utpostd-worker"):
        """The daemon's configuration for one more process on this host: the
        same store, broker and providers, its own metrics and health ports
        (two processes cannot listen on one port)."""
        text = read(self.config_path()).decode()
        text = text.replace(f"127.0.0.1:{self.metrics_port}",
                            f"127.0.0.1:{free_port()}")
        text = text.replace(f"127.0.0.1:{self.health_port}",
                            f"127.0.0.1:{free_port()}")
        path = os.path.join(self.work, name + ".yaml")
        write(path, text)
        return path

    def store_config(self):
        """The daemon's `store:` block, ending in a newline: SQLite in the
        work folder, or with UTPOST_E2E_STORE=postgres a fresh database of
        this process's private PostgreSQL server (made once per Stack, so a
        restarted daemon finds its letters)."""
        if STORE_ENGINE == "sqlite":
            return f"store:\n  sqlite_path: {self.work}/utpost.db\n"
        if getattr(self, "pg_database", None) is None:
            self.pg_database = new_postgres_database()
        pg = postgres_server()
        password_file = os.path.join(self.work, "store-password")
        write(password_file, (pg.password + "\n").encode())
        os.chmod(password_file, 0o600)
        return (f"store:\n  engine: postgres\n  postgres:\n"
                f"    conninfo: \"{pg.conninfo(self.pg_database)}\"\n"
                f"    password_file: {password_file}\n    pool_size: 4\n")

    def limits_line(self, tenant):
        limits = self.tenant_limits.get(tenant)
        return f"    limits: {limits}\n" if limits else ""

    def write_config(self, role):
        delays = ", ".join(str(d) for d in self.retry_delays)
        sim = f"https://127.0.0.1:{self.sim_port}"
        with open(self.config_path(), "w") as f:
            f.write(f"""
role: {role}
log_level: info
server:
  listen: 127.0.0.1:{self.api_port}
  cert_file: {CERTS}/server.pem
  key_file: {CERTS}/server.key
  client_ca_file: {CERTS}/ca.pem
{self.store_config()}broker:
  {self.broker_config()}
tenants:
  - organisation_number: "{BERGEN}"
    name: Bergen kommune
    return_address: {{name: Bergen kommune, address_lines: [Postboks 7700], postal_code: "5020", city: Bergen}}
{self.limits_line(BERGEN)}  - organisation_number: "{OSLO}"
    name: Oslo kommune
    return_address: {{name: Oslo kommune, address_lines: [Postboks 1], postal_code: "0037", city: Oslo}}
{self.limits_line(OSLO)}operators: [operator]
receipts:
  key_file: {CERTS}/receipts.key
  cert_chain_file: {CERTS}/receipts.pem
providers:
  ca_file: {CERTS}/ca.pem
  registry_url: {sim}
  digipost: {{url: {sim}, sender_id: "100001", signing_key_file: {CERTS}/sender.key, certificate_ca_file: {CERTS}/ca.pem}}
  print: {{url: {sim}, provider_organisation: "{PRINT_PROVIDER}"{self.print_config}}}
  timeout_seconds: 5
  maskinporten:
    token_url: {sim}/token
    audience: https://maskinporten.sim/
    client_id: utpost-e2e
    key_file: {CERTS}/sender.key
    cert_chain_file: {CERTS}/sender.pem
  business_registry: {{url: {sim}}}
  altinn: {{url: {sim}, resource_id: utpost-correspondence}}
  dpi:
    url: {sim}
    signing_key_file: {CERTS}/sender.key
    certificate_file: {CERTS}/sender.pem
    certificate_root_file: {CERTS}/ca.pem
    provider_certificate_file: {CERTS}/dpi-provider.pem
    provider_ca_file: {CERTS}/ca.pem
retry:
  delays_seconds: [{delays}]
  max_attempts: {self.max_attempts}
observability:
  metrics_listen: 127.0.0.1:{self.metrics_port}
  health_listen: 127.0.0.1:{self.health_port}
  log_format: {self.log_format}
{self.extra_config}
""")

    def start_daemon(self, role="all"):
        self.write_config(role)
        self.daemon = Process(
            "utpostd", [os.path.join(BUILD, "gateway", "utpostd"), "--config",
                        self.config_path()],
            self.log_dir, r"utpostd ready")
        if STORE_ENGINE == "postgres" and os.path.exists(
                os.path.join(self.work, "utpost.db")):
            raise RuntimeError("UTPOST_E2E_STORE=postgres but the daemon "
                               "made a SQLite file")

    def close(self, keep=False):
        """Stops everything; removes the work folder unless `keep`."""
        for p in (self.daemon, self.sim):
            if p:
                p.stop()
        if self.broker:
            self.broker.stop()
        self.daemon = self.sim = self.broker = None
        if not keep:
            shutil.rmtree(self.work, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        failed = any(exc)
        self.close(keep=failed)
        if failed:
            print(f"state left in {self.work}, logs in {self.log_dir}, for "
                  "inspection", file=sys.stderr)

    # --- clients -------------------------------------------------------
    def channel(self, cert=f"{CERTS}/tenant-{BERGEN}.pem",
                key=f"{CERTS}/tenant-{BERGEN}.key", ca=f"{CERTS}/ca.pem"):
        creds = grpc.ssl_channel_credentials(
            root_certificates=read(ca),
            private_key=read(key) if key else None,
            certificate_chain=read(cert) if cert else None)
        return grpc.secure_channel(
            f"127.0.0.1:{self.api_port}", creds,
            options=[("grpc.max_send_message_length", 64 << 20),
                     ("grpc.max_receive_message_length", 64 << 20)])

    def letters(self, tenant=BERGEN, **kw):
        if tenant is not None and "cert" not in kw:
            kw["cert"] = f"{CERTS}/tenant-{tenant}.pem"
            kw["key"] = f"{CERTS}/tenant-{tenant}.key"
        return letter_pb2_grpc.LetterServiceStub(self.channel(**kw))

    def ops(self):
        return ops_pb2_grpc.OpsServiceStub(self.channel(
            cert=f"{CERTS}/operator.pem", key=f"{CERTS}/operator.key"))

    # --- metrics, health, reflection -------------------------------------
    def scrape_metrics(self):
        """The daemon's /metrics text."""
        with urllib.request.urlopen(
                f"http://127.0.0.1:{self.metrics_port}/metrics",
                timeout=10) as r:
            assert r.headers.get("Content-Type", "").startswith(
                "text/plain; version=0.0.4"), r.headers
            return r.read().decode()

    def health(self, service=""):
        """grpc.health.v1 status name of `service` on the health port, or
        the gRPC error code name when the call fails."""
        with grpc.insecure_channel(f"127.0.0.1:{self.health_port}") as ch:
            stub = health_pb2_grpc.HealthStub(ch)
            try:
                r = stub.Check(health_pb2.HealthCheckRequest(service=service),
                               timeout=5)
            except grpc.RpcError as e:
                return e.code().name
            return health_pb2.HealthCheckResponse.ServingStatus.Name(r.status)

    def wait_health(self, service, want, timeout=60):
        deadline = time.time() + timeout
        got = None
        while time.time() < deadline:
            got = self.health(service)
            if got == want:
                return
            time.sleep(0.3)
        raise AssertionError(f"health of {service!r} is {got}, not {want} "
                             f"after {timeout} s")

    def list_services(self, channel):
        """Service names from server reflection over `channel`."""
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        req = reflection_pb2.ServerReflectionRequest(list_services="")
        call = stub.ServerReflectionInfo(iter([req]), timeout=10)
        try:
            r = next(call)
            return [s.name for s in r.list_services_response.service]
        finally:
            call.cancel()  # Leaves no stream open on the server.

    # --- simulator control ----------------------------------------------
    def sim_call(self, method, path, body=None):
        ctx = ssl.create_default_context(cafile=f"{CERTS}/ca.pem")
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            f"https://127.0.0.1:{self.sim_port}{path}", data=data,
            method=method, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
            text = r.read().decode()
            return json.loads(text) if text else None

    def deliveries(self):
        return self.sim_call("GET", "/sim/v1/deliveries")

    def set_fault(self, **fault):
        """POST /sim/v1/faults with these fields (see sim/simulator.h)."""
        return self.sim_call("POST", "/sim/v1/faults", fault)

    def clear_faults(self):
        return self.sim_call("DELETE", "/sim/v1/faults")

    def restart_daemon(self, role="all"):
        """Stops utpostd (SIGTERM) and starts it again on the same store,
        broker and port."""
        self.daemon.stop()
        self.start_daemon(role)

    def wait_state(self, stub, letter_id, states, timeout=60):
        """Waits until the letter is in one of `states` (names or numbers);
        returns the Letter. Fails with the last state seen."""
        wanted = {Letter.State.Value(x) if isinstance(x, str) else x
                  for x in states}
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            try:
                last = stub.GetLetter(
                    letter_pb2.GetLetterRequest(name=letter_id), timeout=10)
            except grpc.RpcError:
                last = None
            if last is not None and last.state in wanted:
                return last
            time.sleep(0.2)
        raise AssertionError(
            f"letter {letter_id} not in {sorted(Letter.State.Name(x) for x in wanted)}"
            f" after {timeout} s: " + (f"{Letter.State.Name(last.state)} "
                                       f"({last.reason})" if last else "?"))

    @staticmethod
    def wait_until(check, what, timeout=60, interval=0.2):
        """Calls `check` until it returns a true value, which it returns.
        Fails naming `what`: tests wait for a condition, never for a fixed
        time, so a slow machine only makes them slower."""
        deadline = time.time() + timeout
        while True:
            result = check()
            if result:
                return result
            if time.time() >= deadline:
                raise AssertionError(f"{what}: not so after {timeout} s")
            time.sleep(interval)

    # --- helpers ---------------------------------------------------------
    def wait_final(self, stub, ids, timeout=120):
        """Waits until every letter is in a final state; returns id->Letter."""
        deadline = time.time() + timeout
        pending = set(ids)
        done = {}
        while pending and time.time() < deadline:
            for i in list(pending):
                try:
                    l = stub.GetLetter(letter_pb2.GetLetterRequest(name=i),
                                       timeout=10)
                except grpc.RpcError:
                    continue
                if l.state in FINAL_STATES:
                    done[i] = l
                    pending.discard(i)
            if pending:
                time.sleep(0.3)
        if pending:
            states = {}
            for i in list(pending)[:5]:
                try:
                    l = stub.GetLetter(letter_pb2.GetLetterRequest(name=i))
                    states[i] = (Letter.State.Name(l.state), l.reason)
                except grpc.RpcError as e:
                    states[i] = str(e)
            raise AssertionError(f"{len(pending)} letters not final after "
                                 f"{timeout} s, e.g. {states}")
        return done


def submit_request(person=None, organisation=None, ref=None, title="Vedtak",
                   documents=None, mode=None, address=True,
                   print_if_unread_after=None, not_before=None):
    """`print_if_unread_after` in seconds; `not_before` as Unix seconds."""
    recipient = letter_pb2.Recipient()
    if person:
        recipient.person = person
    if organisation:
        recipient.organisation = organisation
    if address:
        recipient.postal_address.name = "Kari Nordmann"
        recipient.postal_address.address_lines.append("Storgata 1")
        recipient.postal_address.postal_code = "5003"
        recipient.postal_address.city = "Bergen"
    req = letter_pb2.SubmitLetterRequest(
        client_reference=ref or f"ref-{time.time_ns()}", recipient=recipient,
        title=title)
    for name, content in (documents or [("vedtak.pdf", make_pdf())]):
        req.documents.add(file_name=name, media_type="application/pdf",
                          content=content)
    if mode:
        req.delivery_policy.mode = mode
    if print_if_unread_after is not None:
        req.delivery_policy.print_if_unread_after.seconds = int(
            print_if_unread_after)
    if not_before is not None:
        req.not_before.seconds = int(not_before)
    return req


# --- receipt verification with the openssl CLI only -----------------------
def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def _der_int(b):
    b = b.lstrip(b"\x00") or b"\x00"
    if b[0] & 0x80:
        b = b"\x00" + b
    return b"\x02" + bytes([len(b)]) + b


def verify_jws_with_openssl(jws, ca_file=f"{CERTS}/ca.pem"):
    """Verifies an ES256 compact JWS with `openssl` alone: the x5c leaf must
    chain to `ca_file` and the signature must verify with its key. Returns
    the payload as a dict."""
    header_b64, payload_b64, sig_b64 = jws.split(".")
    header = json.loads(b64url_decode(header_b64))
    assert header["alg"] == "ES256", header
    with tempfile.TemporaryDirectory() as d:
        leaf = os.path.join(d, "leaf.pem")
        der = base64.b64decode(header["x5c"][0])
        pem = ("-----BEGIN CERTIFICATE-----\n"
               + "\n".join(base64.b64encode(der).decode()[i:i + 64]
                           for i in range(0, len(base64.b64encode(der)), 64))
               + "\n-----END CERTIFICATE-----\n")
        write(leaf, pem)
        r = subprocess.run(["openssl", "verify", "-CAfile", ca_file, leaf],
                           capture_output=True, text=True)
        assert r.returncode == 0 and ": OK" in r.stdout, r.stdout + r.stderr
        pub = os.path.join(d, "pub.pem")
        subprocess.run(["openssl", "x509", "-in", leaf, "-pubkey", "-noout",
                        "-out", pub], check=True)
        raw = b64url_decode(sig_b64)
        assert len(raw) == 64, len(raw)
        body = _der_int(raw[:32]) + _der_int(raw[32:])
        sig = os.path.join(d, "sig.der")
        write(sig, b"\x30" + bytes([len(body)]) + body)
        data = os.path.join(d, "input")
        write(data, f"{header_b64}.{payload_b64}".encode())
        r = subprocess.run(["openssl", "dgst", "-sha256", "-verify", pub,
                            "-signature", sig, data],
                           capture_output=True, text=True)
        assert r.returncode == 0 and "Verified OK" in r.stdout, \
            r.stdout + r.stderr
    return json.loads(b64url_decode(payload_b64))
