#include "gateway/receipts/jws_receipt_signer.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <ctime>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/status_macros.h"
#include "gateway/receipts/openssl_util.h"
#include "nlohmann/json.hpp"

namespace utpost::receipts {
namespace {

using internal::BioPtr;
using internal::EvpMdCtxPtr;
using internal::EvpPkeyPtr;
using internal::TakeOpenSslErrors;
using internal::X509Ptr;

// Refuses encrypted keys instead of letting OpenSSL prompt on the terminal.
int NoPassphrase(char*, int, int, void*) { return 0; }

absl::StatusOr<EvpPkeyPtr> LoadKey(const std::string& path) {
  BioPtr bio(BIO_new_file(path.c_str(), "r"));
  if (bio == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "receipt key_file ", path, ": cannot open: ", TakeOpenSslErrors()));
  }
  EvpPkeyPtr key(
      PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr));
  if (key == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "receipt key_file ", path,
        ": no unencrypted PEM private key: ", TakeOpenSslErrors()));
  }
  if (!internal::IsP256Key(key.get())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "receipt key_file ", path, ": not an EC P-256 key (ES256 needs one)"));
  }
  return key;
}

absl::StatusOr<std::vector<X509Ptr>> LoadChain(const std::string& path) {
  BioPtr bio(BIO_new_file(path.c_str(), "r"));
  if (bio == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("receipt cert_chain_file ", path,
                     ": cannot open: ", TakeOpenSslErrors()));
  }
  std::vector<X509Ptr> chain;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    chain.emplace_back(cert);
  }
  // The loop ends on "no start line" at the end of the file; that is not an
  // error once at least one certificate was read.
  std::string errors = TakeOpenSslErrors();
  if (chain.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "receipt cert_chain_file ", path, ": no PEM certificate: ", errors));
  }
  return chain;
}

int64_t Asn1TimeToMillis(const ASN1_TIME* t) {
  struct tm tm = {};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return static_cast<int64_t>(timegm(&tm)) * 1000;
}

std::string SubjectOf(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(bio.get(), X509_get_subject_name(cert), 0,
                     XN_FLAG_RFC2253);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, len > 0 ? static_cast<size_t>(len) : 0);
}

class JwsReceiptSigner final : public ReceiptSigner {
 public:
  JwsReceiptSigner(EvpPkeyPtr key, std::string header_b64,
                   std::string head_header_b64, nlohmann::ordered_json x5c,
                   SigningCertificateInfo info)
      : key_(std::move(key)),
        header_b64_(std::move(header_b64)),
        head_header_b64_(std::move(head_header_b64)),
        x5c_(std::move(x5c)),
        info_(std::move(info)) {}

  absl::StatusOr<std::string> Sign(const ReceiptContent& c) override {
    return SignCompact(header_b64_, ReceiptPayloadJson(c));
  }

  absl::StatusOr<std::string> SignTreeHead(const TreeHeadContent& h) override {
    return SignCompact(head_header_b64_, TreeHeadPayloadJson(h));
  }

  absl::StatusOr<std::string> SignStatement(
      const std::string& typ, const std::string& payload_json) override {
    nlohmann::ordered_json header;
    header["alg"] = "ES256";
    header["typ"] = typ;
    header["x5c"] = x5c_;
    return SignCompact(absl::WebSafeBase64Escape(header.dump()), payload_json);
  }

  std::vector<SigningCertificateInfo> SigningCertificates() const override {
    SigningCertificateInfo i = info_;
    i.active = true;
    return {i};
  }

  const SigningCertificateInfo& info() const { return info_; }

