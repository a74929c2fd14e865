// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// Temporary folders for tests that write files. ctest runs tests in parallel processes, so every
// folder name carries the process id.

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

namespace fluxpoints::testing {

// A fresh folder for the running test, removed when it goes out of scope. Kept short: some tests
// write paths into FITS keywords, whose string values hold at most 68 characters.
class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = std::filesystem::temp_directory_path() /
            ("fluxpoints_" + std::string(info->name()) + "_" + std::to_string(::getpid()));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// A folder shared by the tests of one file within one process (e.g. a generated catalog reused
// by several tests); hold it in a function-local static so it is removed at exit.
class ScratchFolder {
 public:
  explicit ScratchFolder(const std::string& prefix)
      : path_(std::filesystem::temp_directory_path() /
              ("fluxpoints_test_" + prefix + "_" + std::to_string(::getpid()))) {
    std::filesystem::create_directories(path_);
  }
  ~ScratchFolder() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchFolder(const ScratchFolder&) = delete;
  ScratchFolder& operator=(const ScratchFolder&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace fluxpoints::testing
