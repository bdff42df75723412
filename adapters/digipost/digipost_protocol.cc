#include "adapters/digipost/digipost_protocol.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlmemory.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <algorithm>
#include <optional>
#include <string_view>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "adapters/http/digest.h"
#include "common/uuid.h"

namespace utpost::adapters {
namespace {

constexpr size_t kMaxSubject = 255;  // api_v8.xsd, document/subject.
constexpr int64_t kMaxResponseSkewMs = 5 * 60 * 1000;

// Escapes text for an XML element. Characters XML 1.0 cannot carry at all
// (control characters other than tab, LF, CR) are dropped.
std::string XmlEscape(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' &&
            c != '\r') {
          break;
        }
        out.push_back(c);
    }
  }
  return out;
}

// The first `max` characters (not bytes) of UTF-8 `text`.
absl::string_view CutUtf8(absl::string_view text, size_t max) {
  size_t chars = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
      if (chars == max) return text.substr(0, i);
      ++chars;
    }
  }
  return text;
}

std::string FileType(const OutgoingDocument& document) {
  if (document.media_type.empty() ||
      absl::EqualsIgnoreCase(document.media_type, "application/pdf")) {
    return "pdf";
  }
  size_t dot = document.file_name.rfind('.');
  if (dot == std::string::npos || dot + 1 == document.file_name.size()) {
    return "pdf";
  }
  return absl::AsciiStrToLower(document.file_name.substr(dot + 1));
}

// A confidential letter is shown only after two-factor log-in, its subject
// hidden until then (api_v8.xsd authentication-level, sensitivity-level).
std::string DocumentXml(absl::string_view element, const std::string& uuid,
                        absl::string_view subject,
                        const OutgoingDocument& document, bool confidential) {
  return absl::StrCat("  <", element, ">\n",            //
                      "    <uuid>", uuid, "</uuid>\n",  //
                      "    <subject>", XmlEscape(CutUtf8(subject, kMaxSubject)),
                      "</subject>\n",  //
                      "    <file-type>", XmlEscape(FileType(document)),
                      "</file-type>\n", "    <authentication-level>",
                      confidential ? "TWO_FACTOR" : "PASSWORD",
                      "</authentication-level>\n", "    <sensitivity-level>",
                      confidential ? "SENSITIVE" : "NORMAL",
                      "</sensitivity-level>\n",  //
                      "  </", element, ">\n");
}

// ---- Reading (libxml2, no network, no external entities) ----

struct XmlDocDeleter {
  void operator()(xmlDoc* doc) const { xmlFreeDoc(doc); }
};
using XmlDocPtr = std::unique_ptr<xmlDoc, XmlDocDeleter>;

// Parses `xml` and checks that its root is `root` in Digipost's namespace.
absl::StatusOr<XmlDocPtr> ReadDocument(absl::string_view xml,
                                       absl::string_view root) {
  // Once, before any thread parses (the library's own set-up is not
  // thread-safe in this version).
  static const bool initialised = [] {
    xmlInitParser();
    return true;
  }();
  (void)initialised;
  if (xml.size() > (64u << 20)) {
    return absl::InvalidArgumentError("digipost: document too large");
  }
  XmlDocPtr doc(xmlReadMemory(
      xml.data(), static_cast<int>(xml.size()), "digipost.xml", nullptr,
      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING));
  if (doc == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("digipost: <", root, "> is not well-formed XML"));
  }
  xmlNode* node = xmlDocGetRootElement(doc.get());
  if (node == nullptr || node->ns == nullptr || node->ns->href == nullptr ||
      absl::string_view(reinterpret_cast<const char*>(node->ns->href)) !=
          kDigipostNamespace ||
      absl::string_view(reinterpret_cast<const char*>(node->name)) != root) {
    return absl::InvalidArgumentError(absl::StrCat(
        "digipost: expected <", root, " xmlns=\"", kDigipostNamespace, "\">"));
  }
  return doc;
}

// True for an element named `name` in Digipost's namespace.
bool Is(const xmlNode* node, absl::string_view name) {
  return node->type == XML_ELEMENT_NODE && node->ns != nullptr &&
         node->ns->href != nullptr &&
         absl::string_view(reinterpret_cast<const char*>(node->ns->href)) ==
             kDigipostNamespace &&
         absl::string_view(reinterpret_cast<const char*>(node->name)) == name;
}

