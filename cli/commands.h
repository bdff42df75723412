// utpostctl's commands. Each returns the process exit code:
//   0 success, 1 the server refused or failed the call, 2 bad usage or
//   unreadable input, 3 could not reach the server.
#ifndef UTPOST_CLI_COMMANDS_H_
#define UTPOST_CLI_COMMANDS_H_

#include <string>
#include <vector>

#include "cli/connection.h"

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
// Submits every *.yaml, *.yml and *.json file of `dir`, `concurrency` at a
// time, with a progress line; prints a summary of failures. With --json,
// prints one line per letter instead: the SubmitLetterResponse, or
// {"file": ..., "error": ..., "code": N} where N is the exit code that
// failure alone would give; then {"submitted": N, "failed": M}.
int SubmitBatch(const ConnectionOptions& c, const Output& out,
                const std::string& dir, int concurrency);
int Get(const ConnectionOptions& c, const Output& out, const std::string& id);
// One page of letters; `page_token` is a previous page's next_page_token.
int List(const ConnectionOptions& c, const Output& out,
         const std::string& state, const std::string& client_reference,
         int page_size, const std::string& page_token);
// Streams events, each line starting with "#<cursor>"; `cursor` resumes
// after that event.
int Watch(const ConnectionOptions& c, const Output& out, int64_t cursor,
          bool only_new);
int Receipts(const ConnectionOptions& c, const Output& out,
             const std::string& id);

}  // namespace utpost::cli

#endif  // UTPOST_CLI_COMMANDS_H_
