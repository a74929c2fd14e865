// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// Forward folding of a spectral model through a dataset, shared by the host and the CUDA fold:
//   npred_true_j = F_j * eps_j        F_j: the model integrated over true bin j, by the model's
//                                     rule (analytic, or the log-log rule with the dataset's
//                                     shared number of points); eps_j: exposure (cm2 s)
//   npred_i      = sum_j npred_true_j M_ji   M: energy dispersion, j in increasing order
// The result equals the dense product over every (j, i) bit for bit: the dispersion is stored
// by reco column as the range of true rows [row_begin, row_end) outside which the column is 0,
// and a term npred_true_j * 0 added to a sum changes nothing -- unless npred_true_j is
// infinite or NaN, whose product with 0 is NaN: columns with such a row outside their range are
// NaN, as in the dense product. The column layout lets one thread own one reco bin and sum its
// rows in the same order as the host (no atomics, same result).
//
// All arrays are plain pointers (host vectors or device buffers). The arrays of many datasets,
// e.g. all datasets of a chunk of sources, are concatenated; FoldArraysView holds them and
// dataset_view() gives one dataset's part. datasets/fold.hpp builds them on the host.

#include <cstdint>

#include "fluxpoints/math/closed_form_spectrum.hpp"
#include "fluxpoints/math/spectral_integration.hpp"

