// Exit statuses of utpost-inspect that SandboxedInspector tells apart.
#ifndef UTPOST_GATEWAY_INSPECT_INSPECT_EXIT_H_
#define UTPOST_GATEWAY_INSPECT_INSPECT_EXIT_H_

namespace utpost::inspect {

// An allocation failed: RLIMIT_AS was reached.
inline constexpr int kExitOutOfMemory = 70;
// The request frame is longer than --max-request-bytes.
inline constexpr int kExitRequestTooLarge = 71;
// The request frame could not be read or decoded.
inline constexpr int kExitBadRequest = 72;
// The command line or the sandbox set-up failed.
inline constexpr int kExitSetupFailed = 73;
// --check-sandbox: a forbidden system call returned instead of killing the
// process (the seccomp filter is not in force).
inline constexpr int kExitSandboxIneffective = 74;

}  // namespace utpost::inspect

#endif  // UTPOST_GATEWAY_INSPECT_INSPECT_EXIT_H_
