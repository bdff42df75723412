// Trace ids that tie the log lines of one letter together across the API
// and the workers: taken from a W3C `traceparent` header when the client
// sends one, else made up at submission, then carried in the work items.
#ifndef UTPOST_COMMON_LOGGING_TRACE_H_
#define UTPOST_COMMON_LOGGING_TRACE_H_

#include <string>
#include <string_view>

namespace utpost::logging {

// The trace id (32 lowercase hex digits) of a W3C traceparent value
// "VV-<trace id>-<parent id>-FF"; "" when the value is malformed or the
// trace id is all zeros.
std::string TraceIdFromTraceparent(std::string_view traceparent);

// A new random trace id: 32 lowercase hex digits, never all zeros.
std::string NewTraceId();

}  // namespace utpost::logging

#endif  // UTPOST_COMMON_LOGGING_TRACE_H_
