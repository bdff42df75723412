// utpost-loadgen: submits letters to utpostd as fast as a fixed number of
// outstanding calls allows, then (optionally) waits until every letter has
// reached a final state. Prints throughput and latency for people and one
// JSON line, last, for scripts.

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "bench/closed_loop.h"
#include "bench/pdf.h"
#include "bench/tls.h"
#include "nlohmann/json.hpp"
#include "utpost/v1/letter.grpc.pb.h"

namespace utpost::bench {
namespace {

using Clock = std::chrono::steady_clock;
using v1::Letter;

struct Options {
  std::string server = "127.0.0.1:7443";
  ClientTlsFiles tls;
  int64_t letters = 1000;
  int concurrency = 32;
  // Letters a second at most (unary calls); 0: as fast as they complete.
  double rate = 0;
  int channels = 1;
  size_t pdf_bytes = 10240;
  std::vector<std::string> persons;
  std::string reference_prefix;
  int call_timeout_seconds = 60;
  bool wait_delivered = false;
  // Through SubmitBatch streams (one per connection) instead of unary
  // calls; the server bounds what is in flight.
  bool bulk = false;
  int wait_timeout_seconds = 600;
  std::string dump_pdf;
};

int64_t UnixMs(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             t.time_since_epoch())
      .count();
}

absl::Status ToAbsl(const grpc::Status& s) {
  if (s.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      s.error_message());
}

// Submits letter `index` of the run; keeps the id the server gave it.
class Submitter {
 public:
  Submitter(const Options& options, std::string pdf,
            std::vector<std::unique_ptr<v1::LetterService::Stub>> stubs)
      : options_(options),
        pdf_(std::move(pdf)),
        stubs_(std::move(stubs)),
        ids_(options.letters) {}

  void Start(int64_t index, DoneCallback done) {
    auto* call = new Call;
    call->context.set_deadline(
        std::chrono::system_clock::now() +
        std::chrono::seconds(options_.call_timeout_seconds));
    Fill(index, &call->request);
    auto* stub = stubs_[index % stubs_.size()].get();
    stub->async()->SubmitLetter(
        &call->context, &call->request, &call->response,
        [this, call, index, done = std::move(done)](grpc::Status status) {
          if (status.ok()) ids_[index] = call->response.letter().id();
          delete call;
          done(ToAbsl(status));
        });
  }

  // Letter id of each letter submitted successfully, by its index.
  const std::vector<std::string>& ids() const { return ids_; }

  // Submits every letter through SubmitBatch streams, one per stub, each
  // taking every stubs-th letter; a letter's latency is from its write to
  // its result.
  ClosedLoopResult RunBulk() {
    ClosedLoopResult r;
    const int64_t n = options_.letters;
    std::vector<Clock::time_point> written(n);
    std::vector<int64_t> latencies(n, -1);
    std::vector<std::string> errors(n);
    const auto start = Clock::now();
    r.first_start_unix_ms = UnixMs(std::chrono::system_clock::now());
    std::vector<std::thread> streams;
    const int64_t k = static_cast<int64_t>(stubs_.size());
    for (int64_t s = 0; s < k; ++s) {
      streams.emplace_back([&, s] {
        grpc::ClientContext context;
        auto stream = stubs_[s]->SubmitBatch(&context);
        // Stream index j is letter s + j * k.
        std::thread reader([&] {
          v1::SubmitBatchResult result;
          while (stream->Read(&result)) {
            const int64_t index = s + result.index() * k;
            if (index < 0 || index >= n) continue;
            if (result.code() == 0) {
              ids_[index] = result.letter().id();
              latencies[index] =
                  std::chrono::duration_cast<std::chrono::microseconds>(
                      Clock::now() - written[index])
                      .count();
            } else {
              errors[index] =
                  absl::StrCat(result.code(), " ", result.message());
            }
          }
        });
        v1::SubmitLetterRequest request;
        for (int64_t index = s; index < n; index += k) {
          request.Clear();
          Fill(index, &request);
          written[index] = Clock::now();
          if (!stream->Write(request)) break;
        }
        stream->WritesDone();
        reader.join();
        const grpc::Status status = stream->Finish();
        if (!status.ok()) {
          for (int64_t index = s; index < n; index += k) {
            if (latencies[index] < 0 && errors[index].empty()) {
              errors[index] =
                  absl::StrCat("stream ended: ", status.error_code(), " ",
                               status.error_message());
            }
          }
        }
      });
    }
    for (auto& t : streams) t.join();
    r.elapsed_seconds =
        std::chrono::duration<double>(Clock::now() - start).count();
    for (int64_t i = 0; i < n; ++i) {
      if (latencies[i] >= 0) {
        ++r.completed;
        r.latencies_us.push_back(latencies[i]);
      } else {
        ++r.failed;
        if (r.first_error.empty()) {
          r.first_error = errors[i].empty() ? "no result" : errors[i];
        }
      }
    }
    return r;
  }

