#include "gateway/api/receipt_log_service.h"

#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "gateway/api/export_stream.h"
#include "gateway/api/letter_service.h"
#include "gateway/api/letter_view.h"
#include "google/protobuf/util/time_util.h"

namespace utpost::api {
namespace {

using google::protobuf::util::TimeUtil;

// The tenant whose receipts the caller may see: its own for a tenant;
// `asked` (any, or "" for all) for an operator.
absl::StatusOr<std::string> ScopeOf(const Caller& caller,
                                    const std::string& asked) {
  if (caller.kind == Caller::Kind::kOperator) return asked;
  if (!asked.empty() && asked != caller.tenant) {
    return absl::PermissionDeniedError(
        "tenant: a tenant may export only its own receipts");
  }
  return caller.tenant;
}

void AddHashes(const std::vector<std::string>& hashes,
               google::protobuf::RepeatedPtrField<std::string>* out) {
  for (const auto& h : hashes) *out->Add() = h;
}

// Streams the items of an ExportStream.
class ExportReactor final
    : public grpc::ServerWriteReactor<v1::ExportReceiptsResponse> {
 public:
  ExportReactor(store::Store* store, receipts::ReceiptSigner* signer,
                ExportRequest request)
      : stream_(store, signer, std::move(request)) {}

  absl::Status Prepare() { return stream_.Prepare(); }

  void Start() { Next(); }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "client went away"));
      return;
    }
    Next();
  }
  void OnDone() override { delete this; }

 private:
  void Next() {
    absl::StatusOr<bool> more = stream_.Next(&current_);
    if (!more.ok()) {
      Finish(ToGrpcStatus(more.status()));
      return;
    }
    if (!*more) {
      Finish(grpc::Status::OK);
      return;
    }
    StartWrite(&current_);
  }

  ExportStream stream_;
  v1::ExportReceiptsResponse current_;
};

}  // namespace

v1::TreeHead ToApiTreeHead(const store::TreeHead& h) {
  v1::TreeHead out;
  out.set_tree_size(h.tree_size);
  out.set_root_hash(h.root_hash);
  SetTimestamp(h.time_ms, out.mutable_time());
  out.set_jws(h.jws);
  return out;
}

absl::StatusOr<store::TreeHead> HeadCovering(store::Store* store,
                                             int64_t leaf_index) {
  auto latest = store->LatestTreeHead();
  if (latest.ok() && latest->tree_size > leaf_index) return *latest;
  if (!latest.ok() && !absl::IsNotFound(latest.status())) {
    return latest.status();
  }
  return store->IssueTreeHead();
}

absl::StatusOr<v1::EvidenceBundle> BuildEvidence(
    store::Store* store, const std::vector<store::ReceiptRecord>& receipts) {
  v1::EvidenceBundle out;
  int64_t last = -1;
  for (const auto& r : receipts) last = std::max(last, r.leaf_index);
  if (last < 0) {
    return absl::FailedPreconditionError("the letter has no logged receipts");
  }
  ASSIGN_OR_RETURN(store::TreeHead head, HeadCovering(store, last));
  *out.mutable_tree_head() = ToApiTreeHead(head);
  for (const auto& r : receipts) {
    auto* lr = out.add_receipts();
    lr->set_leaf_index(r.leaf_index);
    lr->set_letter_id(r.letter_id);
    lr->set_sequence(r.sequence);
    lr->set_jws(r.jws);
    if (r.leaf_index < 0) continue;
    ASSIGN_OR_RETURN(auto proof,
                     store->InclusionProof(r.leaf_index, head.tree_size));
    AddHashes(proof, lr->mutable_inclusion_proof());
  }
  return out;
}

ReceiptLogServiceImpl::ReceiptLogServiceImpl(store::Store* store,
                                             receipts::ReceiptSigner* signer,
                                             AccessPolicy access)
    : store_(store), signer_(signer), access_(std::move(access)) {}

grpc::ServerUnaryReactor* ReceiptLogServiceImpl::GetTreeHead(
    grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeChecked<v1::GetTreeHeadRequest, v1::TreeHead>(
      request, response, [this, ctx](auto* call) {
        call->Reply(DoGetTreeHead(ctx, call->request, &call->response));
      });
}

