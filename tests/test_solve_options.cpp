// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// SolveOptions: gammapy's selection_optional parsing, the scan grid (11 log-spaced norms from 0.2
// to 5 by default), the settings
// handed to the solver and option validation.

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "fluxpoints/solve_options.hpp"
#include "test_helpers.hpp"

namespace fluxpoints::testing {
namespace {

// The grid is exp(linspace(ln a, ln b, n)) in double: a few ulps from the exact 0.2 * 25^(j/10).
constexpr double kGridRelTol = 4 * std::numeric_limits<double>::epsilon();

TEST(SolveOptions, SelectionParsing) {
  SolveOptions o;
  EXPECT_EQ(o.selection(), "none");  // gammapy's default selection_optional=None
  o.set_selection("all");
  EXPECT_TRUE(o.errn_errp && o.ul && o.scan);
  EXPECT_EQ(o.selection(), "errn-errp,ul,scan");
  o.set_selection("errn-errp,ul");
  EXPECT_TRUE(o.errn_errp && o.ul && !o.scan);
  o.set_selection(" ul , scan ");
  EXPECT_TRUE(!o.errn_errp && o.ul && o.scan);
  o.set_selection("");
  EXPECT_TRUE(!o.errn_errp && !o.ul && !o.scan);
  o.set_selection("all");
  o.set_selection("none");  // replaces, not adds
  EXPECT_EQ(o.selection(), "none");
  // Round trip.
  for (const char* sel : {"errn-errp", "ul", "scan", "errn-errp,scan", "errn-errp,ul,scan"}) {
    o.set_selection(sel);
    EXPECT_EQ(o.selection(), sel);
  }
}

TEST(SolveOptions, SelectionErrorsNameTheEntry) {
  SolveOptions o;
  for (const char* bad : {"ul,bogus", "errn_errp", "ALL"}) {
    try {
      o.set_selection(bad);
      ADD_FAILURE() << "no exception for " << bad;
    } catch (const std::invalid_argument& e) {
      const std::string what = e.what();
      const std::string entry = std::string(bad).substr(std::string(bad).find(',') == std::string::npos ? 0 : 3);
      EXPECT_NE(what.find("'" + entry + "'"), std::string::npos) << what;
      EXPECT_NE(what.find("selection_optional"), std::string::npos) << what;
    }
  }
}

TEST(SolveOptions, DefaultScanGrid) {
  // gammapy's default grid: exp(linspace(ln 0.2, ln 5, 11)) = 0.2 * 25^(j/10), the last value
  // 4.999999999999999.
  const std::vector<double> grid = SolveOptions{}.norm_scan();
  ASSERT_EQ(grid.size(), 11u);
  for (int j = 0; j < 11; ++j) {
    const long double exact = 0.2L * std::pow(25.0L, j / 10.0L);
    EXPECT_NEAR(grid[j], static_cast<double>(exact), kGridRelTol * static_cast<double>(exact)) << "j=" << j;
  }
  const char* printed[11] = {"0.2",      "0.275946", "0.380731", "0.525306", "0.724780", "1",
                             "1.379730", "1.903654", "2.626528", "3.623898", "5"};
  for (int j = 0; j < 11; ++j) EXPECT_PRINTED(grid[j], printed[j]);
  EXPECT_EQ(grid.back(), 4.999999999999999);
  EXPECT_LT(grid.back(), 5.0);
}

TEST(SolveOptions, OtherGrids) {
  SolveOptions o;
  o.scan_values = {3, -1, 0.5};  // verbatim, unsorted and negative allowed
  EXPECT_EQ(o.norm_scan(), o.scan_values);
  EXPECT_EQ(interp_grid(0, 1, 5, "lin"), (std::vector<double>{0, 0.25, 0.5, 0.75, 1}));
  EXPECT_EQ(interp_grid(-4, 4, 3, "sqrt"), (std::vector<double>{-4, 0, 4}));
  EXPECT_EQ(interp_grid(2, 7, 1, "log"), (std::vector<double>{2}));
  // A log grid with a bound <= 0 starts at (about) the smallest positive double, as in gammapy
  // (its points collapse towards 0).
  const std::vector<double> g = interp_grid(0, 5, 3, "log");
  EXPECT_GT(g.front(), 0.0);
  EXPECT_LT(g.front(), 1e-300);
  EXPECT_THROW(interp_grid(0.2, 5, 0, "log"), std::invalid_argument);
  EXPECT_THROW(interp_grid(0.2, 5, 11, "cubic"), std::invalid_argument);
}

TEST(SolveOptions, SettingsForTheSolver) {
  SolveOptions o;
  o.set_selection("errn-errp");
  o.n_sigma = 2;
  o.n_sigma_ul = 3;
  o.norm_value = 0.5;
  o.norm_min = -1;
  o.norm_max = 9;
  const math::SolveSettings s = o.settings();
  EXPECT_EQ(s.n_sigma, 2);
  EXPECT_EQ(s.n_sigma_ul, 3);
  EXPECT_EQ(s.scan_n_sigma, 4);  // max(n_sigma_ul, n_sigma_sensitivity = n_sigma_ul) + 1
  EXPECT_EQ(s.norm_start, 0.5);
  EXPECT_EQ(s.norm_min, -1);
  EXPECT_EQ(s.norm_max, 9);
  EXPECT_TRUE(s.errn_errp);
  EXPECT_FALSE(s.ul);
  // Defaults: unbounded norm (NaN), start at 1, scan_n_sigma 3.
  const math::SolveSettings d = SolveOptions{}.settings();
  EXPECT_TRUE(std::isnan(d.norm_min) && std::isnan(d.norm_max));
  EXPECT_EQ(d.norm_start, 1);
  EXPECT_EQ(d.scan_n_sigma, 3);
}

TEST(SolveOptions, Validation) {
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  EXPECT_NO_THROW(SolveOptions{}.validate());
  const auto rejects = [](auto change) {
    SolveOptions o;
    change(o);
    EXPECT_THROW(o.validate(), std::invalid_argument);
  };
  rejects([](SolveOptions& o) { o.n_sigma = 0; });
  rejects([&](SolveOptions& o) { o.n_sigma = nan; });
  rejects([](SolveOptions& o) { o.n_sigma_ul = -1; });
  rejects([&](SolveOptions& o) { o.norm_value = inf; });
  rejects([](SolveOptions& o) { o.norm_min = 1; o.norm_max = 1; });
  rejects([&](SolveOptions& o) { o.norm_max = inf; });
  rejects([&](SolveOptions& o) { o.scan_values = {1, nan}; });
  rejects([](SolveOptions& o) { o.scan_interp = "cubic"; });
  rejects([](SolveOptions& o) { o.scan_n_values = 0; });
}

}  // namespace
}  // namespace fluxpoints::testing
