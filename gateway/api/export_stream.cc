#include "gateway/api/export_stream.h"

#include <openssl/evp.h>

#include <algorithm>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "gateway/api/receipt_log_service.h"
#include "gateway/receipts/export_lines.h"
#include "nlohmann/json.hpp"

namespace utpost::api {
namespace {

using Json = nlohmann::ordered_json;

// Receipts per store read.
constexpr int kPage = 256;

std::string Dump(const Json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void AddHashes(const std::vector<std::string>& hashes,
               google::protobuf::RepeatedPtrField<std::string>* out) {
  for (const auto& h : hashes) *out->Add() = h;
}

}  // namespace

struct ExportStream::Hash {
  Hash() : ctx(EVP_MD_CTX_new()) {
    EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  }
  ~Hash() { EVP_MD_CTX_free(ctx); }
  void Add(const std::string& s) { EVP_DigestUpdate(ctx, s.data(), s.size()); }
  // Of everything added so far; adding may go on.
  std::string Hex() const {
    EVP_MD_CTX* copy = EVP_MD_CTX_new();
    EVP_MD_CTX_copy_ex(copy, ctx);
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(copy, out, &n);
    EVP_MD_CTX_free(copy);
    return absl::BytesToHexString(
        std::string(reinterpret_cast<const char*>(out), n));
  }
  EVP_MD_CTX* ctx;
};

ExportStream::ExportStream(store::Store* store, receipts::ReceiptSigner* signer,
                           ExportRequest request, Clock* clock)
    : store_(store),
      signer_(signer),
      request_(std::move(request)),
      clock_(clock != nullptr ? clock : RealClock()),
      hash_(std::make_unique<Hash>()) {
  if (request_.has_start) start_time_ = FormatRfc3339(request_.start_ms);
  if (request_.has_end) end_time_ = FormatRfc3339(request_.end_ms);
}

ExportStream::~ExportStream() = default;

absl::Status ExportStream::Prepare() {
  ASSIGN_OR_RETURN(int64_t size, store_->ReceiptLogSize());
  std::vector<store::TreeHead> heads;
  if (size > 0) {
    ASSIGN_OR_RETURN(target_, HeadCovering(store_, size - 1));
    if (request_.heads_since_size > 0) {
      ASSIGN_OR_RETURN(heads, store_->ListTreeHeads(request_.heads_since_size,
                                                    target_.tree_size - 1));
    }
    heads.push_back(target_);
  } else {
    target_ = store::TreeHead{};
    target_.root_hash = absl::HexStringToBytes(
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  }
  store::ReceiptLogQuery q;
  q.tenant = request_.tenant;
  q.letter_id = request_.letter_id;
  q.from_ms = request_.has_start ? request_.start_ms : 0;
  q.to_ms = request_.has_end ? request_.end_ms : 0;
  // An end at or before the epoch holds nothing (to_ms 0 means no bound).
  const bool nothing = request_.has_end && request_.end_ms <= 0;
  if (target_.tree_size > 0 && !nothing) {
    ASSIGN_OR_RETURN(expected_,
                     store_->CountLoggedReceipts(q, target_.tree_size));
  }
  expected_lines_ = 1 + 2 * static_cast<int64_t>(heads.size()) -
                    (heads.empty() ? 0 : 1) + expected_.receipts +
                    expected_.letters + 1;

  const std::string time = FormatRfc3339(clock_->NowMillis());
  Json p;
  p["statement"] = "utpost-export-header";
  p["format"] = kExportFormat;
  p["tenant"] = request_.tenant;
  if (!request_.letter_id.empty()) p["letter"] = request_.letter_id;
  p["start_time"] = start_time_;
  p["end_time"] = end_time_;
  p["tree_size"] = target_.tree_size;
  p["receipts"] = expected_.receipts;
  p["letters"] = expected_.letters;
  p["lines"] = expected_lines_;
  p["time"] = time;
  ASSIGN_OR_RETURN(std::string jws,
                   signer_->SignStatement(kExportHeaderTyp, Dump(p)));
  v1::ExportReceiptsResponse header;
  auto* h = header.mutable_header();
  h->set_format(kExportFormat);
  h->set_tenant(request_.tenant);
  h->set_start_time(start_time_);
  h->set_end_time(end_time_);
  h->set_tree_size(target_.tree_size);
  h->set_receipts(expected_.receipts);
  h->set_letters(expected_.letters);
  h->set_lines(expected_lines_);
  h->set_jws(jws);
  Json line;
  line["type"] = "export";
  line["format"] = kExportFormat;
  line["tenant"] = request_.tenant;
  if (!request_.letter_id.empty()) line["letter"] = request_.letter_id;
  line["start_time"] = start_time_;
  line["end_time"] = end_time_;
  line["tree_size"] = target_.tree_size;
  line["receipts"] = expected_.receipts;
  line["letters"] = expected_.letters;
  line["lines"] = expected_lines_;
  line["jws"] = jws;
  header.set_line(Dump(line));
  pending_.push_back(std::move(header));

  const store::TreeHead* prev = nullptr;
  for (const store::TreeHead& head : heads) {
    if (prev != nullptr) {
      ASSIGN_OR_RETURN(auto proof, store_->ConsistencyProof(prev->tree_size,
                                                            head.tree_size));
      v1::ExportReceiptsResponse c;
      c.mutable_consistency()->set_first(prev->tree_size);
      c.mutable_consistency()->set_second(head.tree_size);
      AddHashes(proof, c.mutable_consistency()->mutable_hashes());
      c.set_line(receipts::ExportItemLine(c, 0));
      pending_.push_back(std::move(c));
    }
    v1::ExportReceiptsResponse r;
    *r.mutable_tree_head() = ToApiTreeHead(head);
    r.set_line(receipts::ExportItemLine(r, head.tree_size));
    pending_.push_back(std::move(r));
    prev = &head;
  }
  return absl::OkStatus();
}

void ExportStream::Emit(v1::ExportReceiptsResponse* item) {
  hash_->Add(item->line());
  hash_->Add("\n");
  ++lines_;
}

absl::StatusOr<bool> ExportStream::Next(v1::ExportReceiptsResponse* out) {
  while (pending_.empty()) {
    switch (phase_) {
      case Phase::kHeads:
        phase_ = Phase::kReceipts;
        break;
      case Phase::kReceipts:
        if (receipts_done_) {
          if (receipts_sent_ != expected_.receipts ||
              static_cast<int64_t>(letters_.size()) != expected_.letters) {
            return absl::InternalError(absl::StrCat(
                "export: counted ", expected_.receipts, " receipts of ",
                expected_.letters, " letters but read ", receipts_sent_, " of ",
                letters_.size()));
          }
          phase_ = Phase::kStatements;
          break;
        }
        RETURN_IF_ERROR(FillReceipts());
        break;
      case Phase::kStatements:
        if (next_statement_ == letters_.size()) {
          phase_ = Phase::kTrailer;
          break;
        }
        {
          ASSIGN_OR_RETURN(auto s, Statement(letters_[next_statement_++]));
          pending_.push_back(std::move(s));
        }
        break;
      case Phase::kTrailer: {
        ASSIGN_OR_RETURN(auto t, Trailer());
        pending_.push_back(std::move(t));
        phase_ = Phase::kDone;
        break;
      }
      case Phase::kDone:
        return false;
    }
  }
  *out = std::move(pending_.front());
  pending_.pop_front();
  Emit(out);
  return true;
}

absl::Status ExportStream::FillReceipts() {
  if (target_.tree_size == 0) {
    receipts_done_ = true;
    return absl::OkStatus();
  }
  store::ReceiptLogQuery q;
  q.tenant = request_.tenant;
  q.letter_id = request_.letter_id;
  q.from_ms = request_.has_start ? request_.start_ms : 0;
  q.to_ms = request_.has_end ? request_.end_ms : 0;
  if (request_.has_end && request_.end_ms <= 0) {
    receipts_done_ = true;  // Nothing is before the epoch.
    return absl::OkStatus();
  }
  q.after_leaf = after_leaf_;
  q.limit = kPage;
  ASSIGN_OR_RETURN(std::vector<store::ReceiptRecord> page,
                   store_->LoggedReceipts(q));
  for (const store::ReceiptRecord& r : page) {
    if (r.leaf_index >= target_.tree_size) {
      receipts_done_ = true;
      break;
    }
    ASSIGN_OR_RETURN(auto proof,
                     store_->InclusionProof(r.leaf_index, target_.tree_size));
    v1::ExportReceiptsResponse out;
    auto* lr = out.mutable_receipt();
    lr->set_leaf_index(r.leaf_index);
    lr->set_letter_id(r.letter_id);
    lr->set_sequence(r.sequence);
    lr->set_jws(r.jws);
    AddHashes(proof, lr->mutable_inclusion_proof());
    out.set_line(receipts::ExportItemLine(out, target_.tree_size));
    pending_.push_back(std::move(out));
    after_leaf_ = r.leaf_index;
    ++receipts_sent_;
    if (letter_set_.insert(r.letter_id).second) {
      letters_.push_back(r.letter_id);
    }
  }
  if (page.size() < static_cast<size_t>(kPage)) receipts_done_ = true;
  return absl::OkStatus();
}

absl::StatusOr<v1::ExportReceiptsResponse> ExportStream::Statement(
    const std::string& letter_id) {
  ASSIGN_OR_RETURN(std::vector<store::ReceiptRecord> all,
                   store_->GetReceipts(letter_id, request_.tenant));
  int64_t total = 0, in_range = 0, first_seq = 0, last_seq = 0;
  std::string tenant, last_sha256;
  int64_t last_total_seq = 0;
  for (const store::ReceiptRecord& r : all) {
    if (r.leaf_index < 0 || r.leaf_index >= target_.tree_size) continue;
    tenant = r.tenant;
    ++total;
    if (r.sequence > last_total_seq) {
      last_total_seq = r.sequence;
      last_sha256 = r.sha256_hex;
    }
    const bool in = (!request_.has_start || r.time_ms >= request_.start_ms) &&
                    (!request_.has_end || r.time_ms < request_.end_ms);
    if (!in) continue;
    ++in_range;
    if (first_seq == 0 || r.sequence < first_seq) first_seq = r.sequence;
    last_seq = std::max(last_seq, r.sequence);
  }
  Json p;
  p["statement"] = "utpost-letter-receipts";
  p["letter_id"] = letter_id;
  p["tenant"] = tenant;
  p["tree_size"] = target_.tree_size;
  p["start_time"] = start_time_;
  p["end_time"] = end_time_;
  p["receipts"] = total;
  p["last_sha256"] = last_sha256;
  p["in_range"] = in_range;
  p["first_seq"] = first_seq;
  p["last_seq"] = last_seq;
  p["time"] = FormatRfc3339(clock_->NowMillis());
  ASSIGN_OR_RETURN(std::string jws,
                   signer_->SignStatement(kLetterStatementTyp, Dump(p)));
  v1::ExportReceiptsResponse out;
  auto* s = out.mutable_statement();
  s->set_letter_id(letter_id);
  s->set_tenant(tenant);
  s->set_tree_size(target_.tree_size);
  s->set_receipts(total);
  s->set_last_sha256(last_sha256);
  s->set_in_range(in_range);
  s->set_first_seq(first_seq);
  s->set_last_seq(last_seq);
  s->set_jws(jws);
  Json line;
  line["type"] = "letter";
  line["letter_id"] = letter_id;
  line["tenant"] = tenant;
  line["tree_size"] = target_.tree_size;
  line["receipts"] = total;
  line["last_sha256"] = last_sha256;
  line["in_range"] = in_range;
  line["first_seq"] = first_seq;
  line["last_seq"] = last_seq;
  line["jws"] = jws;
  out.set_line(Dump(line));
  return out;
}

absl::StatusOr<v1::ExportReceiptsResponse> ExportStream::Trailer() {
  const std::string sha256 = hash_->Hex();
  const std::string root = absl::BytesToHexString(target_.root_hash);
  Json p;
  p["statement"] = "utpost-export-trailer";
  p["format"] = kExportFormat;
  p["tenant"] = request_.tenant;
  if (!request_.letter_id.empty()) p["letter"] = request_.letter_id;
  p["start_time"] = start_time_;
  p["end_time"] = end_time_;
  p["tree_size"] = target_.tree_size;
  p["root_hash"] = root;
  p["receipts"] = receipts_sent_;
  p["letters"] = static_cast<int64_t>(letters_.size());
  p["lines"] = lines_;
  p["sha256"] = sha256;
  p["time"] = FormatRfc3339(clock_->NowMillis());
  ASSIGN_OR_RETURN(std::string jws,
                   signer_->SignStatement(kExportTrailerTyp, Dump(p)));
  v1::ExportReceiptsResponse out;
  auto* t = out.mutable_trailer();
  t->set_lines(lines_);
  t->set_sha256(sha256);
  t->set_tree_size(target_.tree_size);
  t->set_root_hash(root);
  t->set_jws(jws);
  Json line;
  line["type"] = "trailer";
  line["lines"] = lines_;
  line["sha256"] = sha256;
  line["tree_size"] = target_.tree_size;
  line["root_hash"] = root;
  line["jws"] = jws;
  out.set_line(Dump(line));
  return out;
}

}  // namespace utpost::api
