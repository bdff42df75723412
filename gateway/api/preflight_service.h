// Preflight of a bulk run (LetterService.PreflightLetters): what would
// happen to a batch of letters if it were submitted now, without storing,
// queueing or sending anything.
//
// Each letter is checked as SubmitLetter checks it (ValidateSubmitLetter,
// then the documents' inspection with the same DocumentInspector, which
// also counts their pages), then routed as the worker routes it
// (dispatch::DecideRoute) on what the registries say: the persons of all
// letters in one look-up (the registry splits and caches as it does for
// the worker), each organisation once. A channel routing names but this
// gateway has not configured is a failure (the worker would park the
// letter); a paused channel is shown on the outcome (the letter would wait).
// Costs come from UnitPrices (pricing.h).
//
// Thread-safe. Nothing is owned but what the options say.
#ifndef UTPOST_GATEWAY_API_PREFLIGHT_SERVICE_H_
#define UTPOST_GATEWAY_API_PREFLIGHT_SERVICE_H_

#include <functional>
#include <memory>
#include <set>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "adapters/channel.h"
#include "gateway/api/letter_validator.h"
#include "gateway/api/pricing.h"
#include "gateway/dispatch/routing.h"
#include "gateway/inspect/document_inspector.h"
#include "gateway/store/store.h"
#include "utpost/v1/letter.pb.h"

namespace utpost::api {

struct PreflightOptions {
  // As LetterServiceOptions::limits (the same checks as SubmitLetter).
  ValidationLimits limits;
  // As DispatcherOptions::routing.
  dispatch::RoutingOptions routing;
  // The channels this gateway delivers through, by routing name.
  std::set<std::string> configured_channels;
  // The channels an operator has paused now (the store's PausedChannels).
  // Empty: none is. A failure leaves every channel shown as not paused.
  std::function<absl::StatusOr<std::set<std::string>>()> paused_channels;
  UnitPrices prices;
  // Not owned; outlives the service. Null: an in-process inspector (tests).
  inspect::DocumentInspector* inspector = nullptr;
  // Where documents uploaded ahead (Document.upload_sha256) are found. Not
  // owned; outlives the service. Null: a letter referencing one fails.
  store::UploadStore* uploads = nullptr;
  // Letters per call at most. Default 1000 (the registry's batch).
  int max_letters = 1000;
  // Letters of one call inspected at the same time. Default 2.
  int parallel_inspections = 2;
  // Calls running at the same time (RunAsync); more are refused
  // RESOURCE_EXHAUSTED. Default 4.
  int max_calls = 4;
};

class PreflightService {
 public:
  // `persons` is required; `organisations` may be null (organisations then
  // go to print, or fail under DIGITAL_ONLY, as in the worker). Neither is
  // owned; both outlive this.
  PreflightService(adapters::Registry* persons,
                   adapters::OrganisationRegistry* organisations,
                   PreflightOptions options);
  // Waits for calls still running.
  ~PreflightService();
  PreflightService(const PreflightService&) = delete;
  PreflightService& operator=(const PreflightService&) = delete;

  // The preflight of `request` for `tenant`, on the calling thread (it
  // blocks on inspections and look-ups). INVALID_ARGUMENT for no letters
  // or more than max_letters; UNAVAILABLE when inspection is shutting
  // down. A letter that would fail is an outcome, not an error.
  absl::StatusOr<v1::PreflightLettersResponse> Run(
      const std::string& tenant, const v1::PreflightLettersRequest& request);

  // Run on a thread of its own; `done` is called there, once, after
  // `*response` is set. `request` and `response` must stay valid until
  // then. Refused RESOURCE_EXHAUSTED (at once, on the calling thread) when
  // max_calls are running.
  void RunAsync(const std::string& tenant,
                const v1::PreflightLettersRequest* request,
                v1::PreflightLettersResponse* response,
                std::function<void(absl::Status)> done);

 private:
  // Inspects one letter, waiting (and retrying while the inspector is
  // busy); fills `page_counts`. The tenant's letters may share a worker.
  absl::Status Inspect(const std::string& tenant,
                       const v1::SubmitLetterRequest& letter,
                       std::vector<int>* page_counts);

  adapters::Registry* const persons_;
  adapters::OrganisationRegistry* const organisations_;
  const PreflightOptions options_;
  std::unique_ptr<inspect::DocumentInspector> own_inspector_;
  inspect::DocumentInspector* const inspector_;

  absl::Mutex mu_;
  int running_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace utpost::api

#endif  // UTPOST_GATEWAY_API_PREFLIGHT_SERVICE_H_
