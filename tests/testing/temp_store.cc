#include "tests/testing/temp_store.h"

#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <vector>

#include "gtest/gtest.h"

namespace utpost::testing {

TempStoreFiles::TempStoreFiles(const std::string& prefix) {
  std::string templ = ::testing::TempDir() + "/" + prefix + "XXXXXX";
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) == nullptr) {
    ADD_FAILURE() << "cannot make a folder from " << templ;
    return;
  }
  dir_ = buf.data();
  path_ = dir_ + "/utpost.db";
}

TempStoreFiles::~TempStoreFiles() {
  if (dir_.empty()) return;
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::remove((path_ + suffix).c_str());
  }
  rmdir(dir_.c_str());
}

}  // namespace utpost::testing
