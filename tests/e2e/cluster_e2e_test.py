"""utpostd on a three-node RabbitMQ cluster (broker.nodes): the node its
outbox relay publishes to is stopped while letters are submitted and
delivered; every letter is still delivered, once, and the relay and the
workers carry on from the other nodes. Then the node comes back and rejoins.
The simulator counts what reached the provider."""

import concurrent.futures
import time
import unittest

from harness import Letter, load_persons, submit_request
from rabbit_cluster import ClusterStack


class ClusterTest(unittest.TestCase):
    def setUp(self):
        self.persons = load_persons()

    def submit_many(self, stub, n, prefix):
        people = self.persons["mailbox"]

        def one(i):
            return stub.SubmitLetter(submit_request(
                person=people[i % len(people)], ref=f"{prefix}-{i}"),
                timeout=60).letter.id

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            return list(pool.map(one, range(n)))

    def test_a_stopped_node_loses_no_letter(self):
        started = time.monotonic()
        with ClusterStack(nodes=3) as stack:
            cluster = stack.cluster
            print(f"cluster of 3 up in {cluster.start_seconds:.1f} s",
                  flush=True)
            # Every queue is a quorum queue on all three nodes.
            names = {cluster.node_name(i) for i in range(3)}
            queues = stack.wait_until(
                lambda: cluster.queues(0, "utpost."), "topology declared")
            for q in queues:
                self.assertEqual(q["type"], "quorum", q)
                self.assertEqual(set(q["members"]), names, q)

            stub = stack.letters()
            # Slow deliveries, so that the stop comes while letters are
            # still in the queues.
            stack.set_fault(endpoint="digipost", status=0, count=-1,
                            delay_ms=150)
            ids = self.submit_many(stub, 100, "before")
            # The relay connects when it first publishes.
            relay_nodes = stack.wait_until(
                lambda: cluster.connection_nodes(0, "relay @"),
                "relay connected")
            victim = relay_nodes[0]
            # Letters keep coming while the node stops: the API keeps
            # accepting, the relay publishes elsewhere.
            with concurrent.futures.ThreadPoolExecutor(1) as bg:
                during = bg.submit(self.submit_many, stub, 200, "during")
                time.sleep(0.5)
                # Counted as the stop begins: on a loaded machine the stop
                # itself can take longer than the rest of the batch.
                at_stop = len(stack.deliveries()["digipost"])
                cluster.stop_node(victim)
                ids += during.result()
            # Stopped in the middle: some delivered, not all.
            self.assertLess(at_stop, len(ids))
            # More while the node is down: the relay publishes them
            # through another node.
            ids += self.submit_many(stub, 20, "down")
            others = [i for i in range(3) if i != victim]
            stack.wait_until(
                lambda: [n for n in cluster.connection_nodes(
                    others[0], "relay @") if n != victim],
                "relay on another node")

            done = stack.wait_final(stub, ids, timeout=180)
            states = {}
            for l in done.values():
                name = Letter.State.Name(l.state)
                states[name] = states.get(name, 0) + 1
            self.assertEqual(states, {"DELIVERED": len(ids)})
            counts = stack.deliveries()["digipost"]
            self.assertEqual(sorted(counts), sorted(ids))
            for i in ids:
                # A hand-off cut off by the stop may be resent; the
                # provider refuses the repeat, so each is accepted once.
                self.assertEqual(counts[i]["accepted"], 1, i)

            # The node comes back and rejoins; a letter goes through.
            cluster.start_node(victim)
            self.assertEqual(set(cluster.running_nodes(victim)), names)
            last = self.submit_many(stub, 5, "after")
            done = stack.wait_final(stub, last, timeout=60)
            self.assertEqual({Letter.State.Name(l.state)
                              for l in done.values()}, {"DELIVERED"})
        print(f"test took {time.monotonic() - started:.1f} s", flush=True)


if __name__ == "__main__":
    unittest.main()
