#include "gateway/api/letter_service.h"

#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/digest.h"
#include "common/logging/logging.h"
#include "common/logging/trace.h"
#include "common/mask.h"
#include "common/retry_delay.h"
#include "common/status_macros.h"
#include "gateway/api/evidence_pdf.h"
#include "gateway/api/export_stream.h"
#include "gateway/api/letter_ids.h"
#include "gateway/api/letter_view.h"
#include "gateway/api/receipt_log_service.h"
#include "gateway/api/submit_batch_reactor.h"
#include "gateway/store/lifecycle.h"
#include "google/protobuf/util/time_util.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "spdlog/spdlog.h"

namespace utpost::api {
namespace {

// A digest of everything the client sent, to tell a retry of the same
// submission from a reuse of its client reference.
std::string RequestDigest(const v1::SubmitLetterRequest& request) {
  std::string bytes;
  google::protobuf::io::StringOutputStream stream(&bytes);
  google::protobuf::io::CodedOutputStream out(&stream);
  out.SetSerializationDeterministic(true);
  request.SerializeToCodedStream(&out);
  out.Trim();
  return Sha256Hex(bytes);
}

std::string RecipientForLog(const v1::Recipient& r) {
  if (r.has_person()) return "person " + MaskPersonNumber(r.person());
  return "organisation " + r.organisation();
}

}  // namespace

grpc::Status ToGrpcStatus(const absl::Status& s) {
  const auto code = static_cast<grpc::StatusCode>(s.code());
  std::optional<int64_t> delay_ms = RetryDelayMillis(s);
  if (!delay_ms.has_value() || s.ok()) {
    return grpc::Status(code, std::string(s.message()));
  }
  google::rpc::RetryInfo retry;
  retry.mutable_retry_delay()->set_seconds(*delay_ms / 1000);
  retry.mutable_retry_delay()->set_nanos(
      static_cast<int32_t>(*delay_ms % 1000 * 1000000));
  google::rpc::Status details;
  details.set_code(static_cast<int32_t>(s.code()));
  details.set_message(std::string(s.message()));
  details.add_details()->PackFrom(retry);
  return grpc::Status(code, std::string(s.message()),
                      details.SerializeAsString());
}

absl::StatusOr<std::string> LetterIdFromName(const std::string& name,
                                             const std::string& field) {
  std::string id = name;
  if (absl::StartsWith(id, "letters/")) id = id.substr(8);
  if (!IsLetterId(id)) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": expected letters/{uuid}"));
  }
  return id;
}

LetterServiceImpl::LetterServiceImpl(store::Store* store,
                                     LetterServiceOptions options)
    : store_(store),
      options_(std::move(options)),
      own_inspector_(options_.inspector == nullptr
                         ? inspect::NewInProcessInspector()
                         : nullptr),
      inspector_(options_.inspector != nullptr ? options_.inspector
                                               : own_inspector_.get()),
      batcher_(store, options_.on_commit),
      watch_hub_(store),
      limiter_(options_.tenant_limits, options_.other_tenants_limit,
               options_.clock),
      upload_slots_(options_.uploads_in_memory, options_.clock),
      upload_sweep_(absl::Seconds(1), [this] {
        upload_slots_.CancelIdle(options_.upload_idle_ms);
      }) {}

LetterServiceImpl::~LetterServiceImpl() = default;

absl::StatusOr<std::string> LetterServiceImpl::TenantOf(
    grpc::CallbackServerContext* ctx) const {
  ASSIGN_OR_RETURN(Caller caller,
                   IdentifyCaller(*ctx->auth_context(), options_.access));
  if (caller.kind != Caller::Kind::kTenant) {
    return absl::PermissionDeniedError(
        "LetterService is for tenants; operators use OpsService");
  }
  return caller.tenant;
}