 private:
  struct Call {
    grpc::ClientContext context;
    v1::SubmitLetterRequest request;
    v1::SubmitLetterResponse response;
  };

  void Fill(int64_t index, v1::SubmitLetterRequest* r) const {
    r->set_client_reference(
        absl::StrCat(options_.reference_prefix, "-", index));
    r->set_title(absl::StrCat("Benchmark letter ", index));
    v1::Recipient* to = r->mutable_recipient();
    const std::string& who = options_.persons[index % options_.persons.size()];
    if (who.rfind("org:", 0) == 0) {
      to->set_organisation(who.substr(4));
    } else {
      to->set_person(who);
    }
    v1::PostalAddress* address = to->mutable_postal_address();
    address->set_name("Kari Nordmann");
    address->add_address_lines("Storgata 1");
    address->set_postal_code("5003");
    address->set_city("Bergen");
    v1::Document* d = r->add_documents();
    d->set_file_name("letter.pdf");
    d->set_media_type("application/pdf");
    d->set_content(pdf_);
  }

  const Options& options_;
  const std::string pdf_;
  const std::vector<std::unique_ptr<v1::LetterService::Stub>> stubs_;
  // Slot i is written only by the completion of letter i.
  std::vector<std::string> ids_;
};

bool IsFinal(Letter::State s) {
  switch (s) {
    case Letter::DELIVERED:
    case Letter::READ:
    case Letter::SENT_PRINT:
    case Letter::PRINTED:
    case Letter::FAILED:
    case Letter::CANCELLED:
    case Letter::PARKED:
      return true;
    default:
      return false;
  }
}

bool IsHandedOff(Letter::State s) {
  return s == Letter::DELIVERED || s == Letter::READ ||
         s == Letter::SENT_PRINT || s == Letter::PRINTED;
}

struct WaitResult {
  int64_t expected = 0;
  int64_t final_count = 0;
  int64_t handed_off = 0;
  // First final state of each letter, counted by state name.
  std::map<std::string, int64_t> by_state;
  // Latest server timestamp among the first final events, and when this
  // process saw the last of them.
  int64_t last_final_event_unix_ms = 0;
  int64_t last_final_seen_unix_ms = 0;
  // Per letter handed to a provider: from its RECEIVED event to the first
  // event that hands it off (DELIVERED, SENT_PRINT...), both stamped by the
  // server, in microseconds.
  std::vector<int64_t> to_handed_off_us;
  std::string error;
};

// Reads the tenant's event stream from the start (WatchLetters from cursor
// 0, resuming after a dropped stream) until every letter of `ids` has had a
// final state or `deadline` passes.
WaitResult WaitFinal(v1::LetterService::Stub* stub,
                     const std::unordered_map<std::string, int64_t>& ids,
                     std::chrono::system_clock::time_point deadline) {
  WaitResult w;
  w.expected = static_cast<int64_t>(ids.size());
  std::vector<bool> done_by_index;
  for (const auto& [id, index] : ids) {
    if (index >= static_cast<int64_t>(done_by_index.size())) {
      done_by_index.resize(index + 1, false);
    }
  }
  std::vector<int64_t> received_ms(done_by_index.size(), -1);
  int64_t cursor = 0;
  auto next_progress = Clock::now() + std::chrono::seconds(5);
  while (w.final_count < w.expected &&
         std::chrono::system_clock::now() < deadline) {
    grpc::ClientContext context;
    context.set_deadline(deadline);
    v1::WatchLettersRequest request;
    request.set_cursor(cursor);
    auto reader = stub->WatchLetters(&context, request);
    v1::LetterEvent e;
    while (w.final_count < w.expected && reader->Read(&e)) {
      cursor = e.cursor();
      if (Clock::now() >= next_progress) {
        std::cerr << "  final so far: " << w.final_count << "/" << w.expected
                  << std::endl;
        next_progress = Clock::now() + std::chrono::seconds(5);
      }
      const int64_t stamp_ms =
          e.time().seconds() * 1000 + e.time().nanos() / 1000000;
      if (e.state() == Letter::RECEIVED) {
        if (auto r = ids.find(e.letter_id()); r != ids.end()) {
          received_ms[r->second] = stamp_ms;
        }
        continue;
      }
      if (!IsFinal(e.state())) continue;
      auto it = ids.find(e.letter_id());
      if (it == ids.end() || done_by_index[it->second]) continue;
      if (IsHandedOff(e.state()) && received_ms[it->second] >= 0) {
        w.to_handed_off_us.push_back((stamp_ms - received_ms[it->second]) *
                                     1000);
      }
      done_by_index[it->second] = true;
      ++w.final_count;
      if (IsHandedOff(e.state())) ++w.handed_off;
      ++w.by_state[Letter::State_Name(e.state())];
      w.last_final_event_unix_ms =
          std::max(w.last_final_event_unix_ms, stamp_ms);
      w.last_final_seen_unix_ms = UnixMs(std::chrono::system_clock::now());
    }
    if (w.final_count >= w.expected) {
      context.TryCancel();
      reader->Finish();
      break;
    }
    const grpc::Status status = reader->Finish();
    w.error = absl::StrCat("WatchLetters ended: ", status.error_code(), " ",
                           status.error_message());
    if (std::chrono::system_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
  }
  if (w.final_count >= w.expected) w.error.clear();
  return w;
}

int Run(const Options& o) {
  const std::string pdf = MakePdf(o.pdf_bytes);
  if (!o.dump_pdf.empty()) {
    std::ofstream(o.dump_pdf, std::ios::binary) << pdf;
    return 0;
  }
  if (o.persons.empty()) {
    std::cerr << "utpost-loadgen: --persons: give at least one person number"
              << std::endl;
    return 2;
  }
  auto credentials = ClientCredentials(o.tls);
  if (!credentials.ok()) {
    std::cerr << "utpost-loadgen: " << credentials.status().message()
              << std::endl;
    return 2;
  }
  auto channels = ConnectChannels(o.server, *credentials, o.channels, 10);
  if (!channels.ok()) {
    std::cerr << "utpost-loadgen: " << channels.status().message() << std::endl;
    return 1;
  }
  std::vector<std::unique_ptr<v1::LetterService::Stub>> stubs;
  for (const auto& c : *channels)
    stubs.push_back(v1::LetterService::NewStub(c));
  auto watch_stub = v1::LetterService::NewStub(channels->front());

  std::cout << "utpost-loadgen: " << o.letters << " letters, "
            << (o.bulk ? absl::StrCat("SubmitBatch streams")
                       : absl::StrCat(o.concurrency, " in flight"))
            << ", " << pdf.size() << "-byte PDF, " << o.persons.size()
            << " recipient(s), " << o.channels << " connection(s) to "
            << o.server << std::endl;
  Submitter submitter(o, pdf, std::move(stubs));
  const Starter start = [&](int64_t index, DoneCallback done) {
    submitter.Start(index, std::move(done));
  };
  const ClosedLoopResult r =
      o.bulk       ? submitter.RunBulk()
      : o.rate > 0 ? RunPaced(o.letters, o.concurrency, start, o.rate)
                   : RunClosedLoop(o.letters, o.concurrency, start);
  const LatencySummary lat = Summarize(r.latencies_us);
  const double rate = r.elapsed_seconds > 0
                          ? static_cast<double>(r.completed) / r.elapsed_seconds
                          : 0;
  std::cout << std::fixed << std::setprecision(1);
  std::cout << "submit: " << r.completed << " ok, " << r.failed << " failed in "
            << std::setprecision(2) << r.elapsed_seconds
            << " s: " << std::setprecision(0) << rate << " letters/s"
            << std::endl;
  if (!r.first_error.empty()) {
    std::cout << "first error: " << r.first_error << std::endl;
  }
  std::cout << std::setprecision(1) << "submit latency: p50 " << lat.p50_ms
            << " ms, p90 " << lat.p90_ms << " ms, p99 " << lat.p99_ms
            << " ms, max " << lat.max_ms << " ms" << std::endl;

  nlohmann::json out = {
      {"bench", "utpost-loadgen"},
      {"letters", o.letters},
      {"concurrency", o.concurrency},
      {"bulk", o.bulk},
      {"connections", o.channels},
      {"pdf_bytes", pdf.size()},
      {"submitted", r.completed},
      {"submit_failed", r.failed},
      {"submit_seconds", r.elapsed_seconds},
      {"submit_per_second", rate},
      {"latency_ms",
       {{"p50", lat.p50_ms},
        {"p90", lat.p90_ms},
        {"p99", lat.p99_ms},
        {"max", lat.max_ms},
        {"mean", lat.mean_ms}}},
  };
  if (!r.first_error.empty()) out["first_error"] = r.first_error;

  bool complete = r.failed == 0;
  if (o.wait_delivered && r.completed > 0) {
    std::unordered_map<std::string, int64_t> ids;
    const auto& all = submitter.ids();
    for (int64_t i = 0; i < static_cast<int64_t>(all.size()); ++i) {
      if (!all[i].empty()) ids.emplace(all[i], i);
    }
    std::cout << "waiting until all " << ids.size()
              << " letters are in a final state..." << std::endl;
    const WaitResult w =
        WaitFinal(watch_stub.get(), ids,
                  std::chrono::system_clock::now() +
                      std::chrono::seconds(o.wait_timeout_seconds));
    // The server stamps each event when it stores it; that is when the
    // letter became final, however late this stream read it. Fall back to
    // the local clock if the stamps cannot be right.
    int64_t last_ms = w.last_final_event_unix_ms;
    if (last_ms < r.first_start_unix_ms ||
        last_ms > w.last_final_seen_unix_ms + 1000) {
      last_ms = w.last_final_seen_unix_ms;
    }
    const double final_seconds =
        static_cast<double>(last_ms - r.first_start_unix_ms) / 1000.0;
    const double delivered_rate =
        final_seconds > 0 ? static_cast<double>(w.handed_off) / final_seconds
                          : 0;
    std::string states;
    for (const auto& [name, count] : w.by_state) {
      absl::StrAppend(&states, states.empty() ? "" : ", ", name, " ", count);
    }
    std::cout << "final: " << w.final_count << "/" << w.expected << " ("
              << (states.empty() ? "none" : states) << ")" << std::endl;
    if (!w.error.empty()) std::cout << w.error << std::endl;
    std::cout << std::setprecision(2) << "all final " << final_seconds
              << " s after the first submit; " << std::setprecision(0)
              << delivered_rate << " letters/s handed to a provider"
              << std::endl;
    out["final"] = w.final_count;
    out["final_expected"] = w.expected;
    out["final_by_state"] = w.by_state;
    out["handed_off"] = w.handed_off;
    out["all_final_seconds"] = final_seconds;
    out["delivered_per_second"] = delivered_rate;
    if (!w.to_handed_off_us.empty()) {
      const LatencySummary h = Summarize(w.to_handed_off_us);
      std::cout << std::setprecision(1)
                << "submit to handed to a provider (server clock): p50 "
                << h.p50_ms << " ms, p99 " << h.p99_ms << " ms" << std::endl;
      out["to_handed_off_ms"] = {{"p50", h.p50_ms}, {"p99", h.p99_ms}};
    }
    if (!w.error.empty()) out["wait_error"] = w.error;
    complete = complete && w.final_count == w.expected;
  }
  out["complete"] = complete;
  std::cout << out.dump() << std::endl;
  return complete ? 0 : 1;
}

}  // namespace
}  // namespace utpost::bench

