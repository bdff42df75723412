#include "sim/dpi.h"

#include <httplib.h>
#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <zip.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "common/digest.h"
#include "common/mask.h"
#include "common/uuid.h"
#include "spdlog/spdlog.h"

namespace utpost::sim {
namespace {

using nlohmann::json;

constexpr char kProvider[] = "922020175";
constexpr char kAuthority[] = "iso6523-actorid-upis";
constexpr char kAsicE[] = "application/vnd.etsi.asic-e+zip";
constexpr char kSha256Uri[] = "http://www.w3.org/2001/04/xmlenc#sha256";
constexpr char kStandardPrefix[] =
    "urn:fdc:digdir.no:2020:innbyggerpost:xsd::innbyggerpost##"
    "urn:fdc:digdir.no:2020:innbyggerpost:schema:";
constexpr char kProcess[] =
    "urn:fdc:digdir.no:2020:profile:egovernment:innbyggerpost:digital:ver1.0";
constexpr char kProblem[] = "application/problem+json";
constexpr char kJson[] = "application/json";
constexpr char kOutScope[] = "digdir:dpi:message.out";
// The OpenAPI (resources/begrep/sikkerDigitalPost/nyinf/api/openapi_spec.yaml)
// names one scope for every endpoint, the receipt queue too.
constexpr char kInScope[] = "digitalpostinnbygger:send";
// The SBDH standard of a receipt type, as identifiers.md's table names them
// (its returpostkvittering row lacks "returpostkvittering##"; the pattern
// of the other rows is used).
std::string ReceiptStandard(const std::string& type) {
  return absl::StrCat(
      "urn:fdc:digdir.no:2020:innbyggerpost:xsd:digital::", type,
      "##urn:fdc:digdir.no:2020:innbyggerpost:schema:", type, "::1.0");
}

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using StorePtr =
    std::unique_ptr<X509_STORE, Deleter<X509_STORE, X509_STORE_free>>;
using StoreCtxPtr =
    std::unique_ptr<X509_STORE_CTX,
                    Deleter<X509_STORE_CTX, X509_STORE_CTX_free>>;
using MdCtxPtr =
    std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX, EVP_MD_CTX_free>>;
using CmsPtr = std::unique_ptr<CMS_ContentInfo,
                               Deleter<CMS_ContentInfo, CMS_ContentInfo_free>>;

std::string Dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string Str(const json& object, const char* key) {
  if (!object.is_object()) return "";
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

const json& Obj(const json& object, const char* key) {
  static const json kNull;
  if (!object.is_object()) return kNull;
  auto it = object.find(key);
  return it != object.end() ? *it : kNull;
}

std::string Sha256(absl::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<char*>(md), len);
}

std::string B64Url(absl::string_view data) {
  return absl::WebSafeBase64Escape(data);
}

std::string RandomUuid() {
  unsigned char b[16];
  RAND_bytes(b, sizeof(b));
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
  std::string hex = absl::BytesToHexString(
      absl::string_view(reinterpret_cast<char*>(b), sizeof(b)));
  return absl::StrCat(hex.substr(0, 8), "-", hex.substr(8, 4), "-",
                      hex.substr(12, 4), "-", hex.substr(16, 4), "-",
                      hex.substr(20));
}

bool AllDigits(absl::string_view s, size_t n) {
  return s.size() == n && std::all_of(s.begin(), s.end(), [](char c) {
           return absl::ascii_isdigit(static_cast<unsigned char>(c));
         });
}

X509Ptr CertFromDer(absl::string_view der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (cert == nullptr) ERR_clear_error();
  return cert;
}

std::string CertToDer(X509* cert) {
  unsigned char* der = nullptr;
  int len = i2d_X509(cert, &der);
  if (len <= 0) return "";
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

bool VerifyRs256(EVP_PKEY* key, absl::string_view data,
                 absl::string_view signature) {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  bool ok =
      ctx != nullptr &&
      EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) ==
          1 &&
      EVP_DigestVerify(
          ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
          signature.size(), reinterpret_cast<const unsigned char*>(data.data()),
          data.size()) == 1;
  ERR_clear_error();
  return ok;
}

std::string SignRs256(EVP_PKEY* key, absl::string_view data) {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  size_t len = 0;
  if (EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len,
                     reinterpret_cast<const unsigned char*>(data.data()),
                     data.size()) != 1) {
    return "";
  }
  std::string out(len, '\0');
  EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(&out[0]), &len,
                 reinterpret_cast<const unsigned char*>(data.data()),
                 data.size());
  out.resize(len);
  return out;
}

// The text between the first `open` and the following `close`, or nullopt.
// With `inclusive` the tags are part of the result.
std::optional<std::string> Between(absl::string_view text,
                                   absl::string_view open,
                                   absl::string_view close, bool inclusive,
                                   size_t from = 0) {
  size_t start = text.find(open, from);
  if (start == absl::string_view::npos) return std::nullopt;
  size_t end = text.find(close, start + open.size());
  if (end == absl::string_view::npos) return std::nullopt;
  if (inclusive)
    return std::string(text.substr(start, end + close.size() - start));
  size_t body = text.find('>', start);
  if (open.back() == '>') body = start + open.size() - 1;
  return std::string(text.substr(body + 1, end - body - 1));
}

// The value of attribute `name` inside the start tag `tag`, or "".
std::string Attribute(absl::string_view tag, absl::string_view name) {
  std::string key = absl::StrCat(" ", name, "=\"");
  size_t pos = tag.find(key);
  if (pos == absl::string_view::npos) return "";
  size_t start = pos + key.size();
  size_t end = tag.find('"', start);
  if (end == absl::string_view::npos) return "";
  return std::string(tag.substr(start, end - start));
}

