#include "adapters/dpi/asice.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <zip.h>

#include <cstdio>
#include <ctime>
#include <memory>
#include <set>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "adapters/http/digest.h"
#include "common/status_macros.h"

namespace utpost::adapters {
namespace {

constexpr char kDs[] = "http://www.w3.org/2000/09/xmldsig#";
constexpr char kXades[] = "http://uri.etsi.org/01903/v1.3.2#";
constexpr char kAsic[] = "http://uri.etsi.org/02918/v1.2.1#";
// Inclusive C14N 1.0: dokumentpakke_sikkerhet.md allows it for
// ds:SignedInfo (krav 6.2.2) and names it for the SignedProperties
// reference (krav 6.2.4); the official example package uses it for both.
constexpr char kC14n[] = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315";
// The CertDigest algorithm the same page names (krav 5.1).
constexpr char kSha1[] = "http://www.w3.org/2000/09/xmldsig#sha1";
constexpr char kRsaSha256[] =
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
constexpr char kSha256[] = "http://www.w3.org/2001/04/xmlenc#sha256";
constexpr char kSdp[] = "http://begrep.difi.no/sdp/schema_v10";

// Text as canonical XML writes it (and as plain XML reads it).
std::string EscapeText(absl::string_view text) {
  std::string out;
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
      case '\r':
        out += "&#xD;";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n') {
          break;  // Not allowed in XML 1.0.
        }
        out.push_back(c);
    }
  }
  return out;
}

// An attribute value as canonical XML writes it.
std::string EscapeAttribute(absl::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\t':
        out += "&#x9;";
        break;
      case '\n':
        out += "&#xA;";
        break;
      case '\r':
        out += "&#xD;";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) break;
        out.push_back(c);
    }
  }
  return out;
}

std::string Base64Sha256(absl::string_view data) {
  return absl::Base64Escape(Sha256(std::string_view(data.data(), data.size())));
}

std::string Base64Sha1(absl::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha1(), nullptr);
  return absl::Base64Escape(
      absl::string_view(reinterpret_cast<const char*>(md), len));
}

std::string XsDateTime(int64_t millis) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixMillis(millis),
                          absl::UTCTimeZone());
}

// Issuer (RFC 2253) and decimal serial of a DER certificate.
absl::Status IssuerSerial(const std::string& der, std::string* issuer,
                          std::string* serial) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  std::unique_ptr<X509, decltype(&X509_free)> cert(
      d2i_X509(nullptr, &p, static_cast<long>(der.size())), X509_free);
  if (cert == nullptr) return absl::InternalError("signer certificate");
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  X509_NAME_print_ex(bio.get(), X509_get_issuer_name(cert.get()), 0,
                     XN_FLAG_RFC2253);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  issuer->assign(data, static_cast<size_t>(len));
  std::unique_ptr<BIGNUM, decltype(&BN_free)> bn(
      ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert.get()), nullptr), BN_free);
  char* dec = bn == nullptr ? nullptr : BN_bn2dec(bn.get());
  if (dec == nullptr) return absl::InternalError("signer certificate serial");
  serial->assign(dec);
  OPENSSL_free(dec);
  return absl::OkStatus();
}

std::string OdfManifest(const std::vector<AsicFile>& files) {
  std::string xml = absl::StrCat(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<manifest:manifest xmlns:manifest=\""
      "urn:oasis:names:tc:opendocument:xmlns:manifest:1.0\">\n"
      "  <manifest:file-entry manifest:full-path=\"/\" "
      "manifest:media-type=\"",
      kAsicEMimeType, "\"/>\n");
  for (const AsicFile& file : files) {
    absl::StrAppend(&xml, "  <manifest:file-entry manifest:full-path=\"",
                    EscapeAttribute(file.name), "\" manifest:media-type=\"",
                    EscapeAttribute(file.media_type), "\"/>\n");
  }
  absl::StrAppend(&xml, "</manifest:manifest>\n");
  return xml;
}

absl::Status CheckNames(const std::vector<AsicFile>& files) {
  if (files.empty()) {
    return absl::InvalidArgumentError("document package: no files");
  }
  std::set<std::string> seen;
  for (const AsicFile& file : files) {
    const std::string& n = file.name;
    if (n.empty() || n.front() == '/' || n.back() == '/' ||
        absl::StrContains(n, "..") || absl::StrContains(n, "\\") ||
        n == "mimetype" || absl::StartsWithIgnoreCase(n, "META-INF/")) {
      return absl::InvalidArgumentError(
          absl::StrCat("document package: file name \"", n,
                       "\" cannot go into the container"));
    }
    if (!seen.insert(n).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          "document package: file name \"", n, "\" is used twice"));
    }
  }
  return absl::OkStatus();
}