absl::StatusOr<LetterServiceImpl::OwnedLetter> LetterServiceImpl::OwnLetter(
    grpc::CallbackServerContext* ctx, const std::string& name) const {
  OwnedLetter out;
  ASSIGN_OR_RETURN(out.tenant, TenantOf(ctx));
  ASSIGN_OR_RETURN(std::string id, LetterIdFromName(name, "name"));
  // Another tenant's letter is NOT_FOUND, not a hint that it exists.
  ASSIGN_OR_RETURN(out.letter, store_->GetLetter(id, out.tenant));
  return out;
}

grpc::ServerUnaryReactor* LetterServiceImpl::SubmitLetter(
    grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeChecked<v1::SubmitLetterRequest, v1::SubmitLetterResponse>(
      request, response, [this, ctx](SubmitCall* call) { Submit(ctx, call); });
}

void LetterServiceImpl::Submit(grpc::CallbackServerContext* ctx,
                               SubmitCall* call) {
  auto tenant = TenantOf(ctx);
  if (!tenant.ok()) return call->Reply(tenant.status());
  SubmitOne(*tenant, TraceIdOf(ctx), /*bulk=*/false, &call->request,
            &call->response, [call](absl::Status s) { call->Reply(s); });
}

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>*
LetterServiceImpl::SubmitBatch(grpc::CallbackServerContext* ctx) {
  auto tenant = TenantOf(ctx);
  if (!tenant.ok()) return new SubmitBatchReactor(tenant.status());
  return new SubmitBatchReactor(
      [this, tenant = *tenant, trace_id = TraceIdOf(ctx)](
          const v1::SubmitLetterRequest* request,
          v1::SubmitLetterResponse* response,
          std::function<void(absl::Status)> done) {
        SubmitOne(tenant, trace_id, /*bulk=*/true, request, response,
                  std::move(done));
      });
}

grpc::ServerReadReactor<v1::UploadDocumentRequest>*
LetterServiceImpl::UploadDocument(grpc::CallbackServerContext* ctx,
                                  v1::UploadedDocument* response) {
  auto tenant = TenantOf(ctx);
  if (!tenant.ok()) return new UploadReactor(tenant.status());
  return new UploadReactor(ctx, store_, &upload_slots_, *tenant,
                           options_.limits.max_upload_bytes, response);
}

std::string LetterServiceImpl::TraceIdOf(grpc::CallbackServerContext* ctx) {
  // The client's trace, when it sends one, else a new one per letter.
  if (auto it = ctx->client_metadata().find("traceparent");
      it != ctx->client_metadata().end()) {
    return logging::TraceIdFromTraceparent(
        std::string_view(it->second.data(), it->second.size()));
  }
  return "";
}

void LetterServiceImpl::SubmitOne(const std::string& tenant,
                                  const std::string& trace_id, bool bulk,
                                  const v1::SubmitLetterRequest* request,
                                  v1::SubmitLetterResponse* response,
                                  std::function<void(absl::Status)> done) {
  if (auto s = ValidateSubmitLetter(*request, options_.limits); !s.ok()) {
    return done(s);
  }
  // Before the costly part: a tenant over its rate is refused here.
  if (auto s = limiter_.TakeLetter(tenant); !s.ok()) return done(s);
  // Documents uploaded ahead: from here on the letter is as if they had
  // been sent along. The copy lives until `done`.
  auto resolved = ResolveUploads(store_, tenant, *request, options_.limits);
  if (!resolved.ok()) return done(resolved.status());
  if (*resolved != nullptr) {
    request = resolved->get();
    done = [keep = *std::move(resolved),
            done = std::move(done)](absl::Status s) { done(s); };
  }
  // The request lives until `done`, so the inspection may complete on
  // another thread. The page counts come with the inspection (no second
  // parse): the sheets are stored for statistics.
  auto pages = std::make_shared<std::vector<int>>();
  inspect::InspectionRequest inspection =
      InspectionFor(*request, options_.limits);
  inspection.page_counts = pages.get();
  // The tenant's letters may share an inspection worker, no one else's; the
  // key lives until `done` has run. A bulk stream's letter waits for the
  // sandbox instead of being refused (its stream bounds how many wait).
  auto key = std::make_shared<const std::string>(tenant);
  inspection.reuse_key = *key;
  inspection.wait_when_busy = bulk;
  inspector_->Inspect(inspection, [this, request, response, key, pages,
                                   trace_id, bulk,
                                   done = std::move(done)](absl::Status s) {
    if (!s.ok()) return done(s);
    // A count per document, or none (an inspector that counts none).
    const int sheets =
        pages->size() == static_cast<size_t>(request->documents_size())
            ? PrintSheetsOf(*request, *pages, options_.limits)
            : 0;
    Accept(*key, trace_id, bulk, sheets, request, response, std::move(done));
  });
}