std::string PercentDecode(absl::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() &&
        absl::ascii_isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        absl::ascii_isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += absl::HexStringToBytes(s.substr(i + 1, 2));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::string XmlUnescape(absl::string_view s) {
  std::string out(s);
  for (const auto& [from, to] :
       std::vector<std::pair<std::string, std::string>>{{"&lt;", "<"},
                                                        {"&gt;", ">"},
                                                        {"&quot;", "\""},
                                                        {"&#xD;", "\r"},
                                                        {"&amp;", "&"}}) {
    size_t pos = 0;
    while ((pos = out.find(from, pos)) != std::string::npos) {
      out.replace(pos, from.size(), to);
      pos += to.size();
    }
  }
  return out;
}

// A refusal: the HTTP status, the problem's "kode" and what is wrong.
struct Refusal {
  int status;
  std::string kode;
  std::string detail;
};

struct ZipEntry {
  std::string name;
  bool stored = false;
  std::string content;
};

absl::StatusOr<std::vector<ZipEntry>> ReadZip(const std::string& data) {
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* source =
      zip_source_buffer_create(data.data(), data.size(), 0, &error);
  zip_t* zip = source == nullptr
                   ? nullptr
                   : zip_open_from_source(source, ZIP_RDONLY, &error);
  zip_error_fini(&error);
  if (zip == nullptr) {
    if (source != nullptr) zip_source_free(source);
    return absl::InvalidArgumentError("the package is not a zip");
  }
  std::vector<ZipEntry> entries;
  zip_int64_t n = zip_get_num_entries(zip, 0);
  for (zip_int64_t i = 0; i < n; ++i) {
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(zip, static_cast<zip_uint64_t>(i), 0, &st) != 0 ||
        st.size > (64u << 20)) {
      zip_close(zip);
      return absl::InvalidArgumentError("a zip entry cannot be read");
    }
    ZipEntry entry;
    entry.name = st.name;
    entry.stored = st.comp_method == ZIP_CM_STORE;
    entry.content.resize(st.size);
    zip_file_t* file = zip_fopen_index(zip, static_cast<zip_uint64_t>(i), 0);
    zip_int64_t got =
        file == nullptr ? -1 : zip_fread(file, entry.content.data(), st.size);
    if (file != nullptr) zip_fclose(file);
    if (got != static_cast<zip_int64_t>(st.size)) {
      zip_close(zip);
      return absl::InvalidArgumentError(
          absl::StrCat("zip entry ", entry.name, " cannot be read"));
    }
    entries.push_back(std::move(entry));
  }
  zip_close(zip);  // Frees the source too.
  return entries;
}

struct Receipt {
  std::string id;
  std::string message_id;
  std::string type;
  std::string jws;
  int64_t visible_at_ms = 0;
  int64_t seq = 0;
  // The kanal the message was sent with ("" for none), compared
  // case-insensitively.
  std::string kanal;
  // Marked read (POST /messages/in/{id}/read): no longer listed.
  bool read = false;
};

struct Behaviour {
  int64_t read_after_ms = -1;  // -1: never reads.
  int64_t late_ms = 0;         // leveringskvittering held back this long.
  bool duplicate = false;      // every receipt queued twice.
  bool out_of_order = false;   // aapningskvittering before delivery.
};

struct Counts {
  int accepted = 0;
  int duplicates = 0;
};

class DpiSimImpl final : public DpiSim {
 public:
  DpiSimImpl(DpiSimOptions options, StorePtr store, X509Ptr mailbox_cert,
             PkeyPtr mailbox_key, X509Ptr receipt_cert, PkeyPtr receipt_key)
      : options_(std::move(options)),
        store_(std::move(store)),
        mailbox_cert_(std::move(mailbox_cert)),
        mailbox_key_(std::move(mailbox_key)),
        receipt_cert_(std::move(receipt_cert)),
        receipt_key_(std::move(receipt_key)) {}

  void Register(httplib::Server* server) override {
    server->Post("/messages/out",
                 [this](const httplib::Request& q, httplib::Response& r) {
                   HandleSend(q, r);
                 });
    server->Get("/messages/in",
                [this](const httplib::Request& q, httplib::Response& r) {
                  HandleList(q, r);
                });
    server->Post(R"(/messages/in/([^/]+)/read)",
                 [this](const httplib::Request& q, httplib::Response& r) {
                   HandleRead(q, r);
                 });
    server->Post("/sim/v1/dpi/receipts",
                 [this](const httplib::Request& q, httplib::Response& r) {
                   HandleControl(q, r);
                 });
  }

  json Deliveries() const override {
    absl::MutexLock lock(&mu_);
    json out = json::object();
    for (const auto& [id, c] : counts_) {
      out[id] = {{"accepted", c.accepted}, {"duplicates", c.duplicates}};
    }
    return out;
  }

  void Reset() override {
    absl::MutexLock lock(&mu_);
    counts_.clear();
    senders_.clear();
    kanals_.clear();
    queue_.clear();
    behaviour_ = Behaviour();
  }

  std::string MailboxCertificateBase64() const override {
    return absl::Base64Escape(CertToDer(mailbox_cert_.get()));
  }

 private:
  void Problem(httplib::Response& res, int status, absl::string_view kode,
               absl::string_view detail,
               absl::string_view feiltype = "KLIENT") {
    spdlog::warn("dpi: {} {}: {}", status, std::string(kode),
                 MaskPersonNumbersIn(std::string(detail)));
    json problem = {{"title", kode},
                    {"status", status},
                    {"detail", detail},
                    {"feiltype", feiltype},
                    {"kode", kode}};
    res.status = status;
    res.set_content(Dump(problem), kProblem);
  }

