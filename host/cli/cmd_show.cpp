// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// `fluxpoints show FILE`: prints a flux-points file (gadf SED FITS, as written by gammapy or by
// `fluxpoints estimate`): its SED type, UL confidence and every column, units in the header.
#include <fmt/core.h>

#include "commands.hpp"
#include "fluxpoints/io/flux_points.hpp"
#include "host/cli/console.hpp"

namespace fluxpoints::cli {

void add_show_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("show", "Print a flux-points file (gadf SED FITS or ECSV)");
  static std::string path;
  static std::size_t max_values = 0;
  cmd->add_option("file", path, "flux-points file (.fits, .fits.gz, .ecsv)")->required();
  cmd->add_option("--max-vector-values", max_values,
                  "show at most this many values of a vector cell, then '... K more of N' "
                  "(0: all)")
      ->capture_default_str();
  add_verbosity_flags(cmd);  // --quiet: only check that the file reads
  cmd->callback([] {
    const io::FluxPointsTable t = io::read_flux_points(path);
    say("{}\nSED_TYPE = {}, UL_CONF = {:.7g} (n_sigma_ul = {:g}), {} rows, {} columns\n\n",
        t.origin, t.sed_type, t.ul_conf(), t.n_sigma_ul, t.n_rows, t.columns.size());
    say("{}", io::format_flux_points(t, max_values));
  });
}

}  // namespace fluxpoints::cli
