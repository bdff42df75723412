#include "sim/simulator.h"

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <exception>
#include <fstream>
#include <map>
#include <optional>
#include <string_view>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/digest.h"
#include "common/mask.h"
#include "nlohmann/json.hpp"
#include "sim/altinn.h"
#include "sim/digipost_events.h"
#include "sim/digipost_schema.h"
#include "sim/dpi.h"
#include "sim/faults.h"
#include "sim/maskinporten.h"
#include "sim/multipart.h"
#include "sim/print.h"
#include "sim/signature_check.h"
#include "spdlog/spdlog.h"

namespace utpost::sim {
namespace {

using nlohmann::json;

constexpr char kDigipostXml[] = "application/vnd.digipost-v8+xml";
constexpr char kDigipostMultipart[] = "multipart/vnd.digipost-v8+xml";
constexpr char kDigipostNamespace[] = "http://api.digipost.no/schema/v8";
constexpr char kJson[] = "application/json";
constexpr size_t kMaxRegistryBatch = 1000;
constexpr size_t kMaxBody = 64 << 20;
// An idle keep-alive connection is closed after this long, freeing its
// worker thread.
constexpr time_t kKeepAliveTimeoutSeconds = 2;
// Connections waiting to be accepted.
constexpr int kListenBacklog = 512;

// ---- Small helpers -------------------------------------------------------

std::string XmlEscape(absl::string_view text) {
  return absl::StrReplaceAll(text, {{"&", "&amp;"},
                                    {"<", "&lt;"},
                                    {">", "&gt;"},
                                    {"\"", "&quot;"},
                                    {"'", "&apos;"}});
}

std::string XmlUnescape(absl::string_view text) {
  return absl::StrReplaceAll(text, {{"&lt;", "<"},
                                    {"&gt;", ">"},
                                    {"&quot;", "\""},
                                    {"&apos;", "'"},
                                    {"&amp;", "&"}});
}

bool AllDigits(absl::string_view s, size_t length) {
  if (s.size() != length) return false;
  for (char c : s) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// The leaf elements of an XML document, in document order, by local name
// (prefix dropped), plus the root's local name and default namespace. The
// messages the simulator reads are flat records; this reads exactly that.
struct XmlDocument {
  std::string root;
  std::string root_namespace;
  std::vector<std::pair<std::string, std::string>> leaves;

  std::string First(absl::string_view name) const {
    for (const auto& [n, text] : leaves) {
      if (n == name) return text;
    }
    return "";
  }
  std::vector<std::string> All(absl::string_view name) const {
    std::vector<std::string> out;
    for (const auto& [n, text] : leaves) {
      if (n == name) out.push_back(text);
    }
    return out;
  }
};

absl::string_view LocalName(absl::string_view qualified) {
  size_t colon = qualified.find(':');
  return colon == absl::string_view::npos ? qualified
                                          : qualified.substr(colon + 1);
}

std::optional<XmlDocument> ParseXml(absl::string_view xml) {
  XmlDocument doc;
  std::vector<std::string> open;
  // Name of the element whose start tag came last with nothing but text
  // since: if its end tag follows, it is a leaf.
  std::optional<std::string> leaf_candidate;
  size_t text_start = 0;
  size_t pos = 0;
  while ((pos = xml.find('<', pos)) != absl::string_view::npos) {
    if (xml.substr(pos, 4) == "<!--") {
      pos = xml.find("-->", pos);
      if (pos == absl::string_view::npos) return std::nullopt;
      continue;
    }
    size_t end = xml.find('>', pos);
    if (end == absl::string_view::npos) return std::nullopt;
    absl::string_view tag = xml.substr(pos + 1, end - pos - 1);
    if (tag.empty() || tag.front() == '?' || tag.front() == '!') {
      pos = end + 1;
      continue;
    }
    if (tag.front() == '/') {
      std::string name(LocalName(absl::StripAsciiWhitespace(tag.substr(1))));
      if (open.empty() || open.back() != name) return std::nullopt;
      if (leaf_candidate == name) {
        doc.leaves.emplace_back(name,
                                XmlUnescape(absl::StripAsciiWhitespace(
                                    xml.substr(text_start, pos - text_start))));
      }
      leaf_candidate.reset();
      open.pop_back();
    } else {
      bool self_closing = tag.back() == '/';
      if (self_closing) tag.remove_suffix(1);
      size_t name_end = tag.find_first_of(" \t\r\n");
      std::string name(LocalName(tag.substr(0, name_end)));
      if (doc.root.empty()) {
        doc.root = name;
        size_t ns = tag.find("xmlns=\"");
        if (ns != absl::string_view::npos) {
          size_t value_start = ns + 7;
          size_t value_end = tag.find('"', value_start);
          if (value_end == absl::string_view::npos) return std::nullopt;
          doc.root_namespace =
              std::string(tag.substr(value_start, value_end - value_start));
        }
      }
      if (self_closing) {
        doc.leaves.emplace_back(name, "");
        leaf_candidate.reset();
      } else {
        open.push_back(name);
        leaf_candidate = name;
        text_start = end + 1;
      }
    }
    pos = end + 1;
  }
  if (!open.empty() || doc.root.empty()) return std::nullopt;
  return doc;
}

std::string DigipostError(absl::string_view type, absl::string_view code,
                          absl::string_view message) {
  return absl::StrCat(
      "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n",
      "<error xmlns=\"", kDigipostNamespace, "\">\n",                 //
      "  <error-code>", code, "</error-code>\n",                      //
      "  <error-message>", XmlEscape(message), "</error-message>\n",  //
      "  <error-type>", type, "</error-type>\n",                      //
      "</error>\n");
}

std::string JsonError(absl::string_view code, absl::string_view message) {
  json error = {{"error", {{"code", code}, {"message", message}}}};
  return error.dump(-1, ' ', false, json::error_handler_t::replace);
}

// ---- State ---------------------------------------------------------------

struct Counts {
  int accepted = 0;
  int duplicates = 0;
};

json CountsJson(const std::map<std::string, Counts>& counts) {
  json out = json::object();
  for (const auto& [id, c] : counts) {
    out[id] = {{"accepted", c.accepted}, {"duplicates", c.duplicates}};
  }
  return out;
}

class SimulatorImpl final : public Simulator {
 public:
  SimulatorImpl(SimulatorOptions options,
                std::unique_ptr<SignatureChecker> checker)
      : options_(std::move(options)),
        clock_(options_.clock != nullptr ? options_.clock : RealClock()),
        checker_(std::move(checker)),
        server_(options_.cert_file.c_str(), options_.key_file.c_str()),
        print_(PrintSimOptions{options_.print_posted_after_ms, clock_}) {
    for (const SimPerson& person : options_.persons) {
      persons_[person.number] = person;
    }
  }

  // Channels and registries (#3): the token issuer and Altinn.
  absl::Status StartServices() {
    if (!options_.token_ca_file.empty()) {
      TokenIssuerOptions token;
      token.issuer = options_.token_issuer;
      token.ca_file = options_.token_ca_file;
      token.token_lifetime_ms = options_.token_lifetime_ms;
      token.clock = clock_;
      absl::StatusOr<std::unique_ptr<TokenIssuer>> issuer =
          NewTokenIssuer(std::move(token));
      if (!issuer.ok()) return issuer.status();
      tokens_ = *std::move(issuer);
    } else if (options_.require_tokens) {
      return absl::InvalidArgumentError("require_tokens: needs token_ca_file");
    }
    altinn_ = NewAltinnSim(options_.organisations, tokens_.get(), clock_);
    return absl::OkStatus();
  }

  // Loads the key with which every Digipost response is signed.
  absl::Status StartDigipost() {
    absl::StatusOr<std::unique_ptr<ResponseSigner>> signer =
        ResponseSigner::FromFiles(options_.digipost_cert_file,
                                  options_.digipost_key_file);
    if (!signer.ok()) return signer.status();
    digipost_signer_ = *std::move(signer);
    return absl::OkStatus();
  }

  ~SimulatorImpl() override { Stop(); }

  absl::Status Start() {
    if (!server_.is_valid()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "cert/key: cannot set up TLS with \"", options_.cert_file,
          "\" and \"", options_.key_file, "\""));
    }
    if (options_.threads <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("threads: must be positive, got ", options_.threads));
    }
    DpiSimOptions dpi;
    dpi.ca_file = options_.dpi_ca_file;
    dpi.mailbox_cert_file = options_.dpi_mailbox_cert_file;
    dpi.mailbox_key_file = options_.dpi_mailbox_key_file;
    dpi.receipt_cert_file = options_.dpi_receipt_cert_file;
    dpi.receipt_key_file = options_.dpi_receipt_key_file;
    dpi.token_check = options_.dpi_token_check;
    if (!dpi.token_check && options_.require_tokens && tokens_ != nullptr) {
      // DPI takes Maskinporten tokens with its scopes, like the registry.
      dpi.token_check = [this](const std::string& token,
                               const std::string& scope) {
        httplib::Request req;
        req.headers.emplace("Authorization", "Bearer " + token);
        httplib::Response ignored;
        return tokens_->Authorize(req, scope, &ignored);
      };
    }
    dpi.clock = clock_;
    // DPI addresses the mailbox, not the person (the SBDH names the
    // provider): the person behind a postkasseadresse.
    dpi.reachable = [this](const std::string& mailbox_address) {
      for (const auto& [number, person] : persons_) {
        if (person.mailbox_address == mailbox_address &&
            person.mailbox_provider == kEboksOrganisation) {
          return !person.deleted && !person.reserved;
        }
      }
      return false;
    };
    dpi.fault = [this](const std::string& endpoint, Response& res) {
      return ApplyFault(endpoint, res);
    };
    absl::StatusOr<std::unique_ptr<DpiSim>> dpi_sim =
        DpiSim::Create(std::move(dpi));
    if (!dpi_sim.ok()) return dpi_sim.status();
    dpi_ = *std::move(dpi_sim);
    Routes();
    // Every connection holds a worker for as long as it is kept alive. The
    // library's default pool has 8 workers on a small machine, so a ninth
    // connection (the gateway opens dozens) would wait for the keep-alive
    // timeout; a large pool and a short timeout keep them all served.
    server_.new_task_queue = [threads = options_.threads] {
      return new httplib::ThreadPool(static_cast<size_t>(threads));
    };
    server_.set_keep_alive_timeout(kKeepAliveTimeoutSeconds);
    server_.set_payload_max_length(kMaxBody);
    server_.set_keep_alive_max_count(1000);
    // Without it a reply written in two pieces waits for the client's
    // delayed ACK: about 40 ms per request.
    server_.set_tcp_nodelay(true);
    // The library's default adds SO_REUSEPORT, under which a second
    // simulator on a busy port would bind too and share its traffic.
    server_.set_socket_options([this](socket_t sock) {
      int yes = 1;
      setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
      listen_socket_ = sock;  // The last one tried is the one bound.
    });
    if (options_.port == 0) {
      port_ = server_.bind_to_any_port(options_.host);
    } else if (server_.bind_to_port(options_.host, options_.port)) {
      port_ = options_.port;
    }
    if (port_ <= 0) {
      return absl::UnavailableError(absl::StrCat(
          "listen: cannot bind ", options_.host, ":", options_.port));
    }
    // The library listens with a backlog of 5: a burst of new connections
    // (every consumer of a starting gateway) overflows it, and each one
    // dropped waits a second for its SYN to be sent again. Listening again
    // on the bound socket only raises the backlog.
    if (listen_socket_ != INVALID_SOCKET) {
      listen(listen_socket_, kListenBacklog);
    }
    thread_ = std::thread([this] {
      server_.listen_after_bind();
      finished_ = true;
    });
    // stop() is a no-op until the server loop runs, so Stop() could
    // otherwise hang on a loop that started after it.
    while (!server_.is_running() && !finished_) {
      absl::SleepFor(absl::Milliseconds(1));
    }
    return absl::OkStatus();
  }

