"""Builds the runtime and sim images with podman from Debian's archive
alone and runs them: `utpostd --version`, `utpostctl --version`, the daemon
itself as the chart runs it (non-root, read-only root filesystem, no
capabilities, no new privileges, /tmp a tmpfs) answering gRPC health checks
on its published health port (alive, not ready without a broker; ready
with a RabbitMQ node on the host), and utpost-sim's TLS port.

  python3 image_test.py --build-dir BUILD --version X.Y.Z

No registry is reachable from these machines, so the base image is made
here: `debootstrap --variant=minbase bookworm` and `podman import` (once;
podman keeps it as localhost/utpost-base:bookworm). To keep the test short
the programs are not compiled in the image: the Dockerfile's BINARIES=prebuilt
copies the host build's (a Debian 12 build, the same libraries).

Where podman cannot store or run a container at all (a chroot without
mounts of its own, as scripts/fresh-machine-check.sh makes), the test says
so and exits 77, which ctest reports as skipped.

podman needs, on these hosts (a container with cgroups v1 and limits podman
may not raise): the runc runtime (crun refuses the hybrid cgroup layout) and
explicit --ulimit values within the process's own limits.
"""

import argparse
import glob
import os
import re
import resource
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time

import grpc

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BASE = "localhost/utpost-base:bookworm"
IMAGE = "localhost/utpost:image-test"
SIM_IMAGE = "localhost/utpost-sim:image-test"


def host_mirror():
    """The Debian mirror the host's apt uses (deb822 or one-line sources),
    so the base comes from where this machine's packages come from."""
    for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
        with open(path) as f:
            m = re.search(r"^URIs:\s*(\S+/debian)/?\s*$", f.read(), re.M)
        if m:
            return m.group(1)
    if os.path.exists("/etc/apt/sources.list"):
        with open("/etc/apt/sources.list") as f:
            m = re.search(r"^deb\s+(\S+/debian)/?\s", f.read(), re.M)
        if m:
            return m.group(1)
    return "http://deb.debian.org/debian"


MIRROR = host_mirror()
SECURITY = MIRROR[:-len("/debian")] + "/debian-security"


class Failed(Exception):
    pass


class CannotRunContainers(Exception):
    """podman itself cannot work here (a chroot without its own mounts, no
    cgroups): the test is skipped (exit 77) with podman's words."""


SKIP = 77


def podman_args():
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return ["podman", "--runtime", "runc"], [
        "--ulimit", f"nofile={nofile}:{nofile}",
        "--ulimit", "nproc=4096:4096"]


def run(cmd, timeout=600, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                       **kw)
    if p.returncode != 0:
        raise Failed(f"{' '.join(cmd[:6])} ... exited {p.returncode}:\n"
                     f"{p.stdout[-2000:]}{p.stderr[-2000:]}")
    return p.stdout


def timed(label, timings, fn, *args):
    start = time.monotonic()
    result = fn(*args)
    timings.append((label, time.monotonic() - start))
    return result


def probe_podman(podman, limits):
    """Can podman store and run a container here at all? A one-file image
    first (cheap), then a container of the base image."""
    with tempfile.TemporaryDirectory(prefix="utpost-probe-") as tmp:
        os.mkdir(os.path.join(tmp, "etc"))
        tar = subprocess.run(["tar", "-C", tmp, "-c", "."],
                             capture_output=True)
        p = subprocess.run(podman + ["import", "-", "localhost/utpost-probe"],
                           input=tar.stdout, capture_output=True)
        if p.returncode != 0:
            raise CannotRunContainers(
                "podman import: " + p.stderr.decode(errors="replace"))
        subprocess.run(podman + ["rmi", "localhost/utpost-probe"],
                       capture_output=True)