  bool Authorised(const httplib::Request& req, httplib::Response& res,
                  const char* scope) {
    std::string auth = req.get_header_value("Authorization");
    std::string token;
    if (absl::StartsWith(auth, "Bearer ")) token = auth.substr(7);
    bool ok = !token.empty() &&
              (!options_.token_check || options_.token_check(token, scope));
    if (!ok) {
      res.set_header("WWW-Authenticate", "Bearer");
      Problem(res, 401, "UGYLDIG_TOKEN",
              absl::StrCat("a valid bearer token with scope ", scope,
                           " is required"));
    }
    return ok;
  }

  // Verifies a JWS (RS256, x5c chaining to the CA). Returns the payload and
  // the leaf certificate's DER.
  std::optional<Refusal> VerifyJws(const std::string& jws, json* payload,
                                   std::string* leaf_der) {
    auto refuse = [](std::string why) {
      return Refusal{400, "UGYLDIG_SIGNATUR", std::move(why)};
    };
    std::vector<absl::string_view> parts = absl::StrSplit(jws, '.');
    std::string header_text, payload_text, signature;
    if (parts.size() != 3 ||
        !absl::WebSafeBase64Unescape(parts[0], &header_text) ||
        !absl::WebSafeBase64Unescape(parts[1], &payload_text) ||
        !absl::WebSafeBase64Unescape(parts[2], &signature)) {
      return refuse("forretningsmelding is not a compact JWS");
    }
    json header = json::parse(header_text, nullptr, false);
    if (Str(header, "alg") != "RS256") return refuse("JWS alg is not RS256");
    const json& x5c = Obj(header, "x5c");
    if (!x5c.is_array() || x5c.empty()) return refuse("JWS has no x5c");
    std::vector<X509Ptr> chain;
    for (const json& entry : x5c) {
      std::string der;
      if (!entry.is_string() ||
          !absl::Base64Unescape(entry.get<std::string>(), &der)) {
        return refuse("x5c entry is not base64");
      }
      X509Ptr cert = CertFromDer(der);
      if (cert == nullptr) return refuse("x5c entry is not a certificate");
      if (chain.empty()) *leaf_der = der;
      chain.push_back(std::move(cert));
    }
    if (!VerifyRs256(X509_get0_pubkey(chain.front().get()),
                     absl::StrCat(parts[0], ".", parts[1]), signature)) {
      return refuse("the JWS signature does not verify");
    }
    STACK_OF(X509)* untrusted = sk_X509_new_null();
    for (size_t i = 1; i < chain.size(); ++i) {
      sk_X509_push(untrusted, chain[i].get());
    }
    StoreCtxPtr ctx(X509_STORE_CTX_new());
    bool trusted = X509_STORE_CTX_init(ctx.get(), store_.get(),
                                       chain.front().get(), untrusted) == 1 &&
                   X509_verify_cert(ctx.get()) == 1;
    sk_X509_free(untrusted);
    ERR_clear_error();
    if (!trusted) return refuse("the x5c chain is not trusted");
    *payload = json::parse(payload_text, nullptr, false);
    if (!payload->is_object()) {
      return Refusal{400, "UGYLDIG_FORRETNINGSMELDING",
                     "the JWS payload is not a JSON object"};
    }
    return std::nullopt;
  }

  // The SBD's fields; fills the message id, sender, receiver.
  static std::optional<Refusal> CheckSbd(const json& sbd,
                                         std::string* message_id,
                                         std::string* sender,
                                         std::string* receiver) {
    auto refuse = [](std::string why) {
      return Refusal{400, "UGYLDIG_FORRETNINGSMELDING", std::move(why)};
    };
    const json& h = Obj(sbd, "standardBusinessDocumentHeader");
    if (!h.is_object()) return refuse("standardBusinessDocumentHeader missing");
    if (Str(h, "headerVersion") != "1.0") return refuse("headerVersion: 1.0");
    auto party = [&](const char* key) -> std::string {
      const json& list = Obj(h, key);
      if (!list.is_array() || list.size() != 1) return "";
      const json& id = Obj(list[0], "identifier");
      if (Str(id, "authority") != kAuthority) return "";
      return Str(id, "value");
    };
    *sender = party("sender");
    *receiver = party("receiver");
    if (!absl::StartsWith(*sender, "0192:") ||
        !AllDigits(sender->substr(5), 9)) {
      return refuse("sender: iso6523-actorid-upis 0192:<9 digits>");
    }
    if (!AllDigits(*receiver, 11)) {
      return refuse("receiver: iso6523-actorid-upis <11-digit person>");
    }
    const json& d = Obj(h, "documentIdentification");
    *message_id = Str(d, "instanceIdentifier");
    if (Str(d, "standard").empty() || Str(d, "typeVersion").empty() ||
        Str(d, "type") != "digital" || !IsUuid(*message_id) ||
        Str(d, "creationDateAndTime").empty()) {
      return refuse(
          "documentIdentification: standard, typeVersion, a UUID "
          "instanceIdentifier, type digital and creationDateAndTime");
    }
    bool conversation = false;
    const json& scopes = Obj(Obj(h, "businessScope"), "scope");
    if (scopes.is_array()) {
      for (const json& s : scopes) {
        if (Str(s, "type") == "ConversationId" &&
            IsUuid(Str(s, "instanceIdentifier"))) {
          conversation = true;
        }
      }
    }
    if (!conversation) return refuse("businessScope: no ConversationId");
    const json& digital = Obj(sbd, "digital");
    const json& level = Obj(digital, "sikkerhetsnivaa");
    if (!level.is_number_integer() ||
        (level.get<int>() != 3 && level.get<int>() != 4)) {
      return refuse("digital.sikkerhetsnivaa: 3 or 4");
    }
    if (Str(digital, "hoveddokument").empty() ||
        Str(digital, "tittel").empty() || Str(digital, "spraak").empty()) {
      return refuse("digital: hoveddokument, tittel and spraak are required");
    }
    const json& info = Obj(digital, "digitalPostInfo");
    if (Str(info, "virkningsdato").empty() ||
        !Obj(info, "aapningskvittering").is_boolean()) {
      return refuse(
          "digital.digitalPostInfo: virkningsdato and aapningskvittering");
    }
    const json& fp = Obj(digital, "dokumentpakkefingeravtrykk");
    if (Str(fp, "digestMethod") != kSha256Uri ||
        Str(fp, "digestValue").empty()) {
      return refuse(
          absl::StrCat("digital.dokumentpakkefingeravtrykk: digestMethod ",
                       kSha256Uri, " and a digestValue"));
    }
    return std::nullopt;
  }

