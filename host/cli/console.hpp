// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// What a command prints, by level: --quiet (errors only), the default, --verbose (more detail).
// Errors are exceptions, printed by main() at every level; everything else goes through here.
// Every command has the same two flags (add_verbosity_flags) and --overwrite where it writes.
#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <utility>

namespace fluxpoints::cli {

enum class Verbosity { quiet, normal, verbose };

// The level of this process (one command runs per process).
Verbosity& verbosity();

// --quiet/-q and --verbose/-v on `cmd`.
void add_verbosity_flags(CLI::App* cmd);
// --overwrite on `cmd`: replace existing outputs (never an input).
void add_overwrite_flag(CLI::App* cmd, bool& overwrite);

// Results on stdout (tables, "written: ..."): not with --quiet.
template <typename... Args>
void say(fmt::format_string<Args...> format, Args&&... args) {
  if (verbosity() != Verbosity::quiet) fmt::print(stdout, format, std::forward<Args>(args)...);
}
// Progress, warnings and notes on stderr: not with --quiet.
template <typename... Args>
void note(fmt::format_string<Args...> format, Args&&... args) {
  if (verbosity() != Verbosity::quiet) fmt::print(stderr, format, std::forward<Args>(args)...);
}
// Details on stderr: only with --verbose.
template <typename... Args>
void detail(fmt::format_string<Args...> format, Args&&... args) {
  if (verbosity() == Verbosity::verbose) fmt::print(stderr, format, std::forward<Args>(args)...);
}

// Thrown by a command that finished its work but must exit with a non-zero status (batch with
// failed sources); main() exits with `status` and prints nothing more.
struct ExitStatus {
  int status;
};

}  // namespace fluxpoints::cli
