// The daemon's YAML configuration, from text.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz/scripted_http.h"
#include "gateway/config/config_loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string yaml(reinterpret_cast<const char*>(data), size);
  // A base folder that does not exist: relative paths resolve against it
  // and no file the input names is found there.
  utpost::fuzz::Note(
      "config",
      utpost::config::ParseConfig(yaml, "/nonexistent/utpost-fuzz").status());
  return 0;
}