std::string ZipError(zip_t* zip) {
  return zip != nullptr ? zip_strerror(zip) : "zip";
}

}  // namespace

std::string PercentEncodePath(const std::string& name) {
  std::string out;
  for (unsigned char c : name) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '.' || c == '_' ||
        c == '~' || c == '/') {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[4];
      std::snprintf(buf, sizeof(buf), "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

std::string DpiManifestXml(const DpiManifest& m) {
  std::string xml = absl::StrCat(
      "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n"
      "<manifest xmlns=\"",
      kSdp, "\">\n");
  if (!m.mailbox_address.empty()) {
    absl::StrAppend(&xml,
                    "  <mottaker>\n"
                    "    <person>\n"
                    "      <postkasseadresse>",
                    EscapeText(m.mailbox_address),
                    "</postkasseadresse>\n"
                    "    </person>\n"
                    "  </mottaker>\n");
  }
  absl::StrAppend(&xml,
                  "  <avsender>\n"
                  "    <organisasjon authority=\"iso6523-actorid-upis\">0192:",
                  EscapeText(m.sender_organisation),
                  "</organisasjon>\n"
                  "  </avsender>\n");
  for (size_t i = 0; i < m.documents.size(); ++i) {
    const DpiManifest::Document& d = m.documents[i];
    const char* element = i == 0 ? "hoveddokument" : "vedlegg";
    absl::StrAppend(&xml, "  <", element, " href=\"", EscapeAttribute(d.href),
                    "\" mime=\"", EscapeAttribute(d.media_type), "\">\n",
                    "    <tittel lang=\"", EscapeAttribute(m.language), "\">",
                    EscapeText(d.title), "</tittel>\n", "  </", element, ">\n");
  }
  absl::StrAppend(&xml, "</manifest>\n");
  return xml;
}

absl::StatusOr<std::string> SignaturesXml(const std::vector<AsicFile>& files,
                                          const DpiSigner& signer,
                                          int64_t signing_time_ms) {
  const std::string& leaf = signer.chain_der().front();
  std::string issuer, serial;
  RETURN_IF_ERROR(IssuerSerial(leaf, &issuer, &serial));
  // The namespaces in scope where each signed element stands: inclusive
  // C14N puts all of them on the element it starts from, sorted by prefix.
  const std::string root_ns =
      absl::StrCat(" xmlns:asic=\"", kAsic, "\" xmlns:ds=\"", kDs, "\"");
  const std::string props_ns =
      absl::StrCat(root_ns, " xmlns:xades=\"", kXades, "\"");

  std::string formats;
  for (size_t i = 0; i < files.size(); ++i) {
    absl::StrAppend(&formats, "<xades:DataObjectFormat ObjectReference=\"#ID_",
                    i, "\"><xades:MimeType>", EscapeText(files[i].media_type),
                    "</xades:MimeType></xades:DataObjectFormat>");
  }
  std::string signed_properties = absl::StrCat(
      "<xades:SignedProperties", props_ns,
      " Id=\"SignedProperties\"><xades:SignedSignatureProperties>"
      "<xades:SigningTime>",
      XsDateTime(signing_time_ms),
      "</xades:SigningTime><xades:SigningCertificate><xades:Cert>"
      "<xades:CertDigest><ds:DigestMethod Algorithm=\"",
      kSha1, "\"></ds:DigestMethod><ds:DigestValue>", Base64Sha1(leaf),
      "</ds:DigestValue></xades:CertDigest><xades:IssuerSerial>"
      "<ds:X509IssuerName>",
      EscapeText(issuer), "</ds:X509IssuerName><ds:X509SerialNumber>", serial,
      "</ds:X509SerialNumber></xades:IssuerSerial></xades:Cert>"
      "</xades:SigningCertificate></xades:SignedSignatureProperties>"
      "<xades:SignedDataObjectProperties>",
      formats, "</xades:SignedDataObjectProperties></xades:SignedProperties>");

  std::string references;
  for (size_t i = 0; i < files.size(); ++i) {
    absl::StrAppend(&references, "<ds:Reference Id=\"ID_", i, "\" URI=\"",
                    EscapeAttribute(PercentEncodePath(files[i].name)),
                    "\"><ds:DigestMethod Algorithm=\"", kSha256,
                    "\"></ds:DigestMethod><ds:DigestValue>",
                    Base64Sha256(files[i].content),
                    "</ds:DigestValue></ds:Reference>");
  }
  absl::StrAppend(
      &references,
      "<ds:Reference Type=\"http://uri.etsi.org/01903#SignedProperties\" "
      "URI=\"#SignedProperties\"><ds:Transforms><ds:Transform Algorithm=\"",
      kC14n, "\"></ds:Transform></ds:Transforms><ds:DigestMethod Algorithm=\"",
      kSha256, "\"></ds:DigestMethod><ds:DigestValue>",
      Base64Sha256(signed_properties), "</ds:DigestValue></ds:Reference>");
  std::string signed_info = absl::StrCat(
      "<ds:SignedInfo", root_ns, "><ds:CanonicalizationMethod Algorithm=\"",
      kC14n, "\"></ds:CanonicalizationMethod><ds:SignatureMethod Algorithm=\"",
      kRsaSha256, "\"></ds:SignatureMethod>", references, "</ds:SignedInfo>");
  ASSIGN_OR_RETURN(std::string signature, signer.Sign(signed_info));

  std::string certificates;
  for (const std::string& der : signer.package_chain_der()) {
    absl::StrAppend(&certificates, "<ds:X509Certificate>",
                    absl::Base64Escape(der), "</ds:X509Certificate>");
  }
  return absl::StrCat(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<asic:XAdESSignatures",
      root_ns, "><ds:Signature Id=\"Signature\">", signed_info,
      "<ds:SignatureValue>", absl::Base64Escape(signature),
      "</ds:SignatureValue><ds:KeyInfo><ds:X509Data>", certificates,
      "</ds:X509Data></ds:KeyInfo><ds:Object>"
      "<xades:QualifyingProperties xmlns:xades=\"",
      kXades, "\" Target=\"#Signature\">", signed_properties,
      "</xades:QualifyingProperties></ds:Object></ds:Signature>"
      "</asic:XAdESSignatures>\n");
}

absl::StatusOr<std::string> BuildAsicE(const std::vector<AsicFile>& files,
                                       const DpiSigner& signer,
                                       int64_t signing_time_ms) {
  RETURN_IF_ERROR(CheckNames(files));
  ASSIGN_OR_RETURN(std::string signatures,
                   SignaturesXml(files, signer, signing_time_ms));
  // Entries in order; libzip reads the buffers at zip_close, so they live
  // here until then.
  std::vector<std::pair<std::string, const std::string*>> entries;
  const std::string mimetype = kAsicEMimeType;
  const std::string odf = OdfManifest(files);
  entries.emplace_back("mimetype", &mimetype);
  for (const AsicFile& file : files)
    entries.emplace_back(file.name, &file.content);
  entries.emplace_back("META-INF/manifest.xml", &odf);
  entries.emplace_back("META-INF/signatures.xml", &signatures);

  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* buffer = zip_source_buffer_create(nullptr, 0, 0, &error);
  if (buffer == nullptr) {
    zip_error_fini(&error);
    return absl::InternalError("zip: cannot make a buffer");
  }
  zip_t* zip = zip_open_from_source(buffer, ZIP_TRUNCATE, &error);
  if (zip == nullptr) {
    zip_source_free(buffer);
    zip_error_fini(&error);
    return absl::InternalError("zip: cannot open the buffer");
  }
  zip_error_fini(&error);
  zip_source_keep(buffer);  // Still ours after zip_close.
  const time_t mtime = static_cast<time_t>(signing_time_ms / 1000);
  for (size_t i = 0; i < entries.size(); ++i) {
    const std::string& content = *entries[i].second;
    zip_source_t* source =
        zip_source_buffer(zip, content.data(), content.size(), 0);
    zip_int64_t index = source == nullptr
                            ? -1
                            : zip_file_add(zip, entries[i].first.c_str(),
                                           source, ZIP_FL_ENC_UTF_8);
    if (index < 0) {
      if (source != nullptr) zip_source_free(source);
      std::string why = ZipError(zip);
      zip_discard(zip);
      zip_source_free(buffer);
      return absl::InternalError(absl::StrCat("zip: ", why));
    }
    zip_set_file_compression(zip, static_cast<zip_uint64_t>(index),
                             i == 0 ? ZIP_CM_STORE : ZIP_CM_DEFLATE, 0);
    zip_file_set_mtime(zip, static_cast<zip_uint64_t>(index), mtime, 0);
  }
  if (zip_close(zip) != 0) {
    std::string why = ZipError(zip);
    zip_discard(zip);
    zip_source_free(buffer);
    return absl::InternalError(absl::StrCat("zip: ", why));
  }
  std::string out;
  zip_stat_t stat;
  zip_stat_init(&stat);
  if (zip_source_stat(buffer, &stat) == 0 && zip_source_open(buffer) == 0) {
    out.resize(stat.size);
    zip_int64_t n = zip_source_read(buffer, out.data(), stat.size);
    zip_source_close(buffer);
    if (n != static_cast<zip_int64_t>(stat.size)) out.clear();
  }
  zip_source_free(buffer);
  if (out.empty()) return absl::InternalError("zip: cannot read the result");
  return out;
}

}  // namespace utpost::adapters
