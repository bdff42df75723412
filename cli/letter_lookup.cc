#include "cli/letter_lookup.h"

#include <chrono>
#include <iomanip>
#include <iostream>
#include <vector>

#include "cli/arguments.h"
#include "cli/output.h"
#include "cli/text.h"
#include "utpost/v1/letter.grpc.pb.h"
#include "utpost/v1/ops.grpc.pb.h"

namespace utpost::cli {
namespace {

// Enough to show an ambiguous prefix; one more tells there are others.
constexpr int kCandidates = 10;

struct Candidate {
  std::string id;
  std::string tenant;  // Empty in the tenant's own view.
  v1::Letter::State state;
  std::string reference;
};

void SetDeadline(grpc::ClientContext* ctx, const ConnectionOptions& c) {
  if (c.timeout_seconds > 0) {
    ctx->set_deadline(std::chrono::system_clock::now() +
                      std::chrono::seconds(c.timeout_seconds));
  }
}

grpc::Status ListOwn(const ConnectionOptions& c,
                     const std::shared_ptr<grpc::Channel>& channel,
                     const std::string& prefix, std::vector<Candidate>* out,
                     bool* more) {
  auto stub = v1::LetterService::NewStub(channel);
  grpc::ClientContext ctx;
  SetDeadline(&ctx, c);
  v1::ListLettersRequest request;
  request.set_id_prefix(prefix);
  request.set_page_size(kCandidates);
  v1::ListLettersResponse response;
  grpc::Status s = stub->ListLetters(&ctx, request, &response);
  if (!s.ok()) return s;
  for (const auto& l : response.letters()) {
    out->push_back({l.id(), "", l.state(), l.client_reference()});
  }
  *more = !response.next_page_token().empty();
  return s;
}

grpc::Status ListAll(const ConnectionOptions& c,
                     const std::shared_ptr<grpc::Channel>& channel,
                     const std::string& prefix, std::vector<Candidate>* out,
                     bool* more) {
  auto stub = v1::OpsService::NewStub(channel);
  grpc::ClientContext ctx;
  SetDeadline(&ctx, c);
  v1::OpsListLettersRequest request;
  request.set_id_prefix(prefix);
  request.set_page_size(kCandidates);
  v1::OpsListLettersResponse response;
  grpc::Status s = stub->ListLetters(&ctx, request, &response);
  if (!s.ok()) return s;
  for (const auto& ol : response.letters()) {
    const auto& l = ol.letter();
    out->push_back({l.id(), ol.tenant(), l.state(), l.client_reference()});
  }
  *more = !response.next_page_token().empty();
  return s;
}

}  // namespace

int ResolveLetterId(const ConnectionOptions& c,
                    const std::shared_ptr<grpc::Channel>& channel,
                    const std::string& argument, LookupScope scope,
                    std::string* id) {
  auto parsed = ParseLetterArgument(argument);
  if (!parsed.ok()) {
    std::cerr << "utpostctl: " << parsed.status().message() << "\n";
    return kUsage;
  }
  if (!parsed->id.empty()) {
    *id = parsed->id;
    return kOk;
  }
  const std::string& prefix = parsed->prefix;
  std::vector<Candidate> found;
  bool more = false;
  grpc::Status s;
  if (scope == LookupScope::kOperator) {
    s = ListAll(c, channel, prefix, &found, &more);
  } else {
    s = ListOwn(c, channel, prefix, &found, &more);
    // An operator's certificate is refused by the tenants' service.
    if (scope == LookupScope::kEither &&
        s.error_code() == grpc::StatusCode::PERMISSION_DENIED) {
      found.clear();
      s = ListAll(c, channel, prefix, &found, &more);
    }
  }
  if (!s.ok()) return Report(s, c);
  if (found.empty()) {
    std::cerr << "utpostctl: NOT_FOUND: no letter id starts with \"" << prefix
              << "\"\n";
    return kRefused;
  }
  if (found.size() == 1) {
    *id = found[0].id;
    return kOk;
  }
  std::cerr << "utpostctl: letter id prefix \"" << prefix
            << "\" is ambiguous: it matches " << (more ? "more than " : "")
            << Counted(static_cast<int64_t>(found.size()), "letter") << ":\n";
  for (const auto& f : found) {
    std::cerr << "  " << f.id << "  " << std::left << std::setw(13)
              << v1::Letter::State_Name(f.state) << std::right;
    if (!f.tenant.empty()) std::cerr << " " << f.tenant;
    std::cerr << "  " << CutMiddle(f.reference, 40) << "\n";
  }
  if (more) std::cerr << "  ...\n";
  std::cerr << "Give more characters of the id.\n";
  return kUsage;
}

}  // namespace utpost::cli
