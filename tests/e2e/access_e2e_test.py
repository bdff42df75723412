"""Idempotency on the client reference, tenant isolation, and mTLS: no
certificate or a certificate from another CA cannot call anything."""

import os
import time
import unittest

import grpc

from harness import (CERTS, OSLO, Letter, Stack, letter_pb2, letter_pb2_grpc,
                     load_persons, ops_pb2, ops_pb2_grpc, submit_request)


class AccessTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = Stack()
        cls.persons = load_persons()

    @classmethod
    def tearDownClass(cls):
        cls.stack.close()

    def test_same_reference_same_body_returns_the_same_letter(self):
        stub = self.stack.letters()
        req = submit_request(person=self.persons["mailbox"][0], ref="idem-1")
        first = stub.SubmitLetter(req)
        again = stub.SubmitLetter(req)
        self.assertTrue(first.created)
        self.assertFalse(again.created)
        self.assertEqual(first.letter.id, again.letter.id)

    def test_same_reference_other_body_is_already_exists(self):
        stub = self.stack.letters()
        stub.SubmitLetter(submit_request(person=self.persons["mailbox"][0],
                                         ref="idem-2", title="First"))
        with self.assertRaises(grpc.RpcError) as e:
            stub.SubmitLetter(submit_request(
                person=self.persons["mailbox"][0], ref="idem-2",
                title="Second"))
        self.assertEqual(e.exception.code(), grpc.StatusCode.ALREADY_EXISTS)
        listed = stub.ListLetters(letter_pb2.ListLettersRequest(
            client_reference="idem-2"))
        self.assertEqual(len(listed.letters), 1)
        self.assertEqual(listed.letters[0].title, "First")

    def test_same_reference_in_two_tenants_is_two_letters(self):
        req = submit_request(person=self.persons["mailbox"][0], ref="shared")
        a = self.stack.letters().SubmitLetter(req)
        b = self.stack.letters(tenant=OSLO).SubmitLetter(req)
        self.assertTrue(a.created and b.created)
        self.assertNotEqual(a.letter.id, b.letter.id)

    def test_other_tenant_cannot_see_or_cancel(self):
        mine = self.stack.letters().SubmitLetter(submit_request(
            person=self.persons["mailbox"][0], ref="isolation"))
        other = self.stack.letters(tenant=OSLO)
        for call, req in (
                (other.GetLetter, letter_pb2.GetLetterRequest(
                    name=mine.letter.name)),
                (other.GetReceipts, letter_pb2.GetReceiptsRequest(
                    name=mine.letter.name)),
                (other.CancelLetter, letter_pb2.CancelLetterRequest(
                    name=mine.letter.name))):
            with self.assertRaises(grpc.RpcError) as e:
                call(req)
            self.assertEqual(e.exception.code(), grpc.StatusCode.NOT_FOUND)
        listed = other.ListLetters(letter_pb2.ListLettersRequest(
            page_size=1000))
        self.assertNotIn(mine.letter.id, [l.id for l in listed.letters])
        # And the owner still sees it, not cancelled.
        got = self.stack.letters().GetLetter(
            letter_pb2.GetLetterRequest(name=mine.letter.name))
        self.assertNotEqual(got.state, Letter.CANCELLED)

    def assert_refused_by_tls(self, **client):
        # The same server answers a proper tenant, so a refusal below is the
        # handshake's, not a server that is down.
        self.stack.letters().ListLetters(letter_pb2.ListLettersRequest(),
                                         timeout=10)
        channel = self.stack.channel(**client)
        calls = [
            (letter_pb2_grpc.LetterServiceStub(channel).ListLetters,
             letter_pb2.ListLettersRequest()),
            (letter_pb2_grpc.LetterServiceStub(channel).SubmitLetter,
             submit_request(person=self.persons["mailbox"][0])),
            (ops_pb2_grpc.OpsServiceStub(channel).GetStatus,
             ops_pb2.GetStatusRequest()),
        ]
        for call, req in calls:
            with self.assertRaises(grpc.RpcError) as e:
                call(req, timeout=10)
            self.assertEqual(e.exception.code(), grpc.StatusCode.UNAVAILABLE)

    def test_without_client_certificate_nothing_can_be_called(self):
        self.assert_refused_by_tls(cert=None, key=None)

    def test_certificate_from_another_ca_cannot_call(self):
        self.assert_refused_by_tls(cert=f"{CERTS}/stranger.pem",
                                   key=f"{CERTS}/stranger.key")

    def assert_certificate_refused(self, cert, key, message):
        """A certificate the CA issued, refused by the gateway: every call is
        PERMISSION_DENIED, and a Bergen letter stays as it was."""
        mine = self.stack.letters().SubmitLetter(
            submit_request(person=self.persons["mailbox"][0],
                           ref=f"refused-{os.path.basename(cert)}",
                           not_before=time.time() + 3600))
        channel = self.stack.channel(cert=cert, key=key)
        letters = letter_pb2_grpc.LetterServiceStub(channel)
        calls = [
            (letters.ListLetters, letter_pb2.ListLettersRequest()),
            (letters.SubmitLetter,
             submit_request(person=self.persons["mailbox"][0])),
            (letters.GetLetter,
             letter_pb2.GetLetterRequest(name=mine.letter.name)),
            (letters.CancelLetter,
             letter_pb2.CancelLetterRequest(name=mine.letter.name)),
            (ops_pb2_grpc.OpsServiceStub(channel).GetStatus,
             ops_pb2.GetStatusRequest()),
        ]
        for call, req in calls:
            with self.assertRaises(grpc.RpcError) as e:
                call(req, timeout=10)
            self.assertEqual(e.exception.code(),
                             grpc.StatusCode.PERMISSION_DENIED,
                             e.exception.details())
            self.assertIn(message, e.exception.details())
        got = self.stack.letters().GetLetter(
            letter_pb2.GetLetterRequest(name=mine.letter.name))
        self.assertIn(got.state, (Letter.RECEIVED, Letter.QUEUED))

    def test_signing_certificate_cannot_log_in(self):
        # sender.pem signs requests to providers for Bergen; it has no
        # clientAuth extended key usage, so it is nobody's login.
        self.assert_certificate_refused(f"{CERTS}/sender.pem",
                                        f"{CERTS}/sender.key",
                                        "not for client authentication")

    def test_certificate_naming_two_organisations_is_refused(self):
        self.assert_certificate_refused(f"{CERTS}/two-orgs.pem",
                                        f"{CERTS}/two-orgs.key",
                                        "2 organisation identifiers")

    def test_tenant_cannot_call_ops_and_operator_can(self):
        ops_as_tenant = ops_pb2_grpc.OpsServiceStub(self.stack.channel())
        with self.assertRaises(grpc.RpcError) as e:
            ops_as_tenant.GetStatus(ops_pb2.GetStatusRequest())
        self.assertEqual(e.exception.code(), grpc.StatusCode.PERMISSION_DENIED)
        status = self.stack.ops().GetStatus(ops_pb2.GetStatusRequest())
        self.assertGreater(sum(c.count for c in status.letters), 0)

    def test_operator_cannot_submit_as_a_tenant(self):
        stub = self.stack.letters(tenant=None, cert=f"{CERTS}/operator.pem",
                                  key=f"{CERTS}/operator.key")
        with self.assertRaises(grpc.RpcError) as e:
            stub.SubmitLetter(submit_request(person=self.persons["mailbox"][0]))
        self.assertEqual(e.exception.code(), grpc.StatusCode.PERMISSION_DENIED)

    def test_cancel_before_hand_off_and_not_after(self):
        # Before: a gateway with the API role only routes nothing, so the
        # letter waits; cancelling it works, and its receipt says so.
        with Stack(role="api") as api_only:
            stub = api_only.letters()
            waiting = stub.SubmitLetter(submit_request(
                person=self.persons["mailbox"][0], ref="cancel-early"))
            cancelled = stub.CancelLetter(letter_pb2.CancelLetterRequest(
                name=waiting.letter.name))
            self.assertEqual(cancelled.state, Letter.CANCELLED)
            receipts = stub.GetReceipts(letter_pb2.GetReceiptsRequest(
                name=waiting.letter.name)).receipts
            self.assertEqual(receipts[-1].state, Letter.CANCELLED)
            with self.assertRaises(grpc.RpcError) as e:
                stub.CancelLetter(letter_pb2.CancelLetterRequest(
                    name=waiting.letter.name))
            self.assertEqual(e.exception.code(),
                             grpc.StatusCode.FAILED_PRECONDITION)
        # After: a delivered letter cannot be cancelled.
        stub = self.stack.letters()
        done = stub.SubmitLetter(submit_request(
            person=self.persons["mailbox"][0], ref="cancel-late"))
        final = self.stack.wait_final(stub, [done.letter.id])
        self.assertEqual(final[done.letter.id].state, Letter.DELIVERED)
        with self.assertRaises(grpc.RpcError) as e:
            stub.CancelLetter(letter_pb2.CancelLetterRequest(
                name=done.letter.name))
        self.assertEqual(e.exception.code(),
                         grpc.StatusCode.FAILED_PRECONDITION)


if __name__ == "__main__":
    unittest.main()
