// utpost.v1.ReceiptLogService: tree heads, inclusion and consistency proofs,
// and exports of the receipt log (see proto/utpost/v1/audit.proto).
// Tenants see only their own receipts; operators any tenant's; tree heads
// and consistency proofs are for every authenticated caller.
#ifndef UTPOST_GATEWAY_API_RECEIPT_LOG_SERVICE_H_
#define UTPOST_GATEWAY_API_RECEIPT_LOG_SERVICE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "gateway/api/caller.h"
#include "gateway/api/checked_unary_call.h"
#include "gateway/receipts/receipt_signer.h"
#include "gateway/store/store.h"
#include "utpost/v1/audit.grpc.pb.h"
#include "utpost/v1/letter.pb.h"

namespace utpost::api {

v1::TreeHead ToApiTreeHead(const store::TreeHead& h);

// A signed head that covers leaf `leaf_index`: the newest one, or a new one
// when the newest is older than that leaf.
absl::StatusOr<store::TreeHead> HeadCovering(store::Store* store,
                                             int64_t leaf_index);

// A letter's receipts with their proofs to one head (no PDF).
absl::StatusOr<v1::EvidenceBundle> BuildEvidence(
    store::Store* store, const std::vector<store::ReceiptRecord>& receipts);

// The unary methods are registered raw: their requests are parsed by
// ParseRequest, so that invalid UTF-8 gets INVALID_ARGUMENT with the field
// path.
using ReceiptLogServiceBase =
    v1::ReceiptLogService::WithRawCallbackMethod_GetTreeHead<
        v1::ReceiptLogService::WithRawCallbackMethod_GetInclusionProof<
            v1::ReceiptLogService::WithRawCallbackMethod_GetConsistencyProof<
                v1::ReceiptLogService::CallbackService>>>;

class ReceiptLogServiceImpl final : public ReceiptLogServiceBase {
 public:
  // `store` and `signer` (the receipt signer, which also signs the
  // statements of exports) are not owned and outlive this.
  ReceiptLogServiceImpl(store::Store* store, receipts::ReceiptSigner* signer,
                        AccessPolicy access);

  grpc::ServerUnaryReactor* GetTreeHead(grpc::CallbackServerContext* ctx,
                                        const grpc::ByteBuffer* request,
                                        grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* GetInclusionProof(
      grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
      grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* GetConsistencyProof(
      grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
      grpc::ByteBuffer* response) override;
  grpc::ServerWriteReactor<v1::ExportReceiptsResponse>* ExportReceipts(
      grpc::CallbackServerContext* ctx,
      const v1::ExportReceiptsRequest* request) override;

 private:
  absl::Status DoGetTreeHead(grpc::CallbackServerContext* ctx,
                             const v1::GetTreeHeadRequest& request,
                             v1::TreeHead* response);
  absl::Status DoGetInclusionProof(grpc::CallbackServerContext* ctx,
                                   const v1::GetInclusionProofRequest& request,
                                   v1::InclusionProof* response);
  absl::Status DoGetConsistencyProof(
      grpc::CallbackServerContext* ctx,
      const v1::GetConsistencyProofRequest& request,
      v1::ConsistencyProof* response);

  store::Store* const store_;
  receipts::ReceiptSigner* const signer_;
  const AccessPolicy access_;
};

}  // namespace utpost::api

#endif  // UTPOST_GATEWAY_API_RECEIPT_LOG_SERVICE_H_