  std::optional<Refusal> Decrypt(const std::string& cms_der, std::string* zip) {
    auto refuse = [](std::string why) {
      return Refusal{400, "UDEKRYPTERBAR_DOKUMENTPAKKE", std::move(why)};
    };
    BioPtr in(
        BIO_new_mem_buf(cms_der.data(), static_cast<int>(cms_der.size())));
    CmsPtr cms(d2i_CMS_bio(in.get(), nullptr));
    if (cms == nullptr ||
        OBJ_obj2nid(CMS_get0_type(cms.get())) != NID_pkcs7_enveloped) {
      ERR_clear_error();
      return refuse("dokumentpakke is not CMS EnvelopedData (DER)");
    }
    STACK_OF(CMS_RecipientInfo)* infos = CMS_get0_RecipientInfos(cms.get());
    bool oaep = false;
    for (int i = 0; i < sk_CMS_RecipientInfo_num(infos); ++i) {
      CMS_RecipientInfo* ri = sk_CMS_RecipientInfo_value(infos, i);
      X509_ALGOR* alg = nullptr;
      if (CMS_RecipientInfo_type(ri) == CMS_RECIPINFO_TRANS &&
          CMS_RecipientInfo_ktri_get0_algs(ri, nullptr, nullptr, &alg) == 1) {
        const ASN1_OBJECT* oid = nullptr;
        X509_ALGOR_get0(&oid, nullptr, nullptr, alg);
        if (OBJ_obj2nid(oid) == NID_rsaesOaep) oaep = true;
      }
    }
    if (!oaep) return refuse("key transport is not RSAES-OAEP");
    BioPtr out(BIO_new(BIO_s_mem()));
    if (CMS_decrypt(cms.get(), mailbox_key_.get(), mailbox_cert_.get(), nullptr,
                    out.get(), CMS_BINARY) != 1) {
      ERR_clear_error();
      return refuse("the package does not decrypt with the mailbox key");
    }
    char* data = nullptr;
    long len = BIO_get_mem_data(out.get(), &data);
    zip->assign(data, static_cast<size_t>(len));
    return std::nullopt;
  }

  // Opens the ASiC-E container and checks it (see dpi.h).
  std::optional<Refusal> CheckPackage(const std::string& zip,
                                      const json& digital,
                                      const std::string& signer_der) {
    auto refuse = [](std::string why) {
      return Refusal{400, "UGYLDIG_DOKUMENTPAKKE", std::move(why)};
    };
    // Local file header: name length at 26, extra length at 28, name at 30.
    if (zip.size() < 38 + sizeof(kAsicE) - 1 ||
        zip.compare(30, 8, "mimetype") != 0 || zip[28] != 0 || zip[29] != 0 ||
        zip.compare(38, sizeof(kAsicE) - 1, kAsicE) != 0) {
      return refuse(
          "mimetype must be the first entry, stored, without extra field, "
          "holding application/vnd.etsi.asic-e+zip");
    }
    absl::StatusOr<std::vector<ZipEntry>> entries = ReadZip(zip);
    if (!entries.ok()) return refuse(std::string(entries.status().message()));
    std::map<std::string, std::string> files;
    for (const ZipEntry& e : *entries) {
      if (!files.emplace(e.name, e.content).second) {
        return refuse(absl::StrCat("entry ", e.name, " appears twice"));
      }
    }
    if (entries->front().name != "mimetype" || !entries->front().stored) {
      return refuse("mimetype must be first and stored");
    }
    auto manifest = files.find("manifest.xml");
    auto signatures = files.find("META-INF/signatures.xml");
    if (manifest == files.end() || signatures == files.end() ||
        files.count("META-INF/manifest.xml") == 0) {
      return refuse(
          "manifest.xml, META-INF/manifest.xml and META-INF/signatures.xml "
          "are required");
    }
    // The DPI manifest: every href there, the hoveddokument the SBD names.
    const std::string& m = manifest->second;
    std::optional<std::string> main_tag =
        Between(m, "<hoveddokument ", ">", true);
    if (!main_tag.has_value() ||
        XmlUnescape(Attribute(*main_tag, "href")) !=
            Str(digital, "hoveddokument") ||
        !absl::StrContains(m, "<personidentifikator>")) {
      return refuse(
          "manifest.xml: mottaker and a hoveddokument whose href is the "
          "business message's hoveddokument");
    }
    for (const char* element : {"<hoveddokument ", "<vedlegg "}) {
      size_t pos = 0;
      while ((pos = m.find(element, pos)) != std::string::npos) {
        size_t end = m.find('>', pos);
        std::string href = XmlUnescape(
            Attribute(absl::string_view(m).substr(pos, end - pos), "href"));
        if (files.count(href) == 0) {
          return refuse(absl::StrCat("manifest.xml names ", href,
                                     ", which is not in the package"));
        }
        pos = end;
      }
    }
    return CheckSignatures(signatures->second, files, signer_der);
  }