  int port() const override { return port_; }

  void Stop() override {
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }

 private:
  using Request = httplib::Request;
  using Response = httplib::Response;

  void Routes() {
    FaultHook fault = [this](const std::string& endpoint, Response& r) {
      return ApplyFault(endpoint, r);
    };
    if (tokens_ != nullptr) tokens_->Register(&server_, fault);
    altinn_->Register(&server_, fault);
    server_.Post("/rest/v1/personer", [this](const Request& q, Response& r) {
      HandleRegistry(q, r);
    });
    server_.Get("/", [this](const Request& q, Response& r) {
      HandleDigipostEntryPoint(q, r);
      SignDigipost(q, r);
    });
    server_.Post("/messages", [this](const Request& q, Response& r) {
      HandleDigipost(q, r);
      SignDigipost(q, r);
    });
    print_.Register(&server_, [this](const std::string& endpoint, Response& r,
                                     std::string_view subject) {
      return ApplyFault(endpoint, r, subject);
    });
    dpi_->Register(&server_);
    server_.Get("/documents/events", [this](const Request& q, Response& r) {
      HandleDigipostEvents(q, r);
      SignDigipost(q, r);
    });
    server_.Post("/sim/v1/events", [this](const Request& q, Response& r) {
      HandleScheduleEvent(q, r);
    });
    server_.Get("/sim/v1/deliveries",
                [this](const Request&, Response& r) { HandleDeliveries(r); });
    server_.Post("/sim/v1/faults", [this](const Request& q, Response& r) {
      HandleSetFault(q, r);
    });
    server_.Delete("/sim/v1/faults", [this](const Request&, Response& r) {
      faults_.Clear();
      r.status = 204;
    });
    server_.Post("/sim/v1/reset", [this](const Request&, Response& r) {
      faults_.Reset();
      events_.Reset();
      absl::MutexLock lock(&mu_);
      digipost_.clear();
      primary_documents_.clear();
      print_.Reset();
      registry_requests_ = 0;
      registry_persons_ = 0;
      dpi_->Reset();
      if (tokens_ != nullptr) tokens_->Reset();
      altinn_->Reset();
      r.status = 204;
    });
    server_.set_exception_handler(
        [](const Request&, Response& r, std::exception_ptr) {
          r.status = 500;
          r.set_content(JsonError("INTERNAL", "simulator error"), kJson);
        });
  }

