// Early-return helpers for absl::Status and absl::StatusOr<T>. Debian 12's
// abseil ships neither, so the project defines them once, here.
#ifndef UTPOST_COMMON_STATUS_MACROS_H_
#define UTPOST_COMMON_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define UTPOST_CONCAT_INNER_(a, b) a##b
#define UTPOST_CONCAT_(a, b) UTPOST_CONCAT_INNER_(a, b)

// Returns the status of `expr` from the enclosing function unless it is OK.
#define RETURN_IF_ERROR(expr)               \
  do {                                      \
    ::absl::Status utpost_status_ = (expr); \
    if (!utpost_status_.ok()) {             \
      return utpost_status_;                \
    }                                       \
  } while (0)

// `ASSIGN_OR_RETURN(auto x, Foo());` assigns the value of a StatusOr or
// returns its status from the enclosing function.
#define ASSIGN_OR_RETURN(lhs, expr) \
  UTPOST_ASSIGN_OR_RETURN_IMPL_(UTPOST_CONCAT_(utpost_or_, __LINE__), lhs, expr)

#define UTPOST_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) {                                    \
    return std::move(tmp).status();                   \
  }                                                   \
  lhs = std::move(tmp).value()

#endif  // UTPOST_COMMON_STATUS_MACROS_H_