  static std::optional<Refusal> CheckSignatures(
      const std::string& xml, const std::map<std::string, std::string>& files,
      const std::string& signer_der) {
    auto refuse = [](std::string why) {
      return Refusal{400, "UGYLDIG_DOKUMENTPAKKE",
                     absl::StrCat("signatures.xml: ", why)};
    };
    std::optional<std::string> signed_info =
        Between(xml, "<ds:SignedInfo", "</ds:SignedInfo>", true);
    std::optional<std::string> value =
        Between(xml, "<ds:SignatureValue>", "</ds:SignatureValue>", false);
    std::optional<std::string> cert_b64 =
        Between(xml, "<ds:X509Certificate>", "</ds:X509Certificate>", false);
    std::string signature, cert_der;
    if (!signed_info || !value || !cert_b64 ||
        !absl::Base64Unescape(*value, &signature) ||
        !absl::Base64Unescape(*cert_b64, &cert_der)) {
      return refuse("needs ds:SignedInfo, ds:SignatureValue and a certificate");
    }
    if (cert_der != signer_der) {
      return refuse("not signed by the business message's certificate");
    }
    X509Ptr cert = CertFromDer(cert_der);
    if (cert == nullptr ||
        !VerifyRs256(X509_get0_pubkey(cert.get()), *signed_info, signature)) {
      return refuse("the signature does not verify");
    }
    if (!absl::StrContains(*signed_info,
                           "Algorithm=\"http://www.w3.org/2001/04/"
                           "xmldsig-more#rsa-sha256\"")) {
      return refuse("SignatureMethod must be rsa-sha256");
    }
    std::set<std::string> referenced;
    size_t pos = 0;
    while ((pos = signed_info->find("<ds:Reference ", pos)) !=
           std::string::npos) {
      size_t tag_end = signed_info->find('>', pos);
      size_t end = signed_info->find("</ds:Reference>", pos);
      if (tag_end == std::string::npos || end == std::string::npos) {
        return refuse("malformed ds:Reference");
      }
      std::string tag = signed_info->substr(pos, tag_end - pos);
      std::string reference = signed_info->substr(pos, end - pos);
      std::string uri = XmlUnescape(Attribute(tag, "URI"));
      std::optional<std::string> digest =
          Between(reference, "<ds:DigestValue>", "</ds:DigestValue>", false);
      if (!digest || !absl::StrContains(reference, kSha256Uri)) {
        return refuse(absl::StrCat("reference ", uri, " needs a SHA-256"));
      }
      std::string content;
      if (uri == "#SignedProperties") {
        std::optional<std::string> props = Between(
            xml, "<xades:SignedProperties", "</xades:SignedProperties>", true);
        if (!props) return refuse("no xades:SignedProperties");
        content = *props;
      } else {
        auto it = files.find(PercentDecode(uri));
        if (it == files.end()) {
          return refuse(absl::StrCat("reference to a missing file ", uri));
        }
        content = it->second;
        referenced.insert(it->first);
      }
      if (absl::Base64Escape(Sha256(content)) != *digest) {
        return refuse(absl::StrCat("the digest of ", uri, " does not match"));
      }
      pos = end;
    }
    for (const auto& [name, content] : files) {
      if (name == "mimetype" || absl::StartsWith(name, "META-INF/")) continue;
      if (referenced.count(name) == 0) {
        return refuse(absl::StrCat(name, " is not signed"));
      }
    }
    return std::nullopt;
  }

  void HandleSend(const httplib::Request& req, httplib::Response& res) {
    if (options_.fault && options_.fault("dpi", res)) return;
    if (!Authorised(req, res, kOutScope)) return;
    if (!req.is_multipart_form_data() || !req.has_file("forretningsmelding") ||
        !req.has_file("dokumentpakke")) {
      return Problem(res, 400, "UGYLDIG_FORESPOERSEL",
                     "expected multipart/form-data with forretningsmelding "
                     "and dokumentpakke");
    }
    const std::string jws = req.get_file_value("forretningsmelding").content;
    const std::string package = req.get_file_value("dokumentpakke").content;
    json sbd;
    std::string signer_der;
    if (auto r = VerifyJws(jws, &sbd, &signer_der)) {
      return Problem(res, r->status, r->kode, r->detail);
    }
    std::string message_id, sender, receiver;
    if (auto r = CheckSbd(sbd, &message_id, &sender, &receiver)) {
      return Problem(res, r->status, r->kode, r->detail);
    }
    if (!options_.reachable || !options_.reachable(receiver)) {
      return Problem(res, 400, "UKJENT_MOTTAKER",
                     absl::StrCat("recipient ", MaskPersonNumber(receiver),
                                  " has no e-Boks mailbox or has reserved "
                                  "against digital post"));
    }
    const json& digital = sbd["digital"];
    if (absl::Base64Escape(Sha256(package)) !=
        Str(digital["dokumentpakkefingeravtrykk"], "digestValue")) {
      return Problem(res, 400, "UGYLDIG_FINGERAVTRYKK",
                     "the dokumentpakke does not match "
                     "dokumentpakkefingeravtrykk");
    }
    std::string zip;
    if (auto r = Decrypt(package, &zip)) {
      return Problem(res, r->status, r->kode, r->detail);
    }
    if (auto r = CheckPackage(zip, digital, signer_der)) {
      return Problem(res, r->status, r->kode, r->detail);
    }
    bool duplicate;
    {
      absl::MutexLock lock(&mu_);
      Counts& c = counts_[message_id];
      duplicate = c.accepted > 0;
      if (duplicate) {
        ++c.duplicates;
      } else {
        c.accepted = 1;
        senders_[message_id] = sender;
        kanals_[message_id] = req.get_param_value("kanal");
        QueueAfterDelivery(message_id, sender);
      }
    }
    if (duplicate) {
      spdlog::info("dpi: duplicate message {}", message_id);
      return Problem(
          res, 409, "DUPLIKAT",
          absl::StrCat("message ", message_id, " has been received already"));
    }
    spdlog::info("dpi: delivered message {} to {}", message_id,
                 MaskPersonNumber(receiver));
    res.status = 200;
    res.set_content(Dump({{"status", "MOTTATT"}, {"messageId", message_id}}),
                    kJson);
  }

