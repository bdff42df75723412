// UploadDocument from the wire: the bytes as a stream of length-delimited
// utpost.v1.UploadDocumentRequest messages, taken by an UploadAssembler as
// the gateway would, then finished. Whatever comes, a document it accepts
// is as large and has the digest its header said, and is a PDF.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "common/digest.h"
#include "fuzz/scripted_http.h"
#include "gateway/api/upload_assembler.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/stubs/logging.h"
#include "google/protobuf/util/delimited_message_util.h"
#include "utpost/v1/letter.pb.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr int64_t kMaxBytes = 64 << 10;
  google::protobuf::io::ArrayInputStream in(data, static_cast<int>(size));
  utpost::api::UploadAssembler assembler(kMaxBytes);
  int64_t announced = -1;
  std::string sha256;
  while (true) {
    utpost::v1::UploadDocumentRequest message;
    bool clean_eof = false;
    if (!google::protobuf::util::ParseDelimitedFromZeroCopyStream(&message, &in,
                                                                  &clean_eof)) {
      break;
    }
    if (message.has_header() && !assembler.has_header()) {
      announced = message.header().size_bytes();
      sha256 = message.header().sha256();
    }
    absl::Status s = assembler.Take(std::move(message));
    utpost::fuzz::Note("take", s);
    if (!s.ok()) return 0;
  }
  auto done = assembler.Finish();
  utpost::fuzz::Note("finish", done.status());
  if (!done.ok()) return 0;
  // What it accepted is what was announced: checked here apart from the
  // assembler's own checks.
  if (static_cast<int64_t>(done->content.size()) != announced ||
      announced > kMaxBytes || done->sha256_hex != sha256 ||
      utpost::Sha256Hex(done->content) != sha256 ||
      done->content.compare(0, 5, "%PDF-") != 0) {
    std::abort();
  }
  return 0;
}
