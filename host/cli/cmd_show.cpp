// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// `fluxpoints show FILE`: prints a flux-points file (gadf SED FITS, as written by gammapy or by
// `fluxpoints estimate`): its SED type, UL confidence and every column, units in the header.
// `fluxpoints show results.h5 --source NAME` prints one source of a `batch` result file the same
// way; without --source it lists the file's sources.
#include <fmt/core.h>

#include <algorithm>
#include <filesystem>
#include <stdexcept>

#include "commands.hpp"
#include "fluxpoints/catalog/results.hpp"
#include "fluxpoints/io/flux_points.hpp"
#include "host/cli/console.hpp"

namespace fluxpoints::cli {

namespace {

bool is_result_file(const std::string& path) {
  const std::string ext = std::filesystem::path(path).extension().string();
  return ext == ".h5" || ext == ".hdf5";
}

// Sources listed when `show results.h5` is given no --source.
constexpr std::size_t kSourcesListed = 50;

}  // namespace

void add_show_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "show", "Print a flux-points file (gadf SED FITS or ECSV), or one source of a batch result "
              "file (results.h5 --source NAME)");
  static std::string path;
  static std::string source;
  static std::size_t max_values = 0;
  cmd->add_option("file", path,
                  "flux-points file (.fits, .fits.gz, .ecsv) or batch result file (.h5)")
      ->required();
  cmd->add_option("--source", source,
                  "with a batch result file: the source to print (without it: list the sources)");
  cmd->add_option("--max-vector-values", max_values,
                  "show at most this many values of a vector cell, then '... K more of N' "
                  "(0: all)")
      ->capture_default_str();
  add_verbosity_flags(cmd);  // --quiet: only check that the file reads
  cmd->callback([] {
    const bool results = is_result_file(path);
    if (!source.empty() && !results) {
      throw std::runtime_error("--source " + source + ": only for batch result files (.h5); " +
                               path + " is a flux-points file");
    }
    if (results && source.empty()) {
      const std::vector<std::string> names = catalog::result_source_names(path);
      say("{}: batch result file with {} sources; print one with --source NAME\n", path,
          names.size());
      for (std::size_t k = 0; k < names.size() && k < kSourcesListed; ++k)
        say("  {}\n", names[k]);
      if (names.size() > kSourcesListed) say("  ... {} more\n", names.size() - kSourcesListed);
      return;
    }
    const io::FluxPointsTable t =
        results ? catalog::read_result_source(path, source) : io::read_flux_points(path);
    say("{}\nSED_TYPE = {}, UL_CONF = {:.7g} (n_sigma_ul = {:g}), {} rows, {} columns\n\n",
        t.origin, t.sed_type, t.ul_conf(), t.n_sigma_ul, t.n_rows, t.columns.size());
    say("{}", io::format_flux_points(t, max_values));
  });
}

}  // namespace fluxpoints::cli
