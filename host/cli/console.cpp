// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#include "host/cli/console.hpp"

namespace fluxpoints::cli {

Verbosity& verbosity() {
  static Verbosity level = Verbosity::normal;
  return level;
}

void add_verbosity_flags(CLI::App* cmd) {
  auto* quiet = cmd->add_flag_callback(
      "-q,--quiet", [] { verbosity() = Verbosity::quiet; }, "print errors only");
  auto* verbose = cmd->add_flag_callback(
      "-v,--verbose", [] { verbosity() = Verbosity::verbose; }, "print more detail on stderr");
  quiet->excludes(verbose);
}

void add_overwrite_flag(CLI::App* cmd, bool& overwrite) {
  cmd->add_flag("--overwrite", overwrite,
                "replace existing output files (an output that is one of the inputs is always "
                "refused)");
}

}  // namespace fluxpoints::cli