 private:
  absl::StatusOr<std::string> SignCompact(const std::string& header_b64,
                                          const std::string& payload) {
    std::string jws =
        absl::StrCat(header_b64, ".", absl::WebSafeBase64Escape(payload));
    // A context per call: the key is only read, so concurrent calls share it
    // safely while each has its own digest state.
    EvpMdCtxPtr ctx(EVP_MD_CTX_new());
    if (ctx == nullptr || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(),
                                             nullptr, key_.get()) != 1) {
      return absl::InternalError(
          absl::StrCat("ES256 sign init: ", TakeOpenSslErrors()));
    }
    const auto* data = reinterpret_cast<const unsigned char*>(jws.data());
    size_t len = 0;
    if (EVP_DigestSign(ctx.get(), nullptr, &len, data, jws.size()) != 1) {
      return absl::InternalError(
          absl::StrCat("ES256 sign: ", TakeOpenSslErrors()));
    }
    std::string der(len, '\0');
    if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(der.data()),
                       &len, data, jws.size()) != 1) {
      return absl::InternalError(
          absl::StrCat("ES256 sign: ", TakeOpenSslErrors()));
    }
    der.resize(len);
    ASSIGN_OR_RETURN(std::string raw, internal::DerSignatureToRaw(der));
    absl::StrAppend(&jws, ".", absl::WebSafeBase64Escape(raw));
    return jws;
  }

  const EvpPkeyPtr key_;
  // base64url of the protected header; the same for every receipt.
  const std::string header_b64_;
  // The same for tree heads (another "typ").
  const std::string head_header_b64_;
  // The certificate chain, for the headers of other statements.
  const nlohmann::ordered_json x5c_;
  const SigningCertificateInfo info_;
};

// Picks, per signature, the newest key whose time has come.
class RotatingReceiptSigner final : public ReceiptSigner {
 public:
  // `keys` sorted by signs_from_ms, ascending.
  RotatingReceiptSigner(std::vector<std::unique_ptr<JwsReceiptSigner>> keys,
                        Clock* clock)
      : keys_(std::move(keys)), clock_(clock) {}

  absl::StatusOr<std::string> Sign(const ReceiptContent& c) override {
    return Current().Sign(c);
  }
  absl::StatusOr<std::string> SignTreeHead(const TreeHeadContent& h) override {
    return Current().SignTreeHead(h);
  }
  absl::StatusOr<std::string> SignStatement(
      const std::string& typ, const std::string& payload_json) override {
    return Current().SignStatement(typ, payload_json);
  }
  std::vector<SigningCertificateInfo> SigningCertificates() const override {
    std::vector<SigningCertificateInfo> out;
    const JwsReceiptSigner* current = &Current();
    for (const auto& k : keys_) {
      SigningCertificateInfo i = k->info();
      i.active = k.get() == current;
      out.push_back(i);
    }
    return out;
  }

 private:
  JwsReceiptSigner& Current() const {
    const int64_t now = clock_->NowMillis();
    // Before every key's time the oldest signs: a receipt is never unsigned.
    JwsReceiptSigner* pick = keys_.front().get();
    for (const auto& k : keys_) {
      if (k->info().signs_from_ms <= now) pick = k.get();
    }
    return *pick;
  }

  const std::vector<std::unique_ptr<JwsReceiptSigner>> keys_;
  Clock* const clock_;
};

absl::StatusOr<std::unique_ptr<JwsReceiptSigner>> MakeJwsSigner(
    const JwsSignerOptions& options);

}  // namespace

std::string ReceiptPayloadJson(const ReceiptContent& c) {
  // ordered_json keeps insertion order, which is the documented key order.
  nlohmann::ordered_json j;
  j["letter_id"] = c.letter_id;
  j["tenant"] = c.tenant;
  j["seq"] = c.sequence;
  j["state"] = ::utpost::v1::Letter::State_Name(c.state);
  j["channel"] = c.channel;
  j["time"] = FormatRfc3339(c.time_ms);
  j["reason"] = c.reason;
  j["prev"] = c.previous_sha256_hex;
  j["evidence"] = EvidenceTypeOf(c.state);
  j["provider"] = c.provider;
  nlohmann::ordered_json docs = nlohmann::ordered_json::array();
  for (const DocumentDigest& d : c.documents) {
    nlohmann::ordered_json doc;
    doc["file_name"] = d.file_name;
    doc["sha256"] = d.sha256_hex;
    doc["size"] = d.size_bytes;
    docs.push_back(std::move(doc));
  }
  j["documents"] = std::move(docs);
  j["provider_receipt"] = c.provider_receipt;
  // A provider's reason text may hold invalid UTF-8; replace it rather than
  // throw.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string EvidenceTypeOf(::utpost::v1::Letter::State state) {
  using ::utpost::v1::Letter;
  switch (state) {
    case Letter::RECEIVED:
      return "SubmissionAcceptance";
    case Letter::QUEUED:
    case Letter::ROUTED:
      return "RelayAcceptance";
    case Letter::SENT_DIGITAL:
      return "RelayToREMS";
    case Letter::DELIVERED:
      return "ContentConsignment";
    case Letter::READ:
      return "ContentHandover";
    case Letter::SENT_PRINT:
      return "RelayToNonREMSystem";
    case Letter::PRINTED:
      return "ReceivedFromNonREMSystem";
    case Letter::FAILED:
      return "ContentConsignmentFailure";
    case Letter::CANCELLED:
      return "utpost:WithdrawnBySender";
    case Letter::PARKED:
      return "utpost:Parked";
    default:
      return "utpost:Unknown";
  }
}