absl::Status ReceiptLogServiceImpl::DoGetTreeHead(
    grpc::CallbackServerContext* ctx, const v1::GetTreeHeadRequest& req,
    v1::TreeHead* response) {
  const v1::GetTreeHeadRequest* request = &req;
  auto caller = IdentifyCaller(*ctx->auth_context(), access_);
  if (!caller.ok()) return caller.status();
  if (request->tree_size() < 0) {
    return absl::InvalidArgumentError("tree_size: must not be negative");
  }
  absl::StatusOr<store::TreeHead> head =
      request->tree_size() > 0 ? store_->GetTreeHead(request->tree_size())
      : request->fresh()       ? store_->IssueTreeHead()
                               : store_->LatestTreeHead();
  if (!head.ok()) return head.status();
  *response = ToApiTreeHead(*head);
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* ReceiptLogServiceImpl::GetInclusionProof(
    grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeChecked<v1::GetInclusionProofRequest, v1::InclusionProof>(
      request, response, [this, ctx](auto* call) {
        call->Reply(DoGetInclusionProof(ctx, call->request, &call->response));
      });
}

absl::Status ReceiptLogServiceImpl::DoGetInclusionProof(
    grpc::CallbackServerContext* ctx, const v1::GetInclusionProofRequest& req,
    v1::InclusionProof* response) {
  const v1::GetInclusionProofRequest* request = &req;
  auto caller = IdentifyCaller(*ctx->auth_context(), access_);
  if (!caller.ok()) return caller.status();
  auto scope = ScopeOf(*caller, "");
  if (!scope.ok()) return scope.status();
  std::optional<store::ReceiptRecord> receipt;
  if (!request->letter_id().empty()) {
    auto id = LetterIdFromName(request->letter_id(), "letter_id");
    if (!id.ok()) return id.status();
    auto all = store_->GetReceipts(*id, *scope);
    if (!all.ok()) return all.status();
    for (const auto& r : *all) {
      if (r.sequence == request->sequence()) receipt = r;
    }
    if (!receipt.has_value()) {
      return absl::NotFoundError(absl::StrCat(
          "letter ", *id, " has no receipt ", request->sequence()));
    }
  } else {
    auto r = store_->ReceiptAtLeaf(request->leaf_index());
    if (!r.ok()) return r.status();
    if (!scope->empty() && r->tenant != *scope) {
      return absl::NotFoundError(
          absl::StrCat("no receipt at leaf ", request->leaf_index()));
    }
    receipt = *r;
  }
  if (receipt->leaf_index < 0) {
    return absl::UnavailableError("the receipt is not in the log yet; retry");
  }
  absl::StatusOr<store::TreeHead> head =
      request->tree_size() > 0 ? store_->GetTreeHead(request->tree_size())
                               : HeadCovering(store_, receipt->leaf_index);
  if (!head.ok()) return head.status();
  if (head->tree_size <= receipt->leaf_index) {
    return absl::InvalidArgumentError(
        absl::StrCat("tree_size: the head of size ", head->tree_size,
                     " does not hold leaf ", receipt->leaf_index));
  }
  auto proof = store_->InclusionProof(receipt->leaf_index, head->tree_size);
  if (!proof.ok()) return proof.status();
  response->set_leaf_index(receipt->leaf_index);
  response->set_tree_size(head->tree_size);
  AddHashes(*proof, response->mutable_hashes());
  response->set_receipt_jws(receipt->jws);
  *response->mutable_tree_head() = ToApiTreeHead(*head);
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* ReceiptLogServiceImpl::GetConsistencyProof(
    grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeChecked<v1::GetConsistencyProofRequest, v1::ConsistencyProof>(
      request, response, [this, ctx](auto* call) {
        call->Reply(DoGetConsistencyProof(ctx, call->request, &call->response));
      });
}

absl::Status ReceiptLogServiceImpl::DoGetConsistencyProof(
    grpc::CallbackServerContext* ctx, const v1::GetConsistencyProofRequest& req,
    v1::ConsistencyProof* response) {
  const v1::GetConsistencyProofRequest* request = &req;
  auto caller = IdentifyCaller(*ctx->auth_context(), access_);
  if (!caller.ok()) return caller.status();
  if (request->first() <= 0 || request->first() > request->second()) {
    return absl::InvalidArgumentError(
        "first: must satisfy 0 < first <= second");
  }
  auto proof = store_->ConsistencyProof(request->first(), request->second());
  if (!proof.ok()) return proof.status();
  response->set_first(request->first());
  response->set_second(request->second());
  AddHashes(*proof, response->mutable_hashes());
  return absl::OkStatus();
}

grpc::ServerWriteReactor<v1::ExportReceiptsResponse>*
ReceiptLogServiceImpl::ExportReceipts(
    grpc::CallbackServerContext* ctx,
    const v1::ExportReceiptsRequest* request) {
  ExportRequest q;
  absl::Status s;
  auto caller = IdentifyCaller(*ctx->auth_context(), access_);
  if (!caller.ok()) {
    s = caller.status();
  } else {
    auto scope = ScopeOf(*caller, request->tenant());
    if (!scope.ok()) {
      s = scope.status();
    } else {
      q.tenant = *scope;
    }
  }
  if (request->has_start_time()) {
    q.has_start = true;
    q.start_ms = TimeUtil::TimestampToMilliseconds(request->start_time());
  }
  if (request->has_end_time()) {
    q.has_end = true;
    q.end_ms = TimeUtil::TimestampToMilliseconds(request->end_time());
  }
  if (s.ok() && request->heads_since_size() < 0) {
    s = absl::InvalidArgumentError("heads_since_size: must not be negative");
  }
  q.heads_since_size = request->heads_since_size();
  auto* reactor = new ExportReactor(store_, signer_, std::move(q));
  if (s.ok()) s = reactor->Prepare();
  if (!s.ok()) {
    reactor->Finish(ToGrpcStatus(s));
    return reactor;
  }
  reactor->Start();
  return reactor;
}

}  // namespace utpost::api
