// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// One comparison for each kind of result table the tests read back: a flux-point table (FITS,
// ECSV, or one source of a batch result file) and a whole batch result file (HDF5).

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include "fluxpoints/io/flux_points.hpp"
#include "host/io/hdf5_table.hpp"

namespace fluxpoints::testing {

// The same number within `rel_tol` of the larger magnitude (0: exactly); NaN matches NaN.
inline bool same_value(double a, double b, double rel_tol = 0.0) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return a == b || std::fabs(a - b) <= rel_tol * std::max(std::fabs(a), std::fabs(b));
}

// `got` has `want`'s SED type, upper-limit confidence and rows, and the same columns in the same
// order (name, unit, type, shape) with the same values within `rel_tol`.
inline void expect_same_tables(const io::FluxPointsTable& got, const io::FluxPointsTable& want,
                               double rel_tol = 0.0) {
  EXPECT_EQ(got.sed_type, want.sed_type);
  EXPECT_DOUBLE_EQ(got.ul_conf(), want.ul_conf());
  ASSERT_EQ(got.n_rows, want.n_rows);
  ASSERT_EQ(got.columns.size(), want.columns.size());
  for (std::size_t k = 0; k < want.columns.size(); ++k) {
    const io::Column& g = got.columns[k];
    const io::Column& w = want.columns[k];
    ASSERT_EQ(g.name, w.name) << "column " << k;
    EXPECT_EQ(g.unit, w.unit) << w.name;
    EXPECT_EQ(g.has_unit, w.has_unit) << w.name;
    EXPECT_EQ(g.type, w.type) << w.name;
    EXPECT_EQ(g.width, w.width) << w.name;
    EXPECT_EQ(g.is_vector, w.is_vector) << w.name;
    ASSERT_EQ(g.data.size(), w.data.size()) << w.name;
    for (std::size_t i = 0; i < w.data.size(); ++i)
      EXPECT_TRUE(same_value(g.data[i], w.data[i], rel_tol))
          << w.name << "[" << i << "]: " << g.data[i] << " vs " << w.data[i];
  }
}

// Two batch result files hold the same sources (names, errors, datasets, reference models,
// warnings, ok flags, and n_ok agreeing with them) and every flux-point column bit for bit but NaN
// payloads; the run attributes (backend, timings) may differ.
inline void expect_same_result_files(const std::string& a_path, const std::string& b_path) {
  hdf5::File a = hdf5::File::open(a_path), b = hdf5::File::open(b_path);
  ASSERT_EQ(a.attr_str("/fluxpoints", "columns"), b.attr_str("/fluxpoints", "columns"));
  const std::int64_t n = a.attr_i64("/", "n_sources");
  ASSERT_EQ(n, b.attr_i64("/", "n_sources"));
  for (const char* c : {"name", "error", "datasets", "model_type", "warnings", "parameter_names"})
    EXPECT_EQ(a.read_str(std::string("/sources/") + c, 0, n),
              b.read_str(std::string("/sources/") + c, 0, n))
        << c;
  EXPECT_EQ(a.dims("/sources/parameter_values"), b.dims("/sources/parameter_values"));
  const auto pa = a.read_all_f64("/sources/parameter_values");
  const auto pb = b.read_all_f64("/sources/parameter_values");
  ASSERT_EQ(pa.size(), pb.size());
  for (std::size_t i = 0; i < pa.size(); ++i)
    EXPECT_TRUE(same_value(pa[i], pb[i])) << "parameter_values entry " << i;
  const auto ok = b.read_u8("/sources/ok", 0, n);
  EXPECT_EQ(a.read_u8("/sources/ok", 0, n), ok);
  std::int64_t n_ok = 0;
  for (auto v : ok) n_ok += v;
  EXPECT_EQ(a.attr_i64("/", "n_ok"), n_ok);
  EXPECT_EQ(b.attr_i64("/", "n_ok"), n_ok);
  for (const std::string& name : a.members("/fluxpoints")) {
    const std::string path = "/fluxpoints/" + name;
    ASSERT_EQ(a.dims(path), b.dims(path)) << name;
    const auto x = a.read_all_f64(path), y = b.read_all_f64(path);
    std::size_t differing = 0;
    for (std::size_t i = 0; i < x.size(); ++i) differing += same_value(x[i], y[i]) ? 0 : 1;
    EXPECT_EQ(differing, 0u) << name << ": " << a_path << " vs " << b_path;
  }
}

}  // namespace fluxpoints::testing
