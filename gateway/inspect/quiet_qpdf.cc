#include "gateway/inspect/quiet_qpdf.h"

#include <memory>
#include <qpdf/QPDF.hh>
#include <qpdf/QPDFLogger.hh>

namespace utpost::inspect {

void OpenQuietly(QPDF& pdf, std::string_view content) {
  std::shared_ptr<QPDFLogger> logger = QPDFLogger::create();
  logger->setInfo(logger->discard());
  logger->setWarn(logger->discard());
  logger->setError(logger->discard());
  pdf.setLogger(logger);
  pdf.setSuppressWarnings(true);
  pdf.processMemoryFile("document", content.data(), content.size());
}

}  // namespace utpost::inspect
