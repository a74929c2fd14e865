// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// Small helpers that many test files need: the message of an expected exception, a file's bytes,
// and one run of the `fluxpoints` program with its output captured.

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace fluxpoints::testing {

// The message of the exception of type E that `f` throws; "" and a test failure when it throws
// none. An exception of another type is not caught (it fails the test with its own message).
template <class E = std::exception, class F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  ADD_FAILURE() << "no exception thrown";
  return "";
}

// The bytes of a file ("" when it cannot be read).
inline std::string slurp(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

#ifdef FLUXPOINTS_BINARY
struct CliRun {
  int exit_code;  // -1 when the program did not exit normally
  std::string out, err;
};

// Runs `fluxpoints ARGS` (ARGS as a shell would split them), its stdout and stderr captured in
// files in `dir`.
inline CliRun run_cli(const std::string& args, const std::filesystem::path& dir) {
  const std::filesystem::path out = dir / "stdout.txt", err = dir / "stderr.txt";
  const std::string cmd =
      std::string(FLUXPOINTS_BINARY) + " " + args + " > " + out.string() + " 2> " + err.string();
  const int status = std::system(cmd.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(out), slurp(err)};
}
#endif

}  // namespace fluxpoints::testing