  // Answers the request with an injected fault if one is due (see
  // faults.h). True when it did.
  bool ApplyFault(const std::string& endpoint, Response& res,
                  std::string_view subject = {}) {
    FaultDecision fault = faults_.OnRequest(endpoint, subject);
    if (fault.delay_ms > 0) absl::SleepFor(absl::Milliseconds(fault.delay_ms));
    switch (fault.action) {
      case FaultDecision::Action::kNone:
        return false;
      case FaultDecision::Action::kTimeout:
        spdlog::info("{}: holding a request {} ms", endpoint, fault.timeout_ms);
        absl::SleepFor(absl::Milliseconds(fault.timeout_ms));
        [[fallthrough]];
      case FaultDecision::Action::kDrop:
        // Headers go out, then the connection closes with the body
        // promised but never sent.
        spdlog::info("{}: dropping the connection", endpoint);
        res.status = 200;
        res.set_content_provider(
            1024, "application/octet-stream",
            [](size_t, size_t, httplib::DataSink&) { return false; });
        return true;
      case FaultDecision::Action::kFail:
        break;
    }
    res.status = fault.status;
    const std::string code =
        fault.error_code.empty() ? "SIMULATED_FAULT" : fault.error_code;
    if (absl::StartsWith(endpoint, "digipost")) {
      std::string type = fault.error_type;
      if (type.empty()) {
        type = fault.status >= 500 ? "SERVER" : "CLIENT_TECHNICAL";
      }
      res.set_content(DigipostError(type, code, "fault injected by utpost-sim"),
                      kDigipostXml);
    } else {
      res.set_content(JsonError(code, "fault injected by utpost-sim"), kJson);
    }
    spdlog::info("{}: injected fault {} {}", endpoint, fault.status, code);
    return true;
  }

