// utpost-inspect: one letter's documents inspected in a sandbox; started by
// utpostd's SandboxedInspector, not by hand.
#include "gateway/inspect/inspect_worker.h"

int main(int argc, char** argv) {
  return utpost::inspect::RunInspectWorker(argc, argv);
}