int main(int argc, char** argv) {
  utpost::bench::Options o;
  o.reference_prefix = absl::StrCat(
      "bench-", utpost::bench::UnixMs(std::chrono::system_clock::now()), "-",
      getpid());
  CLI::App app{"Load generator for utpostd: submits letters and measures."};
  app.add_option("--server", o.server, "host:port of utpostd")
      ->capture_default_str();
  app.add_option("--ca", o.tls.ca_file, "CA that signed the server (PEM)")
      ->capture_default_str();
  app.add_option("--cert", o.tls.cert_file, "client certificate (PEM)")
      ->capture_default_str();
  app.add_option("--key", o.tls.key_file, "client key (PEM)")
      ->capture_default_str();
  app.add_option("-n,--letters", o.letters, "letters to submit")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("-c,--concurrency", o.concurrency, "calls in flight")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--rate", o.rate,
                 "letters a second at most (unary calls); 0: as fast as "
                 "they complete")
      ->capture_default_str();
  app.add_option("--connections", o.channels,
                 "HTTP/2 connections the calls are spread over")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--pdf-bytes", o.pdf_bytes, "size of each letter's PDF")
      ->capture_default_str();
  app.add_option("--persons", o.persons,
                 "recipients' person numbers (or org:NUMBER for an "
                 "organisation), comma-separated; letters cycle over them")
      ->delimiter(',');
  app.add_option("--reference-prefix", o.reference_prefix,
                 "client references are PREFIX-<index>; unique per run by "
                 "default");
  app.add_option("--call-timeout", o.call_timeout_seconds,
                 "seconds allowed per SubmitLetter call")
      ->capture_default_str();
  app.add_flag("--wait-delivered", o.wait_delivered,
               "after submitting, wait until every letter is final");
  app.add_option("--wait-timeout", o.wait_timeout_seconds,
                 "seconds to wait for final states")
      ->capture_default_str();
  app.add_flag("--bulk", o.bulk,
               "submit through SubmitBatch, one stream per connection, "
               "instead of unary calls (-c does not apply)");
  app.add_option("--dump-pdf", o.dump_pdf,
                 "write the generated PDF to this file and exit");
  CLI11_PARSE(app, argc, argv);
  return utpost::bench::Run(o);
}