  // ---- Contact registry ----

  json PersonJson(const std::string& number) const {
    auto it = persons_.find(number);
    if (it == persons_.end()) {
      return {{"personidentifikator", number}, {"status", "IKKE_REGISTRERT"}};
    }
    const SimPerson& p = it->second;
    if (p.deleted) {
      return {{"personidentifikator", number}, {"status", "SLETTET"}};
    }
    json contact = json::object();
    if (!p.email.empty()) contact["epostadresse"] = p.email;
    if (!p.mobile.empty()) contact["mobiltelefonnummer"] = p.mobile;
    json out = {
        {"personidentifikator", number},
        {"reservasjon", p.reserved ? "JA" : "NEI"},
        {"status", "AKTIV"},
        {"varslingsstatus",
         contact.empty() ? "KAN_IKKE_VARSLES" : "KAN_VARSLES"},
        {"kontaktinformasjon", contact},
        {"spraak", "nb"},
    };
    if (!p.mailbox_address.empty()) {
      out["digital_post"] = {
          {"postkasseadresse", p.mailbox_address},
          {"postkasseleverandoeradresse", p.mailbox_provider}};
    }
    // DPI mailboxes publish the certificate packages are encrypted to.
    if (p.mailbox_provider == kEboksOrganisation) {
      out["sertifikat"] = dpi_->MailboxCertificateBase64();
    }
    return out;
  }

  void HandleRegistry(const Request& req, Response& res) {
    if (ApplyFault("registry", res)) return;
    if (options_.require_tokens &&
        !tokens_->Authorize(req,
                            "krr:global/kontaktinformasjon.read "
                            "krr:global/digitalpost.read",
                            &res)) {
      return;
    }
    if (req.has_header("Authorization") &&
        !absl::StartsWith(req.get_header_value("Authorization"), "Bearer ")) {
      res.status = 401;
      res.set_content(JsonError("UNAUTHORIZED", "expected a bearer token"),
                      kJson);
      return;
    }
    json body = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
    auto numbers = body.is_object() ? body.find("personidentifikatorer")
                                    : json::iterator();
    if (!body.is_object() || numbers == body.end() || !numbers->is_array()) {
      res.status = 400;
      res.set_content(JsonError("INVALID_REQUEST",
                                "expected {\"personidentifikatorer\": [...]}"),
                      kJson);
      return;
    }
    if (numbers->size() > kMaxRegistryBatch) {
      res.status = 400;
      res.set_content(JsonError("TOO_MANY_PERSONS",
                                "at most 1000 personidentifikatorer per call"),
                      kJson);
      return;
    }
    json persons = json::array();
    for (const json& number : *numbers) {
      if (!number.is_string()) {
        res.status = 400;
        res.set_content(
            JsonError("INVALID_REQUEST", "personidentifikatorer: strings only"),
            kJson);
        return;
      }
      persons.push_back(PersonJson(number.get<std::string>()));
    }
    {
      absl::MutexLock lock(&mu_);
      ++registry_requests_;
      registry_persons_ += static_cast<int64_t>(persons.size());
    }
    json reply = {{"personer", std::move(persons)}};
    res.set_content(reply.dump(-1, ' ', false, json::error_handler_t::replace),
                    kJson);
  }

