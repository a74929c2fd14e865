// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// What a test needs from outside the repository, in one place: the repository root (no test
// depends on the folder it runs from), the reference data in ../shared/data, the gammapy Python,
// and the skip policy. docs/testing.md explains the labels and the switch.
//
//   FLUXPOINTS_NEEDS_SHARED_DATA(path);     path from shared_data_path(); skips when absent
//   FLUXPOINTS_NEEDS_GAMMAPY(python);       sets `python` (a std::string); skips when none
//   FLUXPOINTS_SKIP_OR_FAIL(reason);        any other reason a test cannot run here
//
// Each skips the test with the reason, except under FLUXPOINTS_REQUIRE_ALL_TESTS=1 (set by CI,
// where ../shared and gammapy exist), where it fails it instead: only "no CUDA device" may skip
// there (BackendTest and the CUDA tests skip directly with GTEST_SKIP). Under ctest, a test that
// needs shared data or gammapy must also carry the matching CTest label (tests/labels.cmake),
// so that `ctest -LE shared-data` and `ctest -L gammapy` select what they say.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>

namespace fluxpoints::testing {

// The repository root: $FLUXPOINTS_SOURCE_DIR when set (a test binary run on another machine),
// else the source folder this binary was built from.
inline std::filesystem::path source_dir() {
  if (const char* env = std::getenv("FLUXPOINTS_SOURCE_DIR"); env != nullptr && *env) return env;
  return FLUXPOINTS_SOURCE_DIR;
}

// A file of the repository, e.g. repo_path("data/golden/cases.json").
inline std::string repo_path(const std::string& relative) {
  return (source_dir() / relative).string();
}

// Reference data beside the repository (<repo>/../shared/data/<relative>): real spectra and
// gammapy outputs that must not be copied into the repository. CI has them; a clone does not.
inline std::string shared_data_path(const std::string& relative) {
  return (source_dir().parent_path() / "shared" / "data" / relative).lexically_normal().string();
}

// FLUXPOINTS_REQUIRE_ALL_TESTS=1: a test that cannot run here fails instead of skipping.
inline bool require_all_tests() {
  const char* env = std::getenv("FLUXPOINTS_REQUIRE_ALL_TESTS");
  return env != nullptr && std::string(env) == "1";
}

// The Python with gammapy 2.1: $FLUXPOINTS_GAMMAPY_PYTHON, else <repo>/.venv/bin/python (what
// tests/run_all.sh creates). Empty, with the reason in *why_not, when neither exists.
inline std::string gammapy_python(std::string* why_not = nullptr) {
  if (const char* env = std::getenv("FLUXPOINTS_GAMMAPY_PYTHON"); env != nullptr && *env) {
    if (std::filesystem::exists(env)) return env;
    if (why_not) *why_not = std::string("FLUXPOINTS_GAMMAPY_PYTHON=") + env + " does not exist";
    return "";
  }
  const std::string venv = repo_path(".venv/bin/python");
  if (std::filesystem::exists(venv)) return venv;
  if (why_not) {
    *why_not = "no gammapy Python: FLUXPOINTS_GAMMAPY_PYTHON is not set and " + venv +
               " does not exist (tests/validation/setup_venv.sh creates it)";
  }
  return "";
}

// Under ctest every test gets FLUXPOINTS_TEST_LABELS (its labels, comma-separated; see
// tests/labels.cmake). A test that needs `label` but does not carry it is a labelling mistake.
inline void expect_ctest_label(const std::string& label) {
  const char* env = std::getenv("FLUXPOINTS_TEST_LABELS");
  if (env == nullptr) return;  // run directly, not through ctest
  const std::string labels = std::string(",") + env + ",";
  if (labels.find("," + label + ",") == std::string::npos) {
    ADD_FAILURE() << "this test needs " << label << " but its CTest labels are '" << env
                  << "': add its name to the '" << label << "' pattern in tests/labels.cmake";
  }
}

// For a test that also uses a shared-data file when there is one but runs without it: whether
// `path` exists. Its absence is printed, and a failure under FLUXPOINTS_REQUIRE_ALL_TESTS=1.
inline bool optional_shared_data(const std::string& path) {
  if (std::filesystem::exists(path)) return true;
  if (require_all_tests()) {
    ADD_FAILURE() << path << " not found (../shared/data) [FLUXPOINTS_REQUIRE_ALL_TESTS=1]";
  } else {
    std::cout << "note: " << path << " not found (../shared/data): that part is left out\n";
  }
  return false;
}

}  // namespace fluxpoints::testing

// Skip the current test saying why, or fail it under FLUXPOINTS_REQUIRE_ALL_TESTS=1.
#define FLUXPOINTS_SKIP_OR_FAIL(reason)                                                   \
  do {                                                                                    \
    if (::fluxpoints::testing::require_all_tests()) {                                     \
      FAIL() << (reason) << " [FLUXPOINTS_REQUIRE_ALL_TESTS=1: this test must run here]"; \
    }                                                                                     \
    GTEST_SKIP() << (reason);                                                             \
  } while (0)

// `path` (from shared_data_path) must exist; else the test skips (fails under the switch).
#define FLUXPOINTS_NEEDS_SHARED_DATA(path)                        \
  do {                                                            \
    ::fluxpoints::testing::expect_ctest_label("shared-data");     \
    const std::string needed_path_ = (path);                      \
    if (!std::filesystem::exists(needed_path_)) {                 \
      FLUXPOINTS_SKIP_OR_FAIL(                                    \
          "needs ../shared/data (reference data kept beside the " \
          "repository, not in it): " +                            \
          needed_path_ + " not found");                           \
    }                                                             \
  } while (0)

// Declares nothing: assigns the gammapy Python to the std::string `python`, or skips (fails
// under the switch) saying why there is none.
#define FLUXPOINTS_NEEDS_GAMMAPY(python)                                             \
  do {                                                                               \
    ::fluxpoints::testing::expect_ctest_label("gammapy");                            \
    std::string why_not_;                                                            \
    (python) = ::fluxpoints::testing::gammapy_python(&why_not_);                     \
    if ((python).empty()) FLUXPOINTS_SKIP_OR_FAIL("needs gammapy 2.1: " + why_not_); \
  } while (0)
