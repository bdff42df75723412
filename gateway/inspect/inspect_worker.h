// The utpost-inspect process: inspects one letter's documents read from
// stdin and writes the answer to stdout (inspect_protocol.h), inside a
// sandbox it sets up before reading anything:
//   - every file descriptor above 2 closed;
//   - RLIMIT_AS --memory-bytes (an allocation that fails exits with
//     kExitOutOfMemory), RLIMIT_CPU --cpu-seconds (SIGXCPU, then SIGKILL a
//     second later), RLIMIT_FSIZE 0, RLIMIT_NOFILE 4, RLIMIT_CORE 0;
//   - not dumpable (no ptrace by other processes), PR_SET_NO_NEW_PRIVS;
//   - a seccomp filter that kills the process on any system call but read
//     on stdin, write on stdout and stderr, memory management without
//     PROT_EXEC, futex, clock reads, signal return and exit (no open, no
//     socket, no execve, no kill of another process).
// Before the filter it inspects a small built-in PDF once, so that lazy
// initialisation in the libraries happens while it still may.
#ifndef UTPOST_GATEWAY_INSPECT_INSPECT_WORKER_H_
#define UTPOST_GATEWAY_INSPECT_INSPECT_WORKER_H_

namespace utpost::inspect {

// The whole program; returns the exit status (inspect_exit.h).
// Flags: --memory-bytes=N --cpu-seconds=N --max-request-bytes=N.
// --check-sandbox sets the sandbox up, then tries to open "/": the process
// must die of SIGSYS (exit kExitSandboxIneffective means the kernel did not
// enforce the filter).
int RunInspectWorker(int argc, char** argv);

}  // namespace utpost::inspect

#endif  // UTPOST_GATEWAY_INSPECT_INSPECT_WORKER_H_