// An unqualified attribute (the schema's attributes are unqualified);
// nullopt when absent.
std::optional<std::string> Attribute(xmlNode* node, const char* name) {
  xmlChar* value = xmlGetNoNsProp(node, reinterpret_cast<const xmlChar*>(name));
  if (value == nullptr) return std::nullopt;
  std::string out(reinterpret_cast<const char*>(value));
  xmlFree(value);
  return out;
}

std::string Text(xmlNode* node) {
  xmlChar* value = xmlNodeGetContent(node);
  if (value == nullptr) return "";
  std::string out(reinterpret_cast<const char*>(value));
  xmlFree(value);
  return out;
}

std::string Serialize(xmlDoc* doc, xmlNode* node) {
  xmlBuffer* buffer = xmlBufferCreate();
  if (buffer == nullptr) return "";
  std::string out;
  if (xmlNodeDump(buffer, doc, node, 0, 0) >= 0) {
    out.assign(reinterpret_cast<const char*>(xmlBufferContent(buffer)),
               static_cast<size_t>(xmlBufferLength(buffer)));
  }
  xmlBufferFree(buffer);
  return out;
}

// xsd:dateTime, with or without fraction; without a zone read as UTC.
std::optional<int64_t> ParseDateTime(absl::string_view text) {
  std::string value(absl::StripAsciiWhitespace(text));
  absl::Time t;
  std::string error;
  if (absl::ParseTime(absl::RFC3339_full, value, &t, &error)) {
    return absl::ToUnixMillis(t);
  }
  if (absl::ParseTime("%Y-%m-%d%ET%H:%M:%E*S", value, absl::UTCTimeZone(), &t,
                      &error)) {
    return absl::ToUnixMillis(t);
  }
  return std::nullopt;
}

std::optional<int64_t> ParseHttpDate(absl::string_view text) {
  absl::Time t;
  std::string error;
  if (!absl::ParseTime("%a, %d %b %Y %H:%M:%S GMT",
                       std::string(absl::StripAsciiWhitespace(text)),
                       absl::UTCTimeZone(), &t, &error)) {
    return std::nullopt;
  }
  return absl::ToUnixMillis(t);
}

}  // namespace

std::string DigipostDocumentUuid(const std::string& message_id, int index) {
  if (index == 0 && IsLowercaseUuid(message_id)) return message_id;
  return NameBasedUuid(
      absl::StrCat("digipost-document\n", message_id, "\n", index));
}

std::string DigipostMessageXml(const OutgoingLetter& letter,
                               absl::string_view sender_id) {
  std::string recipient =
      letter.person_number.empty()
          ? absl::StrCat("    <organisation-number>",
                         XmlEscape(letter.organisation_number),
                         "</organisation-number>\n")
          : absl::StrCat("    <personal-identification-number>",
                         XmlEscape(letter.person_number),
                         "</personal-identification-number>\n");
  std::string xml = absl::StrCat(
      "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n",
      "<message xmlns=\"", kDigipostNamespace, "\">\n",                   //
      "  <message-id>", XmlEscape(letter.message_id), "</message-id>\n",  //
      "  <sender-id>", XmlEscape(sender_id), "</sender-id>\n",            //
      "  <recipient>\n", recipient, "  </recipient>\n");
  for (size_t i = 0; i < letter.documents.size(); ++i) {
    const OutgoingDocument& document = letter.documents[i];
    // The primary document carries the letter's title; attachments their
    // own file names, which is what the recipient sees listed.
    absl::string_view subject =
        i == 0 && !letter.title.empty() ? letter.title : document.file_name;
    absl::StrAppend(
        &xml, DocumentXml(
                  i == 0 ? "primary-document" : "attachment",
                  DigipostDocumentUuid(letter.message_id, static_cast<int>(i)),
                  subject, document, letter.confidential));
  }
  absl::StrAppend(&xml, "</message>\n");
  return xml;
}