  // ---- Digipost ----

  void RefuseDigipost(Response& res, int status, absl::string_view type,
                      absl::string_view code, absl::string_view message) {
    spdlog::warn("digipost: {} {} {}: {}", status, std::string(type),
                 std::string(code), MaskPersonNumbersIn(std::string(message)));
    res.status = status;
    res.set_content(DigipostError(type, code, message), kDigipostXml);
  }

  static std::optional<std::string> Header(const Request& req,
                                           const char* name) {
    if (!req.has_header(name)) return std::nullopt;
    return req.get_header_value(name);
  }

  // Signs a Digipost response as the real service does (Date,
  // X-Content-SHA256, X-Digipost-Signature over the status, the request's
  // path and those headers), faults included.
  void SignDigipost(const Request& req, Response& res) {
    ResponseSignature signature = digipost_signer_->Sign(
        res.status, req.path, res.body, clock_->NowMillis());
    res.set_header("Date", signature.date);
    if (!signature.content_sha256.empty()) {
      res.set_header("X-Content-SHA256", signature.content_sha256);
    }
    res.set_header("X-Digipost-Signature", signature.signature);
  }

  // The request's signature headers, Date and user id, and its Accept:
  // every Digipost call is signed and asks for the v8 media type. False
  // (and `res` answered) when they do not hold.
  bool CheckDigipostRequest(const Request& req, Response& res) {
    SignedRequest signed_request;
    signed_request.method = req.method;
    signed_request.target = req.target;
    signed_request.body = req.body;
    signed_request.date = Header(req, "Date");
    signed_request.user_id = Header(req, "X-Digipost-UserId");
    signed_request.content_sha256 = Header(req, "X-Content-SHA256");
    signed_request.content_md5 = Header(req, "Content-MD5");
    signed_request.signature = Header(req, "X-Digipost-Signature");
    if (absl::Status s = checker_->Check(signed_request, clock_->NowMillis(),
                                         options_.max_date_skew_ms);
        !s.ok()) {
      RefuseDigipost(res, 403, "CLIENT_TECHNICAL", "INVALID_SIGNATURE",
                     s.message());
      return false;
    }
    if (!options_.digipost_sender_id.empty() &&
        *signed_request.user_id != options_.digipost_sender_id) {
      RefuseDigipost(
          res, 403, "CONFIGURATION", "UNKNOWN_SENDER",
          absl::StrCat("unknown sender id ", *signed_request.user_id));
      return false;
    }
    if (!absl::StrContains(req.get_header_value("Accept"), kDigipostXml)) {
      RefuseDigipost(res, 406, "CLIENT_TECHNICAL", "NOT_ACCEPTABLE",
                     absl::StrCat("Accept must name ", kDigipostXml));
      return false;
    }
    return true;
  }

  // GET /: the entry point, with the certificate that verifies responses
  // and the links by which a client finds every endpoint.
  void HandleDigipostEntryPoint(const Request& req, Response& res) {
    if (ApplyFault("digipost-entrypoint", res)) return;
    if (!CheckDigipostRequest(req, res)) return;
    const std::string base =
        absl::StrCat("https://", req.get_header_value("Host"));
    auto link = [&](absl::string_view relation, absl::string_view path) {
      return absl::StrCat("  <link rel=\"", XmlEscape(base), "/relations/",
                          relation, "\" uri=\"", XmlEscape(base), path,
                          "\" media-type=\"", kDigipostXml, "\"/>\n");
    };
    res.status = 200;
    res.set_content(
        absl::StrCat(
            "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n",
            "<entrypoint xmlns=\"", kDigipostNamespace, "\">\n",
            "  <certificate>", XmlEscape(digipost_signer_->certificate_pem()),
            "</certificate>\n", link("create_message", "/messages"),
            link("document_events", "/documents/events"), "</entrypoint>\n"),
        kDigipostXml);
  }