  // A signed receipt of `type` about `message_id` in the published shape
  // (schemas/dpi/innbyggerpost_dpi_<type>_1_0.schema.json): the SBDH from
  // the provider to `sender` (the message's SBDH sender, "0192:<orgnr>"),
  // and the type's body: avsender (the sender), mottaker (the provider),
  // tidspunkt, and `fields` (feiltype/detaljer, varslingskanal/beskrivelse).
  // `tamper`: "" (good), "signature" (a payload byte changed after signing)
  // or "signer" (signed with the mailbox key, a certificate of the right CA
  // but not the provider's).
  std::string SignReceipt(const std::string& receipt_id,
                          const std::string& message_id,
                          const std::string& sender, const std::string& type,
                          const json& fields, const std::string& tamper) const {
    int64_t now = options_.clock->NowMillis();
    auto organisation = [](const std::string& value) {
      return json{{"authority", kAuthority}, {"value", value}};
    };
    const std::string provider = absl::StrCat("0192:", kProvider);
    json body = {
        {"avsender", {{"virksomhetsidentifikator", organisation(sender)}}},
        {"mottaker", {{"virksomhetsidentifikator", organisation(provider)}}},
        {"tidspunkt", FormatRfc3339(now)}};
    if (fields.is_object()) {
      for (auto it = fields.begin(); it != fields.end(); ++it) {
        body[it.key()] = it.value();
      }
    }
    json sbd = {
        {"standardBusinessDocumentHeader",
         {{"headerVersion", "1.0"},
          {"sender", json::array({{{"identifier", organisation(provider)}}})},
          {"receiver", json::array({{{"identifier", organisation(sender)}}})},
          {"documentIdentification",
           {{"standard", ReceiptStandard(type)},
            {"typeVersion", "1.0"},
            {"instanceIdentifier", receipt_id},
            {"type", type},
            {"creationDateAndTime", FormatRfc3339(now)}}},
          {"businessScope",
           {{"scope", json::array({{{"type", "ConversationId"},
                                    {"instanceIdentifier", message_id},
                                    {"identifier", kProcess}}})}}}}},
        {type, body}};
    json document = {{"standardBusinessDocument", sbd}};
    const bool wrong_signer = tamper == "signer";
    X509* cert = wrong_signer ? mailbox_cert_.get() : receipt_cert_.get();
    EVP_PKEY* key = wrong_signer ? mailbox_key_.get() : receipt_key_.get();
    json header = {{"alg", "RS256"},
                   {"x5c", json::array({absl::Base64Escape(CertToDer(cert))})}};
    std::string input =
        absl::StrCat(B64Url(Dump(header)), ".", B64Url(Dump(document)));
    std::string signature = SignRs256(key, input);
    if (tamper == "signature") {
      // Same shape, one fact changed: the signature no longer covers it.
      document["standardBusinessDocument"][type]["tidspunkt"] =
          FormatRfc3339(now - 24 * 3600 * 1000);
      input = absl::StrCat(B64Url(Dump(header)), ".", B64Url(Dump(document)));
    }
    return absl::StrCat(input, ".", B64Url(signature));
  }