std::string DigipostEntryPoint::LinkFor(absl::string_view relation) const {
  for (const DigipostLink& link : links) {
    absl::string_view rel = link.rel;
    size_t slash = rel.rfind('/');
    absl::string_view name =
        slash == absl::string_view::npos ? rel : rel.substr(slash + 1);
    if (absl::EqualsIgnoreCase(name, relation)) return link.uri;
  }
  return "";
}

absl::StatusOr<DigipostEntryPoint> ParseDigipostEntryPoint(
    absl::string_view xml) {
  absl::StatusOr<XmlDocPtr> doc = ReadDocument(xml, "entrypoint");
  if (!doc.ok()) return doc.status();
  DigipostEntryPoint out;
  for (xmlNode* child = xmlDocGetRootElement(doc->get())->children;
       child != nullptr; child = child->next) {
    if (Is(child, "certificate")) {
      out.certificate = std::string(absl::StripAsciiWhitespace(Text(child)));
    } else if (Is(child, "link")) {
      DigipostLink link;
      std::optional<std::string> uri = Attribute(child, "uri");
      if (!uri.has_value() || uri->empty()) {
        return absl::InvalidArgumentError(
            "digipost: entry point link has no "
            "uri");
      }
      link.uri = *uri;
      link.rel = Attribute(child, "rel").value_or("");
      link.media_type = Attribute(child, "media-type").value_or("");
      out.links.push_back(std::move(link));
    }
  }
  return out;
}

absl::StatusOr<std::vector<DigipostDocumentEvent>> ParseDigipostDocumentEvents(
    absl::string_view xml) {
  absl::StatusOr<XmlDocPtr> doc = ReadDocument(xml, "document-events");
  if (!doc.ok()) return doc.status();
  std::vector<DigipostDocumentEvent> out;
  for (xmlNode* child = xmlDocGetRootElement(doc->get())->children;
       child != nullptr; child = child->next) {
    if (!Is(child, "event")) continue;
    std::optional<std::string> uuid = Attribute(child, "uuid");
    std::optional<std::string> type = Attribute(child, "type");
    std::optional<std::string> created = Attribute(child, "created");
    std::optional<std::string> document_created =
        Attribute(child, "document-created");
    if (!uuid.has_value() || !type.has_value() || !created.has_value() ||
        !document_created.has_value() || !IsUuid(*uuid) || type->empty()) {
      continue;
    }
    std::optional<int64_t> created_ms = ParseDateTime(*created);
    std::optional<int64_t> document_created_ms =
        ParseDateTime(*document_created);
    if (!created_ms.has_value() || !document_created_ms.has_value()) continue;
    DigipostDocumentEvent e;
    e.uuid = absl::AsciiStrToLower(*uuid);
    e.type = *std::move(type);
    e.created = *std::move(created);
    e.created_ms = *created_ms;
    e.document_created_ms = *document_created_ms;
    e.xml = Serialize(doc->get(), child);
    out.push_back(std::move(e));
  }
  return out;
}

std::string CanonicalResponseString(int status, absl::string_view path,
                                    const HttpHeaders& headers) {
  static constexpr std::string_view kSigned[] = {
      "content-md5", "date", "x-content-sha256", "x-digipost-userid"};
  std::string out =
      absl::StrCat(status, "\n", absl::AsciiStrToLower(path), "\n");
  for (std::string_view name : kSigned) {
    std::optional<std::string> value = FindHeader(headers, name);
    if (value.has_value()) {
      absl::StrAppend(&out, absl::string_view(name.data(), name.size()), ": ",
                      *value, "\n");
    }
  }
  return out;
}

absl::StatusOr<std::unique_ptr<DigipostResponseVerifier>>
DigipostResponseVerifier::FromCertificate(absl::string_view certificate_pem) {
  std::string pem(absl::StripAsciiWhitespace(certificate_pem));
  if (!absl::StrContains(pem, "-----BEGIN CERTIFICATE-----")) {
    // The base64 body alone: wrap it.
    std::string body;
    for (char c : pem) {
      if (!absl::ascii_isspace(static_cast<unsigned char>(c))) body += c;
    }
    pem = "-----BEGIN CERTIFICATE-----\n";
    for (size_t i = 0; i < body.size(); i += 64) {
      absl::StrAppend(&pem, body.substr(i, 64), "\n");
    }
    absl::StrAppend(&pem, "-----END CERTIFICATE-----\n");
  }
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (bio == nullptr) return absl::InternalError("out of memory");
  X509* certificate = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (certificate == nullptr) {
    return absl::InvalidArgumentError(
        "digipost: the entry point's certificate is not a certificate");
  }
  EVP_PKEY* key = X509_get0_pubkey(certificate);
  if (key == nullptr || EVP_PKEY_base_id(key) != EVP_PKEY_RSA) {
    X509_free(certificate);
    return absl::InvalidArgumentError(
        "digipost: the entry point's certificate has no RSA key");
  }
  return std::unique_ptr<DigipostResponseVerifier>(
      new DigipostResponseVerifier(certificate));
}