void LetterServiceImpl::Accept(const std::string& tenant,
                               const std::string& client_trace_id, bool bulk,
                               int print_sheets,
                               const v1::SubmitLetterRequest* request,
                               v1::SubmitLetterResponse* response,
                               std::function<void(absl::Status)> done) {
  store::NewLetter letter;
  letter.id = NewLetterId();
  letter.tenant = tenant;
  letter.client_reference = request->client_reference();
  letter.request_digest = RequestDigest(*request);
  letter.spec = *request;
  letter.spec.clear_documents();
  letter.print_sheets = print_sheets;
  letter.bulk = bulk;
  letter.letters_per_day = limiter_.LimitOf(tenant).letters_per_day;
  for (const auto& d : request->documents()) {
    store::Document doc;
    doc.file_name = d.file_name();
    doc.media_type =
        d.media_type().empty() ? std::string(kPdfMediaType) : d.media_type();
    doc.content = d.content();
    doc.sha256_hex = Sha256Hex(d.content());
    letter.documents.push_back(std::move(doc));
  }
  // Every work item of the letter carries the trace, so that its log lines
  // can be found together.
  const std::string trace_id =
      client_trace_id.empty() ? logging::NewTraceId() : client_trace_id;
  letter.first_work = store::lifecycle::WorkItem(
      options_.topology.WorkExchange(), letter.id,
      store::lifecycle::kRouteStage, 0, trace_id, bulk);
  letter.first_work.state_when_sent = v1::Letter::QUEUED;

  std::string who = RecipientForLog(request->recipient());
  batcher_.Submit(
      std::move(letter),
      [this, response, who, tenant, trace_id,
       done = std::move(done)](absl::StatusOr<store::CreateResult> result) {
        logging::ScopedContext log_context(
            {result.ok() ? result->letter.id : "", tenant, "submit", -1,
             trace_id});
        if (!result.ok()) {
          if (!absl::IsAlreadyExists(result.status())) {
            spdlog::error("submit: store failed: {}",
                          result.status().ToString());
          }
          done(result.status());
          return;
        }
        if (result->created) {
          spdlog::info("letter {} received from tenant {} for {}",
                       result->letter.id, tenant, who);
          watch_hub_.Wake();
        }
        *response->mutable_letter() = ToApiLetter(result->letter);
        response->set_created(result->created);
        done(absl::OkStatus());
      });
}

grpc::ServerUnaryReactor* LetterServiceImpl::GetLetter(
    grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeChecked<v1::GetLetterRequest, v1::Letter>(
      request, response, [this, ctx](auto* call) {
        call->Reply(DoGetLetter(ctx, call->request, &call->response));
      });
}

