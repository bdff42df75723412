// utpostctl's commands. Each returns the process exit code:
//   0 success, 1 the server refused or failed the call (a refused TLS
//   handshake included), 2 bad usage or input found before any call,
//   3 could not reach the server (kOk... in output.h).
#ifndef UTPOST_CLI_COMMANDS_H_
#define UTPOST_CLI_COMMANDS_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cli/connection.h"
#include "grpcpp/grpcpp.h"
#include "utpost/v1/letter.pb.h"

namespace utpost::cli {

struct Output {
  bool json = false;  // One JSON document (or one per line for streams).
};

// Submits one letter: `letter_file` is YAML or JSON with the fields of
// utpost.v1.SubmitLetterRequest, plus an optional `files:` list of PDF paths
// (relative to the file); `pdfs` are added after those.
int Submit(const ConnectionOptions& c, const Output& out,
           const std::string& letter_file,
           const std::vector<std::string>& pdfs);
// Uploads the PDF `file` with UploadDocument in chunks of `chunk_bytes`
// and prints its SHA-256, for letters to name it by
// (documents[].upload_sha256), and when the upload expires; with --json the
// UploadedDocument.
int Upload(const ConnectionOptions& c, const Output& out,
           const std::string& file, int chunk_bytes);
// Submits every *.yaml, *.yml and *.json file of `dir` (or every letter of
// a batch file), `concurrency` at a time, with progress frames on stderr
// when it is a terminal (one closing line otherwise); then a summary
// ("12 submitted, 3 already submitted, 1 refused") and the failures. With
// --json, prints one line per letter instead: the SubmitLetterResponse, or
// {"file": ..., "error": ..., "code": N} where N is the exit code that
// failure alone would give; then {"submitted": N, "already_submitted": M,
// "refused": R, "invalid": I, "unreachable": U, "failed": R+I+U}. With
// `follow`, then FollowLetters on the letters it submitted.
int SubmitBatch(const ConnectionOptions& c, const Output& out,
                const std::string& dir, int concurrency, bool follow);
// The preflight of the batch `dir` (as SubmitBatch reads it): PreflightLetters
// in calls of at most 1000 letters (or about 16 MiB), summed; nothing is
// submitted. Prints the letters, sheets, envelopes and cost per channel and
// every letter that would fail with its file and reason; with --json one
// object: the summed PreflightTotals fields, "failures_by_reason" (every
// reason, zeros included), "unreadable" and "outcomes" (one per file). Exit
// 0 when every letter would go, 1 when some would fail, 2 when a file could
// not be read, 3 when the server was unreachable.
int PreflightBatch(const ConnectionOptions& c, const Output& out,
                   const std::string& dir);
// Follows `letters` (id -> state known) through WatchLetters until each is
// in a state IsFollowedToState accepts, then prints the count per state
// ("12 letters at their final state: 10 DELIVERED, 2 SENT_PRINT", or
// {"final": {"DELIVERED": 10, ...}}). Runs until then, without deadline.
int FollowLetters(const ConnectionOptions& c, const Output& out,
                  const std::shared_ptr<grpc::Channel>& channel,
                  std::map<std::string, v1::Letter::State> letters);
// `id`: a letter id or a unique prefix of one (ResolveLetterId).
int Get(const ConnectionOptions& c, const Output& out, const std::string& id);
// One page of letters; `page_token` is a previous page's next_page_token.
// `state` in any case; `page_size` 1 to 1000 (else exit 2, no call).
int List(const ConnectionOptions& c, const Output& out,
         const std::string& state, const std::string& client_reference,
         int page_size, const std::string& page_token);
// Streams events, each line starting with "#<cursor>"; `cursor` resumes
// after that event.
int Watch(const ConnectionOptions& c, const Output& out, int64_t cursor,
          bool only_new);
// `id` as for Get.
int Receipts(const ConnectionOptions& c, const Output& out,
             const std::string& id);

}  // namespace utpost::cli

#endif  // UTPOST_CLI_COMMANDS_H_