namespace fluxpoints::math {

// The nonzero part of reco column i of a dispersion matrix: rows [row_begin, row_end), whose
// values are values[value_offset + (j - row_begin)].
struct EdispColumn {
  std::int32_t row_begin = 0;
  std::int32_t row_end = 0;
  std::int64_t value_offset = 0;
};

// Where one dataset's parts are in the concatenated arrays.
struct FoldDatasetInfo {
  std::int32_t n_true = 0;
  std::int32_t n_reco = 0;
  std::int32_t grid = -1;            // index of its true axis' log-log grid; -1: not prepared
  std::int32_t identity = 0;         // 1: no dispersion (n_true == n_reco, reco bin i = true bin i)
  std::int64_t edges_offset = 0;     // true edges: n_true + 1 values
  std::int64_t exposure_offset = 0;  // exposure: n_true values
  std::int64_t column_offset = 0;    // dispersion columns: n_reco entries (unused if identity)
};

// A log-log grid over the true bins of one or more datasets with the same true axis.
struct LogLogGridInfo {
  std::int32_t n_bins = 0;
  std::int32_t npts = 0;
  std::int64_t node_offset = 0;   // n_bins * npts nodes
  std::int64_t piece_offset = 0;  // n_bins * (npts - 1) log ratios and ratios
};

// The concatenated arrays of many datasets (sizes say how many entries each array has).
struct FoldArraysView {
  const FoldDatasetInfo* datasets = nullptr;
  std::int64_t n_datasets = 0;
  const LogLogGridInfo* grids = nullptr;
  std::int64_t n_grids = 0;
  const double* edges = nullptr;
  std::int64_t n_edges = 0;
  const double* exposure = nullptr;
  std::int64_t n_exposure = 0;
  const EdispColumn* columns = nullptr;
  std::int64_t n_columns = 0;
  const double* values = nullptr;
  std::int64_t n_values = 0;
  const double* nodes = nullptr;
  std::int64_t n_nodes = 0;
  const double* log_ratio = nullptr;  // n_pieces entries, as ratio
  const double* ratio = nullptr;
  std::int64_t n_pieces = 0;
};

// One dataset as the fold reads it.
struct FoldDatasetView {
  int n_true = 0;
  int n_reco = 0;
  bool identity = false;
  const double* true_edges = nullptr;  // n_true + 1
  const double* exposure = nullptr;    // n_true
  const EdispColumn* columns = nullptr;
  const double* values = nullptr;  // the columns' value_offset count from here
  LogLogGridView grid;             // n_bins = 0 when not prepared
};

FLUXPOINTS_HD FoldDatasetView dataset_view(const FoldArraysView& a, std::int64_t d) {
  const FoldDatasetInfo& info = a.datasets[d];
  FoldDatasetView v;
  v.n_true = info.n_true;
  v.n_reco = info.n_reco;
  v.identity = info.identity != 0;
  v.true_edges = a.edges + info.edges_offset;
  v.exposure = a.exposure + info.exposure_offset;
  v.columns = a.columns + info.column_offset;
  v.values = a.values;
  if (info.grid >= 0) {
    const LogLogGridInfo& g = a.grids[info.grid];
    v.grid.n_bins = g.n_bins;
    v.grid.npts = g.npts;
    v.grid.nodes = a.nodes + g.node_offset;
    v.grid.log_ratio = a.log_ratio + g.piece_offset;
    v.grid.ratio = a.ratio + g.piece_offset;
  }
  return v;
}

// Whether folding model kind through d needs d's log-log grid (and does not have it).
FLUXPOINTS_HD bool fold_needs_grid(ClosedFormKind kind, const FoldDatasetView& d) {
  return !has_analytic_integral(kind) && d.grid.n_bins != d.n_true;
}

// npred_true of true bin j alone (the device's unit of work): its integral, times its exposure.
// Needs the grid unless the model's integral is analytic.
FLUXPOINTS_HD double fold_true_bin(const ClosedFormSpectrum& m, const FoldDatasetView& d, int j) {
  double flux;
  if (has_analytic_integral(m.kind)) {
    flux = closed_form_analytic_integral(m, d.true_edges[j], d.true_edges[j + 1]);
  } else {
    const double* nodes = d.grid.nodes + static_cast<std::int64_t>(j) * d.grid.npts;
    double y_last;
    const LogSlopeSpectrum s = log_slope_form(m);
    if (s.kind != LogSlopeKind::none) {
      const double ln_first = log(nodes[0]), ln_last = log(nodes[d.grid.npts - 1]);
      const double y_first = log_slope_dnde(s, nodes[0], ln_first);
      flux = log_slope_bin_integral(s, d.grid, j, ln_first, ln_last, y_first, &y_last);
    } else {
      const ClosedFormDnde f{m};
      flux = loglog_bin_integral(f, d.grid, j, f(nodes[0]), &y_last);
    }
  }
  return flux * d.exposure[j];
}

// The model's integral over every true bin, in order (the host's loop): fold_true_bin's values
// before the exposure, with f evaluated once at each edge two neighbouring bins share. They depend
// on the model and the true edges only, so datasets with the same true axis can share them.
FLUXPOINTS_HD void fold_true_bin_fluxes(const ClosedFormSpectrum& m, const FoldDatasetView& d,
                                        double* flux) {
  if (m.kind == ClosedFormKind::power_law || m.kind == ClosedFormKind::power_law_norm) {
    // power_law_integral bin by bin, operation for operation, with each edge's term
    // pow(e / reference, 1 - index) computed once: bin j's upper term is bin j+1's lower one.
    const double amplitude = m.p[1], reference = m.p[2], val = -m.p[0] + 1.0;
    if (!isclose_zero(val)) {
      const double prefactor = amplitude * reference / val;
      double lower = std::pow(d.true_edges[0] / reference, val);
      for (int j = 0; j < d.n_true; ++j) {
        const double upper = std::pow(d.true_edges[j + 1] / reference, val);
        flux[j] = prefactor * (upper - lower);
        lower = upper;
      }
      return;
    }
  }
  if (has_analytic_integral(m.kind)) {
    for (int j = 0; j < d.n_true; ++j)
      flux[j] = closed_form_analytic_integral(m, d.true_edges[j], d.true_edges[j + 1]);
    return;
  }
  const LogSlopeSpectrum s = log_slope_form(m);
  if (s.kind != LogSlopeKind::none) {
    // As above, with ln of each edge computed once too (the same values as fold_true_bin's).
    const int last = d.grid.npts - 1;
    double ln_lo = log(d.grid.nodes[0]);
    double y = log_slope_dnde(s, d.grid.nodes[0], ln_lo);
    for (int j = 0; j < d.n_true; ++j) {
      const double ln_hi = log(d.grid.nodes[static_cast<std::int64_t>(j) * d.grid.npts + last]);
      flux[j] = log_slope_bin_integral(s, d.grid, j, ln_lo, ln_hi, y, &y);
      ln_lo = ln_hi;
    }
    return;
  }
  const ClosedFormDnde f{m};
  double y = f(d.grid.nodes[0]);
  for (int j = 0; j < d.n_true; ++j) {
    // Bin j's first node is bin j-1's last: both are the true edge j, exactly.
    flux[j] = loglog_bin_integral(f, d.grid, j, y, &y);
  }
}

// The true rows whose npred_true is infinite or NaN, as a range [first, last] (first > last if
// there are none). Such a row makes every column that does not store it NaN (see above).
struct NonFiniteRows {
  int first = 1;
  int last = 0;
};
FLUXPOINTS_HD void note_row(NonFiniteRows& r, int j, double npred_true) {
  if (is_finite(npred_true)) return;
  if (r.first > r.last) r.first = j;
  r.last = j;
}

// npred of reco bin i from every npred_true.
FLUXPOINTS_HD double fold_reco_bin(const FoldDatasetView& d, const double* npred_true, int i,
                                   const NonFiniteRows& nonfinite) {
  if (d.identity) return npred_true[i];
  const EdispColumn c = d.columns[i];
  if (nonfinite.first <= nonfinite.last &&
      (nonfinite.first < c.row_begin || nonfinite.last >= c.row_end)) {
    return kNaN;
  }
  const double* column = d.values + c.value_offset;
  double sum = 0.0;
  for (int j = c.row_begin; j < c.row_end; ++j) sum += npred_true[j] * column[j - c.row_begin];
  return sum;
}

// The fold of one dataset from its true bins' fluxes (fold_true_bin_fluxes). npred_true: n_true
// entries of scratch; npred: n_reco results.
FLUXPOINTS_HD void fold_dataset_from_fluxes(const FoldDatasetView& d, const double* flux,
                                            double* npred_true, double* npred) {
  NonFiniteRows nonfinite;
  for (int j = 0; j < d.n_true; ++j) {
    npred_true[j] = flux[j] * d.exposure[j];
    note_row(nonfinite, j, npred_true[j]);
  }
  for (int i = 0; i < d.n_reco; ++i) npred[i] = fold_reco_bin(d, npred_true, i, nonfinite);
}

// The whole fold of one model through one dataset (the host's path). flux and npred_true: n_true
// entries of scratch each; npred: n_reco results.
FLUXPOINTS_HD void fold_dataset(const ClosedFormSpectrum& m, const FoldDatasetView& d, double* flux,
                                double* npred_true, double* npred) {
  fold_true_bin_fluxes(m, d, flux);
  fold_dataset_from_fluxes(d, flux, npred_true, npred);
}

}  // namespace fluxpoints::math