absl::Status LetterServiceImpl::DoGetLetter(grpc::CallbackServerContext* ctx,
                                            const v1::GetLetterRequest& req,
                                            v1::Letter* response) {
  const v1::GetLetterRequest* request = &req;
  auto target = OwnLetter(ctx, request->name());
  if (!target.ok()) return target.status();
  auto receipts = store_->GetReceipts(target->letter.id, target->tenant);
  if (!receipts.ok()) return receipts.status();
  *response = ToApiLetter(target->letter, *receipts);
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* LetterServiceImpl::ListLetters(
    grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeChecked<v1::ListLettersRequest, v1::ListLettersResponse>(
      request, response, [this, ctx](auto* call) {
        call->Reply(DoListLetters(ctx, call->request, &call->response));
      });
}

absl::Status LetterServiceImpl::DoListLetters(
    grpc::CallbackServerContext* ctx, const v1::ListLettersRequest& req,
    v1::ListLettersResponse* response) {
  const v1::ListLettersRequest* request = &req;
  auto tenant = TenantOf(ctx);
  if (!tenant.ok()) return tenant.status();
  if (request->page_size() < 0 || request->page_size() > 1000) {
    return absl::InvalidArgumentError("page_size: must be between 0 and 1000");
  }
  // Proto3 enums are open; a state this gateway does not know matches
  // nothing, and saying so beats an empty page.
  if (!v1::Letter::State_IsValid(request->state())) {
    return absl::InvalidArgumentError(
        absl::StrCat("state: unknown value ", request->state()));
  }
  if (!request->id_prefix().empty() &&
      !IsLetterIdPrefix(request->id_prefix())) {
    return absl::InvalidArgumentError(
        "id_prefix: expected up to 36 lowercase hex digits and dashes");
  }
  store::ListFilter filter;
  filter.tenant = *tenant;
  filter.state = request->state();
  filter.client_reference = request->client_reference();
  filter.id_prefix = request->id_prefix();
  filter.page_size = request->page_size() == 0 ? 100 : request->page_size();
  filter.page_token = request->page_token();
  auto page = store_->ListLetters(filter);
  if (!page.ok()) return page.status();
  for (const auto& l : page->letters) *response->add_letters() = ToApiLetter(l);
  response->set_next_page_token(page->next_page_token);
  return absl::OkStatus();
}

grpc::ServerWriteReactor<v1::LetterEvent>* LetterServiceImpl::WatchLetters(
    grpc::CallbackServerContext* ctx, const v1::WatchLettersRequest* request) {
  auto tenant = TenantOf(ctx);
  int64_t cursor = request->cursor();
  if (tenant.ok() && cursor < 0) {
    tenant = absl::InvalidArgumentError("cursor: must not be negative");
  }
  if (tenant.ok() && request->only_new()) {
    auto last = store_->LastReceiptCursor();
    if (!last.ok())
      tenant = last.status();
    else
      cursor = *last;
  }
  if (!tenant.ok()) {
    // A stream that ends at once with the error.
    class Refused final : public grpc::ServerWriteReactor<v1::LetterEvent> {
     public:
      explicit Refused(const absl::Status& s) { Finish(ToGrpcStatus(s)); }
      void OnDone() override { delete this; }
    };
    return new Refused(tenant.status());
  }
  return new WatchReactor(&watch_hub_, *tenant, cursor);
}

grpc::ServerUnaryReactor* LetterServiceImpl::CancelLetter(
    grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeChecked<v1::CancelLetterRequest, v1::Letter>(
      request, response, [this, ctx](auto* call) {
        call->Reply(DoCancelLetter(ctx, call->request, &call->response));
      });
}

absl::Status LetterServiceImpl::DoCancelLetter(
    grpc::CallbackServerContext* ctx, const v1::CancelLetterRequest& req,
    v1::Letter* response) {
  const v1::CancelLetterRequest* request = &req;
  auto target = OwnLetter(ctx, request->name());
  if (!target.ok()) return target.status();
  const std::string& id = target->letter.id;
  store::Transition t;
  t.from = {v1::Letter::RECEIVED, v1::Letter::QUEUED, v1::Letter::ROUTED};
  t.to = v1::Letter::CANCELLED;
  t.reason = "cancelled by the tenant";
  t.unless_handing_off = true;
  auto updated = store_->ApplyTransition(id, t);
  if (absl::IsFailedPrecondition(updated.status())) {
    auto now = store_->GetLetter(id, target->tenant);
    return absl::FailedPreconditionError(absl::StrCat(
        "letter is ",
        v1::Letter::State_Name(now.ok() ? now->state : target->letter.state),
        "; only letters not yet handed to a provider can be "
        "cancelled"));
  }
  if (!updated.ok()) return updated.status();
  spdlog::info("letter {} cancelled by tenant {}", id, target->tenant);
  watch_hub_.Wake();
  auto receipts = store_->GetReceipts(id, target->tenant);
  if (!receipts.ok()) return receipts.status();
  *response = ToApiLetter(*updated, *receipts);
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* LetterServiceImpl::GetReceipts(
    grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeChecked<v1::GetReceiptsRequest, v1::GetReceiptsResponse>(
      request, response, [this, ctx](auto* call) {
        call->Reply(DoGetReceipts(ctx, call->request, &call->response));
      });
}

absl::Status LetterServiceImpl::DoGetReceipts(
    grpc::CallbackServerContext* ctx, const v1::GetReceiptsRequest& req,
    v1::GetReceiptsResponse* response) {
  const v1::GetReceiptsRequest* request = &req;
  auto target = OwnLetter(ctx, request->name());
  if (!target.ok()) return target.status();
  auto receipts = store_->GetReceipts(target->letter.id, target->tenant);
  if (!receipts.ok()) return receipts.status();
  for (const auto& r : *receipts) {
    auto* out = response->add_receipts();
    out->set_sequence(r.sequence);
    out->set_state(r.state);
    out->set_jws(r.jws);
    out->set_sha256(r.sha256_hex);
  }
  if (request->evidence_bundle()) {
    if (!request->language().empty() && request->language() != "nb" &&
        request->language() != "en") {
      return absl::InvalidArgumentError(absl::StrCat(
          "language: \"", request->language(),
          "\" is not offered; use \"nb\" (bokmål, the default) or \"en\""));
    }
    // Receipt log (#4): proofs to one signed head, and a summary to read.
    auto bundle = BuildEvidence(store_, *receipts);
    if (!bundle.ok()) return bundle.status();
    store::TreeHead head;
    head.tree_size = bundle->tree_head().tree_size();
    head.root_hash = bundle->tree_head().root_hash();
    head.time_ms = google::protobuf::util::TimeUtil::TimestampToMilliseconds(
        bundle->tree_head().time());
    if (options_.signer == nullptr) {
      return absl::FailedPreconditionError(
          "this gateway makes no evidence documents (no receipt signer)");
    }
    // The letter's receipts with their proofs, as an export the document
    // carries, so that it verifies on its own.
    ExportRequest scope;
    scope.tenant = target->tenant;
    scope.letter_id = target->letter.id;
    ExportStream stream(store_, options_.signer, scope);
    if (auto s = stream.Prepare(); !s.ok()) return s;
    EvidenceDocument doc;
    for (v1::ExportReceiptsResponse item;;) {
      auto more = stream.Next(&item);
      if (!more.ok()) return more.status();
      if (!*more) break;
      absl::StrAppend(&doc.export_text, item.line(), "\n");
    }
    doc.letter = &target->letter;
    doc.receipts = &*receipts;
    doc.head = head;
    if (auto it = options_.tenant_names.find(target->tenant);
        it != options_.tenant_names.end()) {
      doc.sender_name = it->second;
    }
    doc.language = request->language();
    doc.now_ms = RealClock()->NowMillis();
    auto pdf = RenderEvidencePdf(doc);
    if (!pdf.ok()) return pdf.status();
    bundle->set_summary_pdf(std::move(*pdf));
    *response->mutable_evidence_bundle() = std::move(*bundle);
  }
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* LetterServiceImpl::PreflightLetters(
    grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  using PreflightCall = CheckedUnaryCall<v1::PreflightLettersRequest,
                                         v1::PreflightLettersResponse>;
  return ServeChecked<v1::PreflightLettersRequest,
                      v1::PreflightLettersResponse>(
      request, response, [this, ctx](PreflightCall* call) {
        auto tenant = TenantOf(ctx);
        if (!tenant.ok()) return call->Reply(tenant.status());
        if (options_.preflight == nullptr) {
          return call->Reply(absl::UnimplementedError(
              "this gateway process offers no preflight (it has no "
              "registries)"));
        }
        options_.preflight->RunAsync(
            *tenant, &call->request, &call->response,
            [call](absl::Status s) { call->Reply(s); });
      });
}

}  // namespace utpost::api