  void HandleDigipost(const Request& req, Response& res) {
    if (ApplyFault("digipost", res)) return;
    if (!CheckDigipostRequest(req, res)) return;
    const std::string user_id = req.get_header_value("X-Digipost-UserId");
    std::string content_type = req.get_header_value("Content-Type");
    if (!absl::StartsWithIgnoreCase(content_type, kDigipostMultipart)) {
      return RefuseDigipost(res, 415, "CLIENT_TECHNICAL",
                            "UNSUPPORTED_MEDIA_TYPE",
                            absl::StrCat("expected ", kDigipostMultipart));
    }
    absl::StatusOr<std::vector<MimePart>> parts =
        ParseMultipart(req.body, BoundaryOf(content_type));
    if (!parts.ok() || parts->empty()) {
      return RefuseDigipost(
          res, 400, "CLIENT_TECHNICAL", "INVALID_MULTIPART",
          parts.ok() ? "no parts" : std::string(parts.status().message()));
    }
    const MimePart& message_part = parts->front();
    auto type = message_part.headers.find("content-type");
    if (type == message_part.headers.end() ||
        !absl::StartsWithIgnoreCase(type->second, kDigipostXml)) {
      return RefuseDigipost(
          res, 400, "CLIENT_TECHNICAL", "INVALID_MULTIPART",
          absl::StrCat("the first part must be ", kDigipostXml));
    }
    std::optional<XmlDocument> message = ParseXml(message_part.body);
    if (!message.has_value() || message->root != "message" ||
        message->root_namespace != kDigipostNamespace) {
      return RefuseDigipost(res, 400, "CLIENT_DATA", "INVALID_MESSAGE",
                            absl::StrCat("expected <message xmlns=\"",
                                         kDigipostNamespace, "\">"));
    }
    // As the real service: the message must be valid against the
    // published schema (element order, types, lengths, enumerations).
    if (absl::Status valid = ValidateDigipostXml(message_part.body);
        !valid.ok()) {
      return RefuseDigipost(res, 400, "CLIENT_DATA", "INVALID_MESSAGE",
                            MaskPersonNumbersIn(std::string(valid.message())));
    }
    std::string message_id = message->First("message-id");
    std::string sender_id = message->First("sender-id");
    std::string person = message->First("personal-identification-number");
    std::string organisation = message->First("organisation-number");
    std::vector<std::string> uuids = message->All("uuid");
    std::vector<std::string> file_types = message->All("file-type");
    if (message_id.empty()) {
      return RefuseDigipost(res, 400, "CLIENT_DATA", "INVALID_MESSAGE",
                            "message-id is missing");
    }
    if (sender_id != user_id) {
      return RefuseDigipost(
          res, 400, "CLIENT_DATA", "INVALID_SENDER",
          absl::StrCat("sender-id ", sender_id, " is not the signing sender ",
                       user_id));
    }
    if (uuids.empty() || uuids.size() != parts->size() - 1 ||
        file_types.size() != uuids.size()) {
      return RefuseDigipost(
          res, 400, "CLIENT_DATA", "INVALID_DOCUMENTS",
          absl::StrCat("the message lists ", uuids.size(),
                       " documents, the request carries ", parts->size() - 1));
    }
    for (size_t i = 0; i < uuids.size(); ++i) {
      const MimePart* found = nullptr;
      for (size_t p = 1; p < parts->size(); ++p) {
        auto disposition = (*parts)[p].headers.find("content-disposition");
        if (disposition != (*parts)[p].headers.end() &&
            FilenameOf(disposition->second) == uuids[i]) {
          found = &(*parts)[p];
        }
      }
      if (found == nullptr || found->body.empty()) {
        return RefuseDigipost(
            res, 400, "CLIENT_DATA", "INVALID_DOCUMENTS",
            absl::StrCat("no content for document ", uuids[i]));
      }
      if (file_types[i] == "pdf" && !absl::StartsWith(found->body, "%PDF-")) {
        return RefuseDigipost(
            res, 400, "CLIENT_DATA", "INVALID_PDF",
            absl::StrCat("document ", uuids[i], " is not a PDF"));
      }
    }
    if (!person.empty()) {
      auto it = persons_.find(person);
      if (it == persons_.end() || it->second.deleted ||
          it->second.mailbox_provider != kDigipostOrganisation) {
        return RefuseDigipost(
            res, 400, "CLIENT_DATA", "UNKNOWN_RECIPIENT",
            absl::StrCat("recipient ", MaskPersonNumber(person),
                         " has no Digipost mailbox"));
      }
      if (it->second.reserved) {
        return RefuseDigipost(
            res, 400, "CLIENT_DATA", "UNKNOWN_RECIPIENT",
            absl::StrCat("recipient ", MaskPersonNumber(person),
                         " has reserved against digital post"));
      }
    } else if (!AllDigits(organisation, 9)) {
      return RefuseDigipost(res, 400, "CLIENT_DATA", "INVALID_RECIPIENT",
                            "recipient needs a personal identification "
                            "number or a 9-digit organisation number");
    }
    const bool duplicate = CountDelivery(&digipost_, message_id);
    {
      absl::MutexLock lock(&mu_);
      primary_documents_.emplace(
          message_id, std::make_pair(uuids.front(), clock_->NowMillis()));
    }
    if (duplicate) {
      spdlog::info("digipost: duplicate message {}", message_id);
      res.status = 409;
      res.set_content(
          DigipostError("CLIENT_DATA", "DUPLICATE_MESSAGE",
                        absl::StrCat("message-id ", message_id,
                                     " has been delivered already")),
          kDigipostXml);
      return;
    }
    if (!person.empty()) {
      auto reader = persons_.find(person);
      if (reader != persons_.end() && reader->second.reads_after_seconds >= 0) {
        events_.Schedule(
            uuids.front(), "OPENED",
            clock_->NowMillis() + reader->second.reads_after_seconds * 1000,
            clock_->NowMillis());
      }
    }
    spdlog::info("digipost: delivered message {} ({} documents) to {}",
                 message_id, uuids.size(),
                 person.empty() ? organisation : MaskPersonNumber(person));
    std::string delivery = absl::StrCat(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n",
        "<message-delivery xmlns=\"", kDigipostNamespace, "\">\n",
        "  <message-id>", XmlEscape(message_id), "</message-id>\n",
        "  <delivery-method>DIGIPOST</delivery-method>\n",
        "  <status>DELIVERED</status>\n", "  <delivery-time>",
        FormatRfc3339(clock_->NowMillis()), "</delivery-time>\n",
        "  <primary-document>\n", "    <uuid>", XmlEscape(uuids.front()),
        "</uuid>\n", "    <subject>", XmlEscape(message->First("subject")),
        "</subject>\n", "    <file-type>", XmlEscape(file_types.front()),
        "</file-type>\n", "  </primary-document>\n", "</message-delivery>\n");
    res.status = 200;
    res.set_content(delivery, kDigipostXml);
  }