DigipostResponseVerifier::DigipostResponseVerifier(x509_st* certificate)
    : certificate_(certificate) {}

DigipostResponseVerifier::~DigipostResponseVerifier() {
  X509_free(certificate_);
}

absl::Status DigipostResponseVerifier::Verify(const HttpResponse& response,
                                              absl::string_view path,
                                              int64_t now_ms) const {
  if (response.status == 401) return absl::OkStatus();
  auto fail = [&](absl::string_view why) {
    return absl::FailedPreconditionError(absl::StrCat(
        "digipost response (HTTP ", response.status, ") not verified: ", why));
  };
  std::optional<std::string> date = FindHeader(response.headers, "Date");
  if (!date.has_value()) return fail("no Date header");
  std::optional<int64_t> date_ms = ParseHttpDate(*date);
  if (!date_ms.has_value()) return fail("Date is not an RFC 1123 date");
  if (*date_ms < now_ms - kMaxResponseSkewMs ||
      *date_ms > now_ms + kMaxResponseSkewMs) {
    return fail("Date is more than 5 minutes off");
  }
  if (!response.body.empty()) {
    std::optional<std::string> digest =
        FindHeader(response.headers, "X-Content-SHA256");
    if (!digest.has_value() || digest->empty()) {
      return fail("no X-Content-SHA256 for its body");
    }
    if (*digest != absl::Base64Escape(Sha256(response.body))) {
      return fail("X-Content-SHA256 does not match the body");
    }
  }
  std::optional<std::string> signature_b64 =
      FindHeader(response.headers, "X-Digipost-Signature");
  if (!signature_b64.has_value() || signature_b64->empty()) {
    return fail("no X-Digipost-Signature");
  }
  std::string signature;
  if (!absl::Base64Unescape(*signature_b64, &signature)) {
    return fail("X-Digipost-Signature is not base64");
  }
  const std::string text =
      CanonicalResponseString(response.status, path, response.headers);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (ctx == nullptr) return absl::InternalError("out of memory");
  bool ok =
      EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr,
                           X509_get0_pubkey(certificate_)) == 1 &&
      EVP_DigestVerify(
          ctx, reinterpret_cast<const unsigned char*>(signature.data()),
          signature.size(), reinterpret_cast<const unsigned char*>(text.data()),
          text.size()) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok) return fail("X-Digipost-Signature does not verify");
  return absl::OkStatus();
}

absl::Status DigipostResponseVerifier::CheckIssuedBy(const std::string& ca_file,
                                                     int64_t now_ms) const {
  X509_STORE* store = X509_STORE_new();
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  absl::Status status = absl::OkStatus();
  if (store == nullptr || ctx == nullptr) {
    status = absl::InternalError("out of memory");
  } else if (X509_STORE_load_file(store, ca_file.c_str()) != 1) {
    status = absl::FailedPreconditionError(
        absl::StrCat("digipost: cannot read CA file \"", ca_file, "\""));
  } else if (X509_STORE_CTX_init(ctx, store, certificate_, nullptr) != 1) {
    status = absl::InternalError("cannot set up certificate verification");
  } else {
    X509_STORE_CTX_set_time(ctx, 0, static_cast<time_t>(now_ms / 1000));
    if (X509_verify_cert(ctx) != 1) {
      status = absl::FailedPreconditionError(absl::StrCat(
          "digipost: the entry point's certificate is not issued by the "
          "configured CA: ",
          X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx))));
    }
  }
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  return status;
}

}  // namespace utpost::adapters
