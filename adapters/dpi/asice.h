// The DPI document package: an ASiC-E container (ETSI EN 319 162-1) holding
// the letter's documents, the DPI manifest and a XAdES-style signature.
//
// Layout of the zip, in this order:
//   mimetype                 "application/vnd.etsi.asic-e+zip", stored
//                            (not compressed), no extra field, first, so
//                            that the type is readable at offset 38
//   <documents...>           as given (deflated)
//   manifest.xml             DPI manifest (DpiManifestXml)
//   META-INF/manifest.xml    OpenDocument manifest of the files above
//   META-INF/signatures.xml  the signature (SignaturesXml)
//
// The signature is a minimal XAdES-BES over the files, as
// dokumentpakke_sikkerhet.md (felleslosninger/docs) profiles it and the
// official example package (digital-dokumentpakke.zip) shows it: one
// ds:Reference per file (URI = the file name, percent-encoded; SHA-256, no
// transform), one over the xades:SignedProperties (signing time, signing
// certificate SHA-1 digest and issuer/serial, each file's media type) with
// the inclusive C14N 1.0 transform; RSA-SHA256 with the sender's key;
// ds:SignedInfo canonicalised with inclusive C14N 1.0
// (http://www.w3.org/TR/2001/REC-xml-c14n-20010315); ds:KeyInfo carries
// every certificate from the sender's up to and including the root
// (DpiSigner::package_chain_der). Both ds:SignedInfo and
// xades:SignedProperties are written already in their canonical form (as
// inclusive C14N renders them in this document: every namespace in scope
// declared on them, attributes in canonical order, no empty-element tags),
// so the bytes signed and digested are exactly the bytes in the file; a
// verifier that canonicalises (xmlsec1) gets the same bytes.
//
// The package rules say META-INF/manifest.xml "skal ikke være tilstede";
// the official example package has one. It is written, as the example
// does.
#ifndef UTPOST_ADAPTERS_DPI_ASICE_H_
#define UTPOST_ADAPTERS_DPI_ASICE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "adapters/dpi/dpi_crypto.h"

namespace utpost::adapters {

inline constexpr char kAsicEMimeType[] = "application/vnd.etsi.asic-e+zip";

struct AsicFile {
  std::string name;  // Path inside the zip; no "/" at either end.
  std::string media_type;
  std::string content;
};

// What the DPI manifest (manifest.xml) says.
struct DpiManifest {
  // postkasseadresse of the recipient (digital); empty: no mottaker (print
  // through DPI). The person number is not written: the mailbox address
  // is what the provider needs, as in the official example.
  std::string mailbox_address;
  std::string sender_organisation;  // 9 digits.
  std::string language = "no";      // ISO 639-1, lower case.
  // First: hoveddokument; the rest: vedlegg. `title` is shown.
  struct Document {
    std::string href;
    std::string media_type;
    std::string title;
  };
  std::vector<Document> documents;
};

// The manifest in the shape of DPI's sdp manifest
// (namespace http://begrep.difi.no/sdp/schema_v10):
//   <manifest>[<mottaker><person><postkasseadresse/></person></mottaker>]
//   <avsender><organisasjon
//   authority="iso6523-actorid-upis">0192:orgnr</organisasjon></avsender>
//   <hoveddokument href= mime=><tittel lang=/></hoveddokument>
//   <vedlegg href= mime=><tittel lang=/></vedlegg>*</manifest>
std::string DpiManifestXml(const DpiManifest& manifest);

// META-INF/signatures.xml over `files` (see above), signed at
// `signing_time_ms` (Unix milliseconds).
absl::StatusOr<std::string> SignaturesXml(const std::vector<AsicFile>& files,
                                          const DpiSigner& signer,
                                          int64_t signing_time_ms);

// The zip described above around `files` (documents and manifest.xml, in
// that order). INVALID_ARGUMENT for an empty list, a name used twice, or a
// name that is empty, absolute, has "..", or collides with "mimetype" or
// "META-INF/". Entries carry `signing_time_ms` as their time, so the same
// input gives the same bytes.
absl::StatusOr<std::string> BuildAsicE(const std::vector<AsicFile>& files,
                                       const DpiSigner& signer,
                                       int64_t signing_time_ms);

// Percent-encodes every byte outside A-Z a-z 0-9 - . _ ~ and "/" (a
// reference URI for a file name).
std::string PercentEncodePath(const std::string& name);

}  // namespace utpost::adapters

#endif  // UTPOST_ADAPTERS_DPI_ASICE_H_
