// A fresh folder for one test's SQLite store, removed with the store's
// files when the object goes.
#ifndef UTPOST_TESTS_TESTING_TEMP_STORE_H_
#define UTPOST_TESTS_TESTING_TEMP_STORE_H_

#include <string>

namespace utpost::testing {

class TempStoreFiles {
 public:
  // A new folder under the test's temporary folder, named `prefix` and a
  // unique suffix. dir() is empty when it could not be made.
  explicit TempStoreFiles(const std::string& prefix);
  ~TempStoreFiles();
  TempStoreFiles(const TempStoreFiles&) = delete;
  TempStoreFiles& operator=(const TempStoreFiles&) = delete;

  const std::string& dir() const { return dir_; }
  // The database file in it: "<dir>/utpost.db".
  const std::string& path() const { return path_; }

 private:
  std::string dir_;
  std::string path_;
};

}  // namespace utpost::testing

#endif  // UTPOST_TESTS_TESTING_TEMP_STORE_H_