std::string TreeHeadPayloadJson(const TreeHeadContent& h) {
  nlohmann::ordered_json j;
  j["log"] = "utpost-receipts";
  j["tree_size"] = h.tree_size;
  j["root_hash"] = absl::BytesToHexString(h.root_hash);
  j["time"] = FormatRfc3339(h.time_ms);
  return j.dump();
}

absl::StatusOr<std::unique_ptr<ReceiptSigner>> NewJwsReceiptSigner(
    const JwsSignerOptions& options) {
  ASSIGN_OR_RETURN(std::unique_ptr<JwsReceiptSigner> s, MakeJwsSigner(options));
  return std::unique_ptr<ReceiptSigner>(std::move(s));
}

absl::StatusOr<std::unique_ptr<ReceiptSigner>> NewRotatingReceiptSigner(
    std::vector<JwsSignerOptions> keys, Clock* clock) {
  if (keys.empty()) {
    return absl::InvalidArgumentError("receipts: no signing key configured");
  }
  std::stable_sort(keys.begin(), keys.end(),
                   [](const JwsSignerOptions& a, const JwsSignerOptions& b) {
                     return a.not_before_ms < b.not_before_ms;
                   });
  std::vector<std::unique_ptr<JwsReceiptSigner>> signers;
  for (size_t i = 0; i < keys.size(); ++i) {
    auto s = MakeJwsSigner(keys[i]);
    if (!s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("receipts key ", i, " (", keys[i].key_file,
                       "): ", s.status().message()));
    }
    signers.push_back(std::move(*s));
  }
  return std::unique_ptr<ReceiptSigner>(new RotatingReceiptSigner(
      std::move(signers), clock != nullptr ? clock : RealClock()));
}

namespace {

absl::StatusOr<std::unique_ptr<JwsReceiptSigner>> MakeJwsSigner(
    const JwsSignerOptions& options) {
  if (options.key_file.empty()) {
    return absl::InvalidArgumentError("receipt key_file is required");
  }
  if (options.cert_chain_file.empty()) {
    return absl::InvalidArgumentError("receipt cert_chain_file is required");
  }
  ASSIGN_OR_RETURN(EvpPkeyPtr key, LoadKey(options.key_file));
  ASSIGN_OR_RETURN(std::vector<X509Ptr> chain,
                   LoadChain(options.cert_chain_file));
  if (X509_check_private_key(chain.front().get(), key.get()) != 1) {
    TakeOpenSslErrors();
    return absl::InvalidArgumentError(absl::StrCat(
        "receipt key_file ", options.key_file,
        " does not match the first certificate of cert_chain_file ",
        options.cert_chain_file));
  }

  nlohmann::ordered_json header;
  header["alg"] = "ES256";
  header["typ"] = "utpost-receipt+jws";
  nlohmann::ordered_json x5c = nlohmann::ordered_json::array();
  for (const X509Ptr& cert : chain) {
    ASSIGN_OR_RETURN(std::string der, internal::CertToDer(cert.get()));
    x5c.push_back(absl::Base64Escape(der));
  }
  header["x5c"] = x5c;
  const std::string receipt_header = header.dump();
  header["typ"] = "utpost-tree-head+jws";
  SigningCertificateInfo info;
  info.subject = SubjectOf(chain.front().get());
  info.not_before_ms =
      Asn1TimeToMillis(X509_get0_notBefore(chain.front().get()));
  info.not_after_ms = Asn1TimeToMillis(X509_get0_notAfter(chain.front().get()));
  info.signs_from_ms = options.not_before_ms;
  return std::make_unique<JwsReceiptSigner>(
      std::move(key), absl::WebSafeBase64Escape(receipt_header),
      absl::WebSafeBase64Escape(header.dump()), std::move(x5c),
      std::move(info));
}

}  // namespace

}  // namespace utpost::receipts
