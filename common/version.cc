#include "common/version.h"

#include <string>

#ifndef UTPOST_VERSION_STRING
#error "UTPOST_VERSION_STRING comes from CMake (common/CMakeLists.txt)"
#endif

namespace utpost {

const char* Version() { return UTPOST_VERSION_STRING; }

std::string VersionLine(const std::string& program) {
  return program + " " + Version();
}

}  // namespace utpost
