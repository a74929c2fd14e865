// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// Temporary folders for tests that write files. ctest runs tests in parallel processes, so every
// folder name carries the process id.

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <system_error>
#include <utility>

namespace fluxpoints::testing {

// A folder created empty (whatever was left there by an earlier process with the same id is
// removed) and removed with everything in it when this object goes out of scope.
class OwnedFolder {
 public:
  explicit OwnedFolder(std::filesystem::path path) : path_(std::move(path)) {
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~OwnedFolder() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  OwnedFolder(const OwnedFolder&) = delete;
  OwnedFolder& operator=(const OwnedFolder&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// A fresh folder for the running test, removed when it goes out of scope. Kept short: some tests
// write paths into FITS keywords, whose string values hold at most 68 characters.
class TempDir {
 public:
  TempDir()
      : folder_(std::filesystem::temp_directory_path() /
                ("fluxpoints_" +
                 std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) +
                 "_" + std::to_string(::getpid()))) {}
  std::string file(const std::string& name) const { return (folder_.path() / name).string(); }

 private:
  OwnedFolder folder_;
};

// A path in this process's scratch folder, <tmp>/fluxpoints_test_files_<pid>/<group>/<name> (the
// group folder itself when `name` is empty; it is created, and everything is removed when the
// process exits). One group per test file, so that the files of two test files never collide
// when one process runs them all.
inline std::filesystem::path scratch_path(const std::string& group,
                                          const std::string& name = {}) {
  static const OwnedFolder root(std::filesystem::temp_directory_path() /
                                ("fluxpoints_test_files_" + std::to_string(::getpid())));
  const std::filesystem::path dir = root.path() / group;
  std::filesystem::create_directories(dir);
  return name.empty() ? dir : dir / name;
}

// The running test's own folder inside `group` of the scratch folder (the same on every call
// within one test), for tests that write several files and need no cleanup of their own.
inline std::filesystem::path test_scratch_dir(const std::string& group) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const std::filesystem::path dir = scratch_path(group, info->name());
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace fluxpoints::testing
