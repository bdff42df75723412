#include "cli/evidence_command.h"

#include <exception>
#include <fstream>
#include <iostream>
#include <qpdf/QPDF.hh>
#include <qpdf/QPDFEmbeddedFileDocumentHelper.hh>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "utpost/v1/letter.grpc.pb.h"

namespace utpost::cli {

namespace {
constexpr char kAttachment[] = "receipts.jsonl";
}  // namespace

EvidenceCommand::EvidenceCommand(CLI::App& app) {
  command_ = app.add_subcommand(
      "evidence",
      "a letter's evidence document for the case archive (PDF/A-3b with its "
      "signed receipts attached)");
  command_->footer(
      "The document verifies on its own: utpostctl audit verify FILE.\n"
      "Examples:\n"
      "  utpostctl evidence 0b7c9f2e-5d1a-4c3e-9f00-1a2b3c4d5e6f -o bevis.pdf\n"
      "  utpostctl evidence 0b7c9f2e -o evidence.pdf --language en");
  command_->add_option("id", id_, "letter id")->required();
  command_->add_option("-o,--output", output_, "file to write the PDF to")
      ->required();
  command_
      ->add_option("--language", language_,
                   "nb (Norwegian bokmål, the default) or en")
      ->check(CLI::IsMember({"nb", "en"}));
}

bool EvidenceCommand::Selected() const { return command_->parsed(); }

int EvidenceCommand::Run(const ConnectionOptions& c) {
  auto channel = Connect(c);
  if (!channel.ok()) {
    std::cerr << "utpostctl: " << channel.status().message() << "\n";
    return kUsage;
  }
  v1::GetReceiptsRequest request;
  request.set_name(id_);
  request.set_evidence_bundle(true);
  request.set_language(language_);
  v1::GetReceiptsResponse response;
  grpc::ClientContext ctx;
  if (c.timeout_seconds > 0) {
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(c.timeout_seconds));
  }
  auto stub = v1::LetterService::NewStub(*channel);
  grpc::Status s = stub->GetReceipts(&ctx, request, &response);
  if (!s.ok()) return Report(s);
  std::ofstream file(output_, std::ios::binary | std::ios::trunc);
  file << response.evidence_bundle().summary_pdf();
  file.close();
  if (!file) {
    std::cerr << "utpostctl evidence: cannot write " << output_ << "\n";
    return kUsage;
  }
  std::cerr << "wrote " << output_ << ": " << response.receipts_size()
            << " receipts, proofs to the tree head of size "
            << response.evidence_bundle().tree_head().tree_size() << "\n";
  return kOk;
}

bool LooksLikePdf(const std::string& data) {
  return data.rfind("%PDF-", 0) == 0;
}

absl::StatusOr<std::string> ReceiptsFromEvidencePdf(const std::string& data) {
  try {
    QPDF pdf;
    pdf.setSuppressWarnings(true);
    pdf.processMemoryFile("evidence", data.data(), data.size());
    QPDFEmbeddedFileDocumentHelper files(pdf);
    auto spec = files.getEmbeddedFile(kAttachment);
    if (spec == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("the PDF carries no ", kAttachment,
                       " (not an evidence document of utpostctl evidence)"));
    }
    std::shared_ptr<Buffer> buffer =
        spec->getEmbeddedFileStream().getStreamData();
    return std::string(reinterpret_cast<const char*>(buffer->getBuffer()),
                       buffer->getSize());
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a readable PDF: ", e.what()));
  }
}

}  // namespace utpost::cli