  // ---- Test control ----

  void HandleDeliveries(Response& res) {
    json reply;
    {
      absl::MutexLock lock(&mu_);
      reply = {
          {"digipost", CountsJson(digipost_)},
          {"print", print_.Counts()},
          {"registry",
           {{"requests", registry_requests_}, {"persons", registry_persons_}}},
          {"digipost_events", {{"served", events_.served()}}},
          {"faults_injected", json::object()}};
      for (const auto& [endpoint, n] : faults_.Injected()) {
        reply["faults_injected"][endpoint] = n;
      }
    }
    reply["dpi"] = dpi_->Deliveries();
    reply["altinn"] = altinn_->Counts();
    if (tokens_ != nullptr) reply["token"] = tokens_->Counts();
    res.set_content(reply.dump(-1, ' ', false, json::error_handler_t::replace),
                    kJson);
  }

  void HandleSetFault(const Request& req, Response& res) {
    if (absl::Status s = faults_.SetFromJson(req.body); !s.ok()) {
      res.status = 400;
      res.set_content(JsonError("INVALID_FAULT", s.message()), kJson);
      return;
    }
    spdlog::info("faults: {}", req.body);
    res.status = 204;
  }

  // ---- Digipost document events ----

  void HandleDigipostEvents(const Request& req, Response& res) {
    if (ApplyFault("digipost-events", res)) return;
    if (!CheckDigipostRequest(req, res)) return;
    int64_t offset = 0;
    int64_t max = 100;
    std::optional<int64_t> from = ParseFeedTime(req.get_param_value("from"));
    std::optional<int64_t> to = ParseFeedTime(req.get_param_value("to"));
    if ((req.has_param("offset") &&
         !absl::SimpleAtoi(req.get_param_value("offset"), &offset)) ||
        (req.has_param("maxResults") &&
         !absl::SimpleAtoi(req.get_param_value("maxResults"), &max)) ||
        offset < 0 || max < 1 || max > 1000 || !from.has_value() ||
        !to.has_value() || *from > *to) {
      return RefuseDigipost(res, 400, "CLIENT_DATA", "INVALID_QUERY",
                            "expected from <= to (yyyy-MM-dd'T'HH:mm:ss.SSSxxx)"
                            ", offset >= 0 and maxResults 1-1000");
    }
    res.status = 200;
    res.set_content(events_.Page(clock_->NowMillis(), offset, max,
                                 faults_.EventsOf("digipost-events")),
                    kDigipostXml);
  }

