// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// The `fluxpoints` program as a child process, for the tests that kill a `batch` run part-way
// (SIGKILL, then --resume) or launch it under mpirun.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace fluxpoints::testing {

// Starts the program with these arguments (and environment additions, "NAME=value"), its
// output thrown away; returns its pid.
inline pid_t spawn_program(const std::vector<std::string>& args,
                           const std::vector<std::string>& env = {}) {
  const pid_t pid = fork();
  if (pid == 0) {
    for (const auto& e : env) putenv(const_cast<char*>(e.c_str()));
    std::vector<char*> argv;
    static const std::string binary = FLUXPOINTS_BINARY;
    argv.push_back(const_cast<char*>(binary.c_str()));
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    const int null_fd = ::open("/dev/null", O_WRONLY);
    dup2(null_fd, 1);
    dup2(null_fd, 2);
    execv(binary.c_str(), argv.data());
    _exit(127);
  }
  return pid;
}

// The exit code of `pid`, or 128 + the signal that ended it.
inline int wait_exit(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Chunk files (*.h5) in a run's parts folder.
inline std::size_t chunk_files(const std::string& folder) {
  std::size_t n = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(folder, ec))
    n += e.path().extension() == ".h5" ? 1 : 0;
  return n;
}

// Waits until `folder` holds at least `n` chunk files, or `timeout` passed.
inline void wait_for_chunk_files(const std::string& folder, std::size_t n,
                                 std::chrono::seconds timeout = std::chrono::seconds(60)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (chunk_files(folder) < n && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
}

// Whether mpirun is on the PATH.
inline bool mpirun_found() { return std::system("command -v mpirun > /dev/null 2>&1") == 0; }

// The command line that runs the program with `args` on `ranks` MPI processes (as root too, and
// with more ranks than cores), its output into `log`.
inline std::string mpirun_command(int ranks, const std::string& args, const std::string& log) {
  return "mpirun --allow-run-as-root --oversubscribe -np " + std::to_string(ranks) + " " +
         std::string(FLUXPOINTS_BINARY) + " " + args + " > " + log + " 2>&1";
}

}  // namespace fluxpoints::testing
