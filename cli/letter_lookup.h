// Finds the letter a command-line argument names: a whole id, or a unique
// prefix of one, as git takes abbreviated commit ids.
#ifndef UTPOST_CLI_LETTER_LOOKUP_H_
#define UTPOST_CLI_LETTER_LOOKUP_H_

#include <memory>
#include <string>

#include "cli/connection.h"
#include "grpcpp/grpcpp.h"

namespace utpost::cli {

// Whose letters a prefix is looked up among.
enum class LookupScope {
  kTenant,    // The caller's own (LetterService.ListLetters).
  kOperator,  // Every tenant's (OpsService.ListLetters).
  kEither,    // The caller's own; every tenant's for an operator.
};

// Sets `*id` to the letter `argument` names and returns 0, or prints why
// not to stderr and returns the exit code: 2 for an argument that is no id
// or prefix, or a prefix several letters share (they are listed, newest
// first, at most 10); 1 when no letter has the prefix or the server
// refused the look-up; 3 unreachable. A whole id is taken as it is, with
// no call.
int ResolveLetterId(const ConnectionOptions& c,
                    const std::shared_ptr<grpc::Channel>& channel,
                    const std::string& argument, LookupScope scope,
                    std::string* id);

}  // namespace utpost::cli

#endif  // UTPOST_CLI_LETTER_LOOKUP_H_