  void Enqueue(const std::string& message_id, const std::string& sender,
               const std::string& type, json body, int64_t visible_at_ms,
               const std::string& tamper = "")
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    Receipt r;
    r.id = RandomUuid();
    r.message_id = message_id;
    r.type = type;
    r.jws = SignReceipt(r.id, message_id, sender, type, body, tamper);
    auto kanal = kanals_.find(message_id);
    if (kanal != kanals_.end()) r.kanal = kanal->second;
    r.visible_at_ms = visible_at_ms;
    r.seq = next_seq_++;
    queue_.push_back(r);
    if (behaviour_.duplicate) {
      r.seq = next_seq_++;
      queue_.push_back(std::move(r));
    }
  }

  void QueueAfterDelivery(const std::string& message_id,
                          const std::string& sender)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const int64_t now = options_.clock->NowMillis();
    const Behaviour& b = behaviour_;
    if (b.out_of_order) {
      // The read receipt overtakes the delivery receipt.
      Enqueue(message_id, sender, "aapningskvittering", json::object(), now);
      Enqueue(message_id, sender, "leveringskvittering", json::object(),
              now + std::max<int64_t>(b.late_ms, 1));
      return;
    }
    Enqueue(message_id, sender, "leveringskvittering", json::object(),
            now + b.late_ms);
    if (b.read_after_ms >= 0) {
      Enqueue(message_id, sender, "aapningskvittering", json::object(),
              now + b.late_ms + b.read_after_ms);
    }
  }

  // As Authorised(), but as the OpenAPI answers: 401 for no or an invalid
  // token, 403 for a valid token without the scope.
  bool ReceiptQueueAuthorised(const httplib::Request& req,
                              httplib::Response& res) {
    std::string auth = req.get_header_value("Authorization");
    std::string token;
    if (absl::StartsWith(auth, "Bearer ")) token = auth.substr(7);
    if (!token.empty() &&
        (!options_.token_check || options_.token_check(token, kInScope))) {
      return true;
    }
    if (!token.empty() && options_.token_check &&
        options_.token_check(token, "")) {
      Problem(res, 403, "Forbidden",
              absl::StrCat("the token lacks the scope ", kInScope));
      return false;
    }
    res.set_header("WWW-Authenticate", "Bearer");
    Problem(res, 401, "Unauthorized",
            absl::StrCat("a valid bearer token with scope ", kInScope,
                         " is required"));
    return false;
  }

  // GET /messages/in: the query parameters of the OpenAPI only, each
  // checked; the unread receipts due, oldest first, of the kanal asked for
  // (all when none is given), in pages of page_size (default 100, at most
  // 1000) numbered from 0.
  void HandleList(const httplib::Request& req, httplib::Response& res) {
    if (options_.fault && options_.fault("dpi_in", res)) return;
    if (!ReceiptQueueAuthorised(req, res)) return;
    static const std::set<std::string> kParameters = {
        "avsenderidentifikator", "kanal", "page_size", "page"};
    for (const auto& [name, value] : req.params) {
      if (kParameters.count(name) == 0) {
        return Problem(
            res, 400, "Bad Request",
            absl::StrCat("unknown query parameter ", name.substr(0, 40),
                         "; the parameters are avsenderidentifikator, "
                         "kanal, page_size, page"));
      }
    }
    int page_size = 100;
    int page = 0;
    if (req.has_param("page_size") &&
        (!absl::SimpleAtoi(req.get_param_value("page_size"), &page_size) ||
         page_size < 1 || page_size > 1000)) {
      return Problem(res, 400, "Bad Request", "page_size: 1 to 1000");
    }
    if (req.has_param("page") &&
        (!absl::SimpleAtoi(req.get_param_value("page"), &page) || page < 0)) {
      return Problem(res, 400, "Bad Request", "page: 0 or more");
    }
    std::string kanal = req.get_param_value("kanal");
    if (req.has_param("kanal")) {
      bool ok = !kanal.empty() && kanal.size() <= 28;
      for (char c : kanal) {
        ok = ok && (absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
                    c == '_' || c == '-');
      }
      if (!ok) {
        return Problem(res, 400, "Bad Request",
                       "kanal: 1 to 28 of a-z, A-Z, 0-9, _ and -");
      }
    }
    if (req.get_param_value("avsenderidentifikator").size() > 100) {
      return Problem(res, 400, "Bad Request",
                     "avsenderidentifikator: at most 100 characters");
    }
    const int64_t now = options_.clock->NowMillis();
    json list = json::array();
    {
      absl::MutexLock lock(&mu_);
      std::vector<const Receipt*> due;
      for (const Receipt& r : queue_) {
        if (r.read || r.visible_at_ms > now) continue;
        if (!kanal.empty() && !absl::EqualsIgnoreCase(kanal, r.kanal)) continue;
        due.push_back(&r);
      }
      std::sort(due.begin(), due.end(), [](const Receipt* a, const Receipt* b) {
        return std::tie(a->visible_at_ms, a->seq) <
               std::tie(b->visible_at_ms, b->seq);
      });
      size_t first = static_cast<size_t>(page) * page_size;
      for (size_t i = first; i < due.size() && i < first + page_size; ++i) {
        list.push_back({{"forretningsmelding", due[i]->jws}});
      }
    }
    if (list.empty()) {
      res.status = 204;  // "Ingen uleste meldinger."
      return;
    }
    res.status = 200;
    res.set_content(Dump(list), kJson);
  }

  // POST /messages/in/{id}/read: marks the receipt (every copy) read. 200;
  // 404 when there is none of that id; 400 for an id that is no UUID.
  void HandleRead(const httplib::Request& req, httplib::Response& res) {
    if (options_.fault && options_.fault("dpi_in", res)) return;
    if (!ReceiptQueueAuthorised(req, res)) return;
    std::string id = req.matches[1];
    if (!IsUuid(id)) {
      return Problem(res, 400, "Bad Request", "id: a UUID");
    }
    size_t found = 0;
    {
      absl::MutexLock lock(&mu_);
      for (Receipt& r : queue_) {
        if (r.id != id) continue;
        r.read = true;
        ++found;
      }
    }
    if (found == 0) {
      return Problem(res, 404, "Not Found",
                     absl::StrCat("no incoming message ", id));
    }
    res.status = 200;
  }

  // POST /sim/v1/dpi/receipts: see sim/simulator.h.
  void HandleControl(const httplib::Request& req, httplib::Response& res) {
    json body = json::parse(req.body, nullptr, false);
    auto bad = [&](absl::string_view why) {
      res.status = 400;
      res.set_content(
          Dump({{"error", {{"code", "INVALID_REQUEST"}, {"message", why}}}}),
          kJson);
    };
    if (!body.is_object()) return bad("expected a JSON object");
    auto integer = [&](const char* key, int64_t* out) {
      const json& v = Obj(body, key);
      if (v.is_null()) return true;
      if (!v.is_number_integer()) return false;
      *out = v.get<int64_t>();
      return true;
    };
    auto boolean = [&](const char* key, bool* out) {
      const json& v = Obj(body, key);
      if (v.is_null()) return true;
      if (!v.is_boolean()) return false;
      *out = v.get<bool>();
      return true;
    };
    std::string message_id = Str(body, "message_id");
    absl::MutexLock lock(&mu_);
    if (message_id.empty()) {
      Behaviour b = behaviour_;
      if (!integer("read_after_ms", &b.read_after_ms) ||
          !integer("late_ms", &b.late_ms) ||
          !boolean("duplicate", &b.duplicate) ||
          !boolean("out_of_order", &b.out_of_order) || b.read_after_ms < -1 ||
          b.late_ms < 0) {
        return bad(
            "expected {\"read_after_ms\": -1 or more, \"late_ms\": 0 or more, "
            "\"duplicate\": bool, \"out_of_order\": bool}");
      }
      behaviour_ = b;
      res.status = 204;
      return;
    }
    auto sender = senders_.find(message_id);
    if (sender == senders_.end()) {
      res.status = 404;
      res.set_content(
          Dump({{"error",
                 {{"code", "UNKNOWN_MESSAGE"},
                  {"message", "no message with that id was accepted"}}}}),
          kJson);
      return;
    }
    std::string type = Str(body, "receipt");
    if (type.empty()) type = "aapningskvittering";
    static const std::set<std::string> kTypes = {
        "leveringskvittering",      "aapningskvittering",
        "varslingfeiletkvittering", "feil",
        "mottakskvittering",        "returpostkvittering"};
    int64_t delay_ms = 0;
    std::string tamper = Str(body, "tamper");
    const std::string feiltype = Str(body, "feiltype");
    const std::string varslingskanal = Str(body, "varslingskanal");
    if (kTypes.count(type) == 0 || !integer("delay_ms", &delay_ms) ||
        delay_ms < 0 ||
        (!tamper.empty() && tamper != "signature" && tamper != "signer") ||
        (!feiltype.empty() && feiltype != "KLIENT" && feiltype != "SERVER") ||
        (!varslingskanal.empty() && varslingskanal != "epost" &&
         varslingskanal != "sms")) {
      return bad(
          "expected {\"message_id\", \"receipt\": one of leveringskvittering, "
          "aapningskvittering, varslingfeiletkvittering, feil, "
          "mottakskvittering, returpostkvittering, \"delay_ms\": 0 or more, "
          "\"tamper\": \"signature\"|\"signer\", \"feiltype\": "
          "\"KLIENT\"|\"SERVER\", \"detaljer\", \"varslingskanal\": "
          "\"epost\"|\"sms\", \"beskrivelse\"}");
    }
    // Only the fields the type's schema has.
    json receipt_body = json::object();
    if (type == "feil") {
      receipt_body["feiltype"] = feiltype.empty() ? "KLIENT" : feiltype;
      if (!Str(body, "detaljer").empty()) {
        receipt_body["detaljer"] = Str(body, "detaljer");
      }
    } else if (type == "varslingfeiletkvittering") {
      receipt_body["varslingskanal"] =
          varslingskanal.empty() ? "epost" : varslingskanal;
      if (!Str(body, "beskrivelse").empty()) {
        receipt_body["beskrivelse"] = Str(body, "beskrivelse");
      }
    }
    Enqueue(message_id, sender->second, type, std::move(receipt_body),
            options_.clock->NowMillis() + delay_ms, tamper);
    res.status = 204;
  }

  const DpiSimOptions options_;
  const StorePtr store_;
  const X509Ptr mailbox_cert_;
  const PkeyPtr mailbox_key_;
  const X509Ptr receipt_cert_;
  const PkeyPtr receipt_key_;

  mutable absl::Mutex mu_;
  std::map<std::string, Counts> counts_ ABSL_GUARDED_BY(mu_);
  // Message id -> the sender's SBD identifier, for receipts.
  std::map<std::string, std::string> senders_ ABSL_GUARDED_BY(mu_);
  // Message id -> the kanal it was sent with, for the receipt listing.
  std::map<std::string, std::string> kanals_ ABSL_GUARDED_BY(mu_);
  std::vector<Receipt> queue_ ABSL_GUARDED_BY(mu_);
  int64_t next_seq_ ABSL_GUARDED_BY(mu_) = 0;
  Behaviour behaviour_ ABSL_GUARDED_BY(mu_);
};

