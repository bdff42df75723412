"""A private RabbitMQ cluster on loopback for end-to-end tests, run through
scripts/rabbitmq-cluster.sh (as tests/testing/broker_process.h's
BrokerCluster is for C++ tests): N nodes with distinct names and ports, one
shared epmd and Erlang cookie, one folder, everything stopped by pid.

    with RabbitCluster(work_dir, nodes=3) as cluster:
        cluster.nodes()            # ["127.0.0.1:P1", ...] for broker.nodes
        cluster.stop_node(0)       # 0-based
        cluster.start_node(0)      # rejoins; returns once it runs

ClusterStack is harness.Stack with utpostd configured for such a cluster
(broker.nodes) instead of a single node."""

import json
import os
import random
import socket
import subprocess
import time

import harness

SCRIPT = os.path.join(harness.ROOT, "scripts", "rabbitmq-cluster.sh")


def cluster_base_port(count):
    """A base AMQP port such that base .. base + count - 1, epmd at
    base + 10000 and distribution at each AMQP port + 20000 are free, all
    below Linux's ephemeral range (32768 and up)."""
    for _ in range(200):
        base = random.randint(5700, 12700 - count + 1)
        ports = [base + 10000]
        for i in range(count):
            ports += [base + i, base + i + 20000]
        try:
            for p in ports:
                with socket.socket() as s:
                    s.bind(("127.0.0.1", p))
            return base
        except OSError:
            continue
    raise RuntimeError("no free ports for a broker cluster")


class RabbitCluster:
    """Starts `nodes` RabbitMQ nodes in `work_dir`/rabbitmq-cluster and
    returns once every node runs and sees all as running members (about
    20 s for three on two cores). Tries once more with other ports should
    the first start fail."""

    def __init__(self, work_dir, nodes=3, attempts=2):
        self.count = nodes
        self.dir = os.path.join(work_dir, "rabbitmq-cluster")
        self.start_seconds = None
        self._running = [False] * nodes
        last = None
        for _ in range(attempts):
            self.base = cluster_base_port(nodes)
            started = time.monotonic()
            result = subprocess.run(
                [SCRIPT, "start", self.dir, str(self.base), str(nodes)],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            if result.returncode == 0:
                self.start_seconds = time.monotonic() - started
                self._running = [True] * nodes
                return
            last = result.stdout
            subprocess.run([SCRIPT, "stop", self.dir], check=False)
            subprocess.run(["rm", "-rf", self.dir], check=False)
        raise RuntimeError(f"broker cluster did not start: {last}")

    # --- where the nodes are ---------------------------------------------
    def port(self, i):
        """The AMQP port of node `i` (0-based) on 127.0.0.1."""
        return self.base + i

    def node(self, i):
        return f"127.0.0.1:{self.port(i)}"

    def nodes(self):
        """Every node as "host:port", for broker.nodes."""
        return [self.node(i) for i in range(self.count)]

    def node_name(self, i):
        """The Erlang node name, as rabbitmqctl shows it."""
        return f"utpost-{self.port(i)}@localhost"

    def running(self, i):
        return self._running[i]

    # --- stopping and starting -------------------------------------------
    def stop_node(self, i):
        """Stops node `i`; its data stays. Stopping a stopped node is fine."""
        self._check(i)
        if not self._running[i]:
            return
        subprocess.run([SCRIPT, "stop-node", self.dir, str(i + 1)], check=True)
        self._running[i] = False

    def kill_node(self, i):
        """Kills node `i` with SIGKILL: no connection is closed politely,
        nothing handed over. Its data stays."""
        self._check(i)
        if not self._running[i]:
            return
        subprocess.run([SCRIPT, "kill-node", self.dir, str(i + 1)], check=True)
        self._running[i] = False

    def start_node(self, i):
        """Starts node `i` again; returns once it runs and sees every
        running node as a member."""
        self._check(i)
        self._running[i] = True
        subprocess.run([SCRIPT, "start-node", self.dir, str(i + 1)],
                       check=True)

    def stop(self):
        """Stops every node and the cluster's epmd."""
        subprocess.run([SCRIPT, "stop", self.dir], check=False)
        self._running = [False] * self.count

    close = stop

    def ctl(self, i, *args):
        """rabbitmqctl on node `i`; returns its standard output."""
        self._check(i)
        return subprocess.run(
            [SCRIPT, "ctl", self.dir, str(i + 1), *args], check=True,
            stdout=subprocess.PIPE, text=True).stdout

    def ctl_json(self, i, *args):
        return json.loads(self.ctl(i, *args, "-q", "--formatter", "json"))

    def running_nodes(self, i):
        """The Erlang names of the members node `i` sees running."""
        return self.ctl_json(i, "cluster_status").get("running_nodes", [])

    def queues(self, i, prefix=""):
        """name, type, leader, members and messages of every queue whose
        name starts with `prefix`, as node `i` sees them."""
        rows = self.ctl_json(i, "list_queues", "name", "type", "leader",
                             "members", "messages")
        return [r for r in rows if r["name"].startswith(prefix)]

    def connection_nodes(self, i, name):
        """The nodes (0-based) that the client connections whose name starts
        with `name` are connected to, as node `i` sees them (the client
        names its node: "relay @ 127.0.0.1:5701")."""
        rows = self.ctl_json(i, "list_connections", "client_properties",
                             "port")
        found = []
        for row in rows:
            for key, _, value in row.get("client_properties", []):
                if key == "connection_name" and value.startswith(name):
                    found.append(row["port"] - self.base)
        return found

    def _check(self, i):
        if not 0 <= i < self.count:
            raise IndexError(f"no node {i} in a cluster of {self.count}")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class ClusterStack(harness.Stack):
    """harness.Stack on a RabbitMQ cluster: utpostd gets broker.nodes with
    every node of `self.cluster` (also `self.broker`, which Stack.close
    stops)."""

    def __init__(self, nodes=3, **kw):
        self.cluster_size = nodes
        self.cluster = None
        super().__init__(**kw)

    def make_broker(self):
        self.cluster = RabbitCluster(self.work, self.cluster_size)
        return self.cluster

    def broker_config(self):
        return "nodes: [" + ", ".join(f'"{n}"' for n in
                                      self.cluster.nodes()) + "]"
