// The version of Utpost's programs, as the build's CMake project declares
// it (project(utpost VERSION ...)). Every binary prints the same string.
#ifndef UTPOST_COMMON_VERSION_H_
#define UTPOST_COMMON_VERSION_H_

#include <string>

namespace utpost {

// "MAJOR.MINOR.PATCH", e.g. "0.1.0".
const char* Version();

// "<program> <version>", the line `--version` prints.
std::string VersionLine(const std::string& program);

}  // namespace utpost

#endif  // UTPOST_COMMON_VERSION_H_