def probe_run(podman, limits):
    p = subprocess.run(podman + ["run", "--rm"] + limits + [BASE, "/bin/true"],
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise CannotRunContainers("podman run: " + p.stderr)


def make_base(podman):
    if subprocess.run(podman + ["image", "exists", BASE]).returncode == 0:
        return
    with tempfile.TemporaryDirectory(prefix="utpost-base-") as tmp:
        rootfs = os.path.join(tmp, "rootfs")
        run(["debootstrap", "--variant=minbase", "bookworm", rootfs, MIRROR],
            timeout=900)
        with open(os.path.join(rootfs, "etc", "apt", "sources.list"),
                  "w") as f:
            f.write(f"deb {MIRROR} bookworm main\n"
                    f"deb {MIRROR} bookworm-updates main\n"
                    f"deb {SECURITY} bookworm-security main\n")
        shutil.rmtree(os.path.join(rootfs, "var", "lib", "apt", "lists"))
        tar = subprocess.Popen(["tar", "-C", rootfs, "-c", "."],
                               stdout=subprocess.PIPE)
        p = subprocess.run(podman + ["import", "-", BASE], stdin=tar.stdout,
                           capture_output=True, text=True)
        tar.wait()
        if p.returncode != 0 or tar.returncode != 0:
            raise Failed(f"podman import: {p.stderr}")


def build_image(podman, limits, build_dir):
    """The runtime target from a context holding only what it copies."""
    with tempfile.TemporaryDirectory(prefix="utpost-context-") as ctx:
        shutil.copy(os.path.join(ROOT, "Dockerfile"), ctx)
        shutil.copytree(os.path.join(ROOT, "sim", "data"),
                        os.path.join(ctx, "sim", "data"))
        for program in ("gateway/utpostd", "gateway/utpost-inspect",
                        "cli/utpostctl", "sim/utpost-sim"):
            dest = os.path.join(ctx, "build", program)
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            # Without the debug information of a RelWithDebInfo build, as
            # the build stage's install -s does.
            run(["strip", "--strip-debug", "-o", dest,
                 os.path.join(build_dir, program)])
        old = {image: subprocess.run(
            podman + ["image", "inspect", "-f", "{{.Id}}", image],
            capture_output=True, text=True).stdout.strip()
            for image in (IMAGE, SIM_IMAGE)}
        run(podman + ["build"] + limits + [
            "--build-arg", f"BASE={BASE}", "--build-arg", "BINARIES=prebuilt",
            "--target", "sim", "-t", SIM_IMAGE, ctx], timeout=900)
        run(podman + ["build"] + limits + [
            "--build-arg", f"BASE={BASE}", "--build-arg", "BINARIES=prebuilt",
            "--target", "runtime", "-t", IMAGE, ctx], timeout=900)
        # The previous run's image, now untagged; the stages before it stay
        # as podman's layer cache.
        for image, old_id in old.items():
            new_id = run(podman + ["image", "inspect", "-f", "{{.Id}}",
                                   image]).strip()
            if old_id and old_id != new_id:
                subprocess.run(podman + ["rmi", old_id], capture_output=True)


def check_versions(podman, limits, version):
    out = run(podman + ["run", "--rm"] + limits + [IMAGE, "--version"])
    if out != f"utpostd {version}\n":
        raise Failed(f"utpostd --version in the image printed {out!r}")
    out = run(podman + ["run", "--rm"] + limits + [
        "--entrypoint", "/opt/utpost/bin/utpostctl", IMAGE, "--version"])
    if out != f"utpostctl {version}\n":
        raise Failed(f"utpostctl --version in the image printed {out!r}")
    print(f"in the image: utpostd {version}, utpostctl {version}")


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def health(port, service, timeout=2.0):
    """grpc.health.v1.Health/Check by hand (the message is one string
    field; the answer one enum): 1 SERVING, 2 NOT_SERVING, None no answer."""
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        check = channel.unary_unary("/grpc.health.v1.Health/Check")
        name = service.encode()
        try:
            reply = check(b"\x0a" + bytes([len(name)]) + name, timeout=timeout)
        except grpc.RpcError:
            return None
    return reply[1] if len(reply) >= 2 and reply[0] == 0x08 else 0


def write_config(path, host, broker_port, ports=(7443, 9464, 8081)):
    """A configuration for role all with a SQLite store in /tmp, the
    development certificates mounted beside it, the broker on broker_port."""
    api, metrics, health_port = ports
    with open(path, "w") as f:
        f.write(f"""server:
  listen: {host}:{api}
  cert_file: certs/server.pem
  key_file: certs/server.key
  client_ca_file: certs/ca.pem
store: {{sqlite_path: /tmp/utpost.db}}
broker: {{host: 127.0.0.1, port: {broker_port}}}
tenants:
  - organisation_number: "964338531"
    name: Bergen kommune
    return_address: {{name: Bergen kommune, address_lines: [Postboks 7700], postal_code: "5020", city: Bergen}}
receipts: {{key_file: certs/receipts.key, cert_chain_file: certs/receipts.pem}}
providers:
  registry_url: https://127.0.0.1:1
  digipost: {{url: "https://127.0.0.1:1", sender_id: "1", signing_key_file: certs/sender.key}}
  print: {{url: "https://127.0.0.1:1"}}
observability:
  metrics_listen: {host}:{metrics}
  health_listen: {host}:{health_port}
  log_format: text
""")


def free_port(offsets=(0,)):
    """A loopback port p with every p + offset free (RabbitMQ's node wants
    p, p + 10000 for epmd and p + 20000 for distribution)."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            p = s.getsockname()[1]
        if p + max(offsets) > 65535:
            continue
        try:
            for off in offsets:
                with socket.socket() as s:
                    s.bind(("127.0.0.1", p + off))
        except OSError:
            continue
        return p
    raise Failed("no free port")


def check_daemon_ready(podman, limits, tmp):
    """The same image with a RabbitMQ node on the host's loopback (the
    container in the host's network, still non-root and read-only):
    readiness SERVING once the store and the broker answer."""
    conf = os.path.join(tmp, "etc")
    amqp = free_port((0, 10000, 20000))
    ports = (free_port(), free_port(), free_port())
    write_config(os.path.join(conf, "utpostd-ready.yaml"), "127.0.0.1", amqp,
                 ports)
    rabbit = os.path.join(tmp, "rabbitmq")
    run([os.path.join(ROOT, "scripts", "rabbitmq.sh"), "start", rabbit,
         str(amqp)], timeout=120)
    name = f"utpost-image-test-ready-{os.getpid()}"
    try:
        run(podman + ["run", "-d", "--name", name] + limits + [
            "--network", "host", "--read-only", "--tmpfs", "/tmp",
            "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
            "--user", "10001:10001", "-v", f"{conf}:/etc/utpost:ro", IMAGE,
            "--config", "/etc/utpost/utpostd-ready.yaml"])
        deadline = time.monotonic() + 30
        ready = None
        while time.monotonic() < deadline:
            ready = health(ports[2], "readiness")
            if ready == 1:
                break
            time.sleep(0.2)
        if ready != 1:
            raise Failed(f"readiness with a broker: {ready}, not SERVING\n" +
                         run(podman + ["logs", name]))
        print(f"in the image: with RabbitMQ on 127.0.0.1:{amqp}, readiness "
              "SERVING")
    finally:
        subprocess.run(podman + ["rm", "-f", "-t", "5", name],
                       capture_output=True)
        subprocess.run([os.path.join(ROOT, "scripts", "rabbitmq.sh"), "stop",
                        rabbit], capture_output=True, timeout=60)


def check_daemon(podman, limits, tmp):
    """utpostd with role all, a SQLite store in /tmp and no broker: alive,
    not ready (the broker does not answer), on the published health port."""
    conf = os.path.join(tmp, "etc")
    shutil.copytree(os.path.join(ROOT, "certs-dev"), os.path.join(conf,
                                                                  "certs"))
    for dirpath, _, files in os.walk(conf):
        os.chmod(dirpath, 0o755)
        for f in files:
            os.chmod(os.path.join(dirpath, f), 0o644)
    write_config(os.path.join(conf, "utpostd.yaml"), "0.0.0.0", closed_port())
    name = f"utpost-image-test-{os.getpid()}"
    run(podman + ["run", "-d", "--name", name] + limits + [
        "--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL",
        "--security-opt", "no-new-privileges", "--user", "10001:10001",
        "-v", f"{conf}:/etc/utpost:ro", "-p", "127.0.0.1::8081", IMAGE,
        "--config", "/etc/utpost/utpostd.yaml"])
    try:
        mapping = run(podman + ["port", name, "8081"]).strip().splitlines()[0]
        port = int(mapping.rsplit(":", 1)[1])
        deadline = time.monotonic() + 30
        live = None
        while time.monotonic() < deadline:
            live = health(port, "liveness")
            if live == 1:
                break
            state = run(podman + ["inspect", "-f", "{{.State.Running}}",
                                  name]).strip()
            if state != "true":
                raise Failed("utpostd exited in the container:\n" + run(
                    podman + ["logs", name]))
            time.sleep(0.2)
        if live != 1:
            raise Failed(f"liveness on 127.0.0.1:{port}: {live}, not SERVING"
                         "\n" + run(podman + ["logs", name]))
        ready = health(port, "readiness")
        if ready != 2:
            raise Failed(f"readiness without a broker: {ready}, not "
                         "NOT_SERVING")
        print(f"in the image: utpostd runs as 10001 read-only; health port "
              f"published on 127.0.0.1:{port}: liveness SERVING, readiness "
              "NOT_SERVING (no broker)")
    finally:
        subprocess.run(podman + ["rm", "-f", "-t", "2", name],
                       capture_output=True)


def check_sim(podman, limits, tmp):
    """utpost-sim from the sim target, the development certificates mounted
    where its defaults look: it says where it listens and completes a TLS
    handshake on the published port."""
    certs = os.path.join(tmp, "etc", "certs")
    name = f"utpost-image-test-sim-{os.getpid()}"
    run(podman + ["run", "-d", "--name", name] + limits + [
        "--read-only", "--cap-drop", "ALL", "--security-opt",
        "no-new-privileges", "-v", f"{certs}:/opt/utpost/certs-dev:ro",
        "-p", "127.0.0.1::8443", SIM_IMAGE])
    try:
        mapping = run(podman + ["port", name, "8443"]).strip().splitlines()[0]
        port = int(mapping.rsplit(":", 1)[1])
        deadline = time.monotonic() + 30
        while "listening on" not in run(podman + ["logs", name]):
            if time.monotonic() > deadline:
                raise Failed("utpost-sim did not start:\n" +
                             run(podman + ["logs", name]))
            time.sleep(0.2)
        context = ssl.create_default_context(cafile=os.path.join(certs,
                                                                 "ca.pem"))
        context.check_hostname = False
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
            with context.wrap_socket(raw) as tls:
                version = tls.version()
        print(f"in the sim image: utpost-sim on 127.0.0.1:{port}, {version} "
              "with the development CA")
    finally:
        subprocess.run(podman + ["rm", "-f", "-t", "2", name],
                       capture_output=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--version", required=True)
    a = ap.parse_args()
    for tool in ("podman", "runc", "debootstrap"):
        if not shutil.which(tool):
            print(f"{tool} not found: run scripts/install-deps.sh",
                  file=sys.stderr)
            return 1
    podman, limits = podman_args()
    timings = []
    try:
        with tempfile.TemporaryDirectory(prefix="utpost-image-") as tmp:
            probe_podman(podman, limits)
            timed("base image (debootstrap + import, once)", timings,
                  make_base, podman)
            probe_run(podman, limits)
            timed("podman build, targets sim and runtime (prebuilt)", timings,
                  build_image, podman, limits, a.build_dir)
            timed("--version of utpostd and utpostctl", timings,
                  check_versions, podman, limits, a.version)
            timed("utpostd in the image, health probes", timings,
                  check_daemon, podman, limits, tmp)
            timed("utpostd in the image with RabbitMQ, readiness", timings,
                  check_daemon_ready, podman, limits, tmp)
            timed("utpost-sim in the sim image, TLS", timings,
                  check_sim, podman, limits, tmp)
    except CannotRunContainers as e:
        print(f"SKIPPED: podman cannot run containers on this host: {e}",
              file=sys.stderr)
        return SKIP
    except Failed as e:
        print(f"FAILED: {e}", file=sys.stderr)
        return 1
    for label, seconds in timings:
        print(f"  {label:50s} {seconds:6.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