  // {"message_id": "...", "type": "OPENED", "after_ms": 0}
  void HandleScheduleEvent(const Request& req, Response& res) {
    json body = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
    static const char* kTypes[] = {"OPENED",
                                   "PRINT_FAILED",
                                   "POSTMARKED",
                                   "SHREDDED",
                                   "EMAIL_NOTIFICATION_FAILED",
                                   "SMS_NOTIFICATION_FAILED"};
    std::string id = body.is_object() && body.contains("message_id") &&
                             body["message_id"].is_string()
                         ? body["message_id"].get<std::string>()
                         : "";
    std::string type =
        body.is_object() && body.contains("type") && body["type"].is_string()
            ? body["type"].get<std::string>()
            : "OPENED";
    int64_t after = body.is_object() && body.contains("after_ms") &&
                            body["after_ms"].is_number_integer()
                        ? body["after_ms"].get<int64_t>()
                        : 0;
    if (id.empty() ||
        std::find(std::begin(kTypes), std::end(kTypes), type) ==
            std::end(kTypes) ||
        after < 0) {
      res.status = 400;
      res.set_content(JsonError("INVALID_EVENT",
                                "expected {\"message_id\", \"type\": "
                                "OPENED|PRINT_FAILED|POSTMARKED|SHREDDED|"
                                "EMAIL_NOTIFICATION_FAILED|"
                                "SMS_NOTIFICATION_FAILED, \"after_ms\"}"),
                      kJson);
      return;
    }
    std::string document = id;  // A message not delivered: as given.
    int64_t delivered_ms = clock_->NowMillis();
    {
      absl::MutexLock lock(&mu_);
      auto primary = primary_documents_.find(id);
      if (primary != primary_documents_.end()) {
        document = primary->second.first;
        delivered_ms = primary->second.second;
      }
    }
    events_.Schedule(document, type, clock_->NowMillis() + after, delivered_ms);
    res.status = 204;
  }

  const SimulatorOptions options_;
  const Clock* const clock_;
  const std::unique_ptr<SignatureChecker> checker_;
  std::unique_ptr<ResponseSigner> digipost_signer_;  // Set before Start().
  std::unique_ptr<DpiSim> dpi_;  // Set by Start(), before any request.
  absl::flat_hash_map<std::string, SimPerson> persons_;  // Fixed after ctor.
  httplib::SSLServer server_;
  int port_ = -1;
  // The socket Start() bound (the library does not expose it).
  socket_t listen_socket_ = INVALID_SOCKET;
  std::thread thread_;
  std::unique_ptr<TokenIssuer> tokens_;  // Null without token_ca_file.
  std::unique_ptr<AltinnSim> altinn_;
  std::atomic<bool> finished_{false};
  PrintSimulator print_;  // Thread-safe on its own.

  FaultModel faults_;
  DigipostEventFeed events_;
  absl::Mutex mu_;
  // Counts one delivery of `id`: the first is accepted, each later one a
  // refused duplicate. Returns true for a duplicate.
  bool CountDelivery(std::map<std::string, Counts>* counts,
                     const std::string& id) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    Counts& c = (*counts)[id];
    if (c.accepted > 0) {
      ++c.duplicates;
      return true;
    }
    c.accepted = 1;
    return false;
  }

  std::map<std::string, Counts> digipost_ ABSL_GUARDED_BY(mu_);
  // Message id -> its primary document's uuid, which events name, and when
  // it was delivered.
  std::map<std::string, std::pair<std::string, int64_t>> primary_documents_
      ABSL_GUARDED_BY(mu_);
  int64_t registry_requests_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t registry_persons_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Simulator>> StartSimulator(
    SimulatorOptions options) {
  for (const auto& [file, option] :
       {std::pair{options.cert_file, "cert"}, {options.key_file, "key"}}) {
    if (file.empty() || !std::ifstream(file)) {
      return absl::InvalidArgumentError(
          absl::StrCat(option, ": cannot read \"", file, "\""));
    }
  }
  absl::StatusOr<std::unique_ptr<SignatureChecker>> checker =
      SignatureChecker::FromCertFile(options.sender_cert_file);
  if (!checker.ok()) return checker.status();
  // A client that hangs up mid-reply would otherwise end the process.
  std::signal(SIGPIPE, SIG_IGN);
  auto simulator =
      std::make_unique<SimulatorImpl>(std::move(options), *std::move(checker));
  if (absl::Status s = simulator->StartServices(); !s.ok()) return s;
  if (absl::Status s = simulator->StartDigipost(); !s.ok()) return s;
  if (absl::Status s = simulator->Start(); !s.ok()) return s;
  return simulator;
}

}  // namespace utpost::sim