absl::StatusOr<X509Ptr> LoadCert(const std::string& file, const char* option) {
  BioPtr bio(BIO_new_file(file.c_str(), "rb"));
  X509Ptr cert(bio == nullptr
                   ? nullptr
                   : PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  if (cert == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        option, ": cannot read a PEM certificate from \"", file, "\""));
  }
  return cert;
}

absl::StatusOr<PkeyPtr> LoadKey(const std::string& file, const char* option) {
  BioPtr bio(BIO_new_file(file.c_str(), "rb"));
  PkeyPtr key(bio == nullptr ? nullptr
                             : PEM_read_bio_PrivateKey(bio.get(), nullptr,
                                                       nullptr, nullptr));
  ERR_clear_error();
  if (key == nullptr || EVP_PKEY_base_id(key.get()) != EVP_PKEY_RSA) {
    return absl::InvalidArgumentError(absl::StrCat(
        option, ": cannot read an RSA private key from \"", file, "\""));
  }
  return key;
}

}  // namespace

absl::StatusOr<std::unique_ptr<DpiSim>> DpiSim::Create(DpiSimOptions options) {
  if (options.clock == nullptr) {
    return absl::InvalidArgumentError("dpi: a clock is required");
  }
  absl::StatusOr<X509Ptr> ca = LoadCert(options.ca_file, "dpi_ca_file");
  if (!ca.ok()) return ca.status();
  StorePtr store(X509_STORE_new());
  X509_STORE_add_cert(store.get(), ca->get());
  absl::StatusOr<X509Ptr> mailbox_cert =
      LoadCert(options.mailbox_cert_file, "dpi_mailbox_cert_file");
  if (!mailbox_cert.ok()) return mailbox_cert.status();
  absl::StatusOr<PkeyPtr> mailbox_key =
      LoadKey(options.mailbox_key_file, "dpi_mailbox_key_file");
  if (!mailbox_key.ok()) return mailbox_key.status();
  absl::StatusOr<X509Ptr> receipt_cert =
      LoadCert(options.receipt_cert_file, "dpi_receipt_cert_file");
  if (!receipt_cert.ok()) return receipt_cert.status();
  absl::StatusOr<PkeyPtr> receipt_key =
      LoadKey(options.receipt_key_file, "dpi_receipt_key_file");
  if (!receipt_key.ok()) return receipt_key.status();
  return std::unique_ptr<DpiSim>(
      new DpiSimImpl(std::move(options), std::move(store),
                     *std::move(mailbox_cert), *std::move(mailbox_key),
                     *std::move(receipt_cert), *std::move(receipt_key)));
}

}  // namespace utpost::sim
