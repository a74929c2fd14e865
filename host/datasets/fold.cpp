// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#include "fluxpoints/datasets/fold.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>

namespace fluxpoints::datasets {
namespace {

std::string dataset_context(const SpectrumDataset& d) {
  return (d.source_file.empty() ? std::string("<memory>") : d.source_file) + ": dataset '" +
         d.name + "'";
}

// The fold indexes bins with 32-bit integers (as the device does).
constexpr std::size_t kMaxBins = static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max());

}  // namespace

std::int32_t FoldArrays::add_dataset(const SpectrumDataset& d) {
  const std::size_t nt = d.n_true(), nr = d.n_reco();
  if (nt == 0 || nr == 0 || nt >= kMaxBins || nr >= kMaxBins)
    throw std::invalid_argument(
        fmt::format("{}: cannot fold with {} true and {} reco bins", dataset_context(d), nt, nr));
  if (d.true_edges.size() != nt + 1)
    throw std::invalid_argument(fmt::format("{}: {} true edges for {} exposure values",
                                            dataset_context(d), d.true_edges.size(), nt));
  if (d.edisp.empty() ? nt != nr : d.edisp.size() != nt * nr)
    throw std::invalid_argument(
        fmt::format("{}: an energy dispersion of {} values for {} true and {} reco bins",
                    dataset_context(d), d.edisp.size(), nt, nr));
  for (std::size_t j = 0; j < nt; ++j) {
    const double lo = d.true_edges[j], hi = d.true_edges[j + 1];
    if (!(lo > 0.0 && hi >= lo && std::isfinite(hi)))
      throw std::invalid_argument(
          fmt::format("{}: true energy bin {} [{}, {}] TeV is not 0 < e_lo <= e_hi < inf",
                      dataset_context(d), j, lo, hi));
  }

  math::FoldDatasetInfo info;
  info.n_true = static_cast<std::int32_t>(nt);
  info.n_reco = static_cast<std::int32_t>(nr);
  info.identity = d.edisp.empty() ? 1 : 0;
  info.edges_offset = static_cast<std::int64_t>(edges_.size());
  info.exposure_offset = static_cast<std::int64_t>(exposure_.size());
  info.column_offset = static_cast<std::int64_t>(columns_.size());
  edges_.insert(edges_.end(), d.true_edges.begin(), d.true_edges.end());
  exposure_.insert(exposure_.end(), d.exposure.begin(), d.exposure.end());
  if (!d.edisp.empty()) {
    // Column i of the row-major matrix is M[j * nr + i]; its nonzero rows span [begin, end),
    // found from both ends of the column (reading only the zeros outside it).
    const std::size_t first_column = columns_.size();
    columns_.resize(first_column + nr);
    math::EdispColumn* columns = columns_.data() + first_column;
    const double* m = d.edisp.data();
    for (std::size_t i = 0; i < nr; ++i) {
      std::size_t begin = 0, end = nt;
      while (begin < nt && m[begin * nr + i] == 0.0) ++begin;
      if (begin == nt) begin = end = 0;  // an empty column
      while (end > begin && m[(end - 1) * nr + i] == 0.0) --end;
      columns[i].row_begin = static_cast<std::int32_t>(begin);
      columns[i].row_end = static_cast<std::int32_t>(end);
      columns[i].value_offset = static_cast<std::int64_t>(values_.size());
      for (std::size_t j = begin; j < end; ++j) values_.push_back(m[j * nr + i]);
    }
  }
  datasets_.push_back(info);
  return static_cast<std::int32_t>(datasets_.size() - 1);
}

void FoldArrays::clear() {
  datasets_.clear();
  grids_.clear();
  grid_edges_.clear();
  for (auto* v : {&edges_, &exposure_, &values_, &nodes_, &log_ratio_, &ratio_}) v->clear();
  columns_.clear();
  flux_dataset_ = -1;
}

void FoldArrays::prepare_grid(std::int32_t k) {
  math::FoldDatasetInfo& info = datasets_.at(k);
  if (info.grid >= 0) return;
  const double* edges = edges_.data() + info.edges_offset;
  const std::size_t n = static_cast<std::size_t>(info.n_true);
  for (std::size_t g = 0; g < grids_.size(); ++g) {
    if (grids_[g].n_bins != info.n_true) continue;
    if (std::equal(edges, edges + n + 1, edges_.data() + grid_edges_[g])) {
      info.grid = static_cast<std::int32_t>(g);
      return;
    }
  }
  // A catalog's datasets mostly share one true axis, while each source builds its own FoldArrays:
  // the last grid this thread built is kept, and copied (not recomputed) for the same edges.
  struct LastGrid {
    std::vector<double> edges, nodes, log_ratio, ratio;
    std::int32_t npts = 0;
  };
  thread_local LastGrid last;
  math::LogLogGridInfo grid;
  grid.n_bins = info.n_true;
  grid.node_offset = static_cast<std::int64_t>(nodes_.size());
  grid.piece_offset = static_cast<std::int64_t>(log_ratio_.size());
  if (last.edges.size() == n + 1 && std::equal(edges, edges + n + 1, last.edges.begin())) {
    grid.npts = last.npts;
    nodes_.insert(nodes_.end(), last.nodes.begin(), last.nodes.end());
    log_ratio_.insert(log_ratio_.end(), last.log_ratio.begin(), last.log_ratio.end());
    ratio_.insert(ratio_.end(), last.ratio.begin(), last.ratio.end());
    grid_edges_.push_back(info.edges_offset);
    grids_.push_back(grid);
    info.grid = static_cast<std::int32_t>(grids_.size() - 1);
    return;
  }
  // gammapy integrates all true bins in one call: one number of points for the whole axis.
  double max_ratio = -math::kInf;
  for (std::size_t j = 0; j < n; ++j)
    max_ratio = math::dmax(max_ratio, math::loglog_ndecade_log10_ratio(edges[j], edges[j + 1]));
  grid.npts = math::loglog_npts(max_ratio);
  const std::size_t npts = static_cast<std::size_t>(grid.npts);
  nodes_.resize(nodes_.size() + n * npts);
  log_ratio_.resize(log_ratio_.size() + n * (npts - 1));
  ratio_.resize(ratio_.size() + n * (npts - 1));
  double log10_lo = std::log10(edges[0]);
  for (std::size_t j = 0; j < n; ++j) {
    const double log10_hi = std::log10(edges[j + 1]);
    math::loglog_fill_bin(edges[j], edges[j + 1], log10_lo, log10_hi, grid.npts,
                          &nodes_[grid.node_offset + j * npts],
                          &log_ratio_[grid.piece_offset + j * (npts - 1)],
                          &ratio_[grid.piece_offset + j * (npts - 1)]);
    log10_lo = log10_hi;
  }
  last.edges.assign(edges, edges + n + 1);
  last.npts = grid.npts;
  last.nodes.assign(nodes_.begin() + grid.node_offset, nodes_.end());
  last.log_ratio.assign(log_ratio_.begin() + grid.piece_offset, log_ratio_.end());
  last.ratio.assign(ratio_.begin() + grid.piece_offset, ratio_.end());
  grid_edges_.push_back(info.edges_offset);
  grids_.push_back(grid);
  info.grid = static_cast<std::int32_t>(grids_.size() - 1);
}

void FoldArrays::prepare_grid_if_needed(std::int32_t k, const models::SpectralModel& model) {
  const std::optional<math::ClosedFormSpectrum> m = model.closed_form();
  if (m && !math::has_analytic_integral(m->kind)) prepare_grid(k);
}

std::vector<double> FoldArrays::npred(std::int32_t k, const models::SpectralModel& model) {
  prepare_grid_if_needed(k, model);
  const math::FoldDatasetView d = math::dataset_view(view(), k);
  scratch_.resize(static_cast<std::size_t>(d.n_true));
  std::vector<double> out(static_cast<std::size_t>(d.n_reco));
  if (const std::optional<math::ClosedFormSpectrum> m = model.closed_form()) {
    if (!same_fluxes(k, *m)) {
      flux_.resize(static_cast<std::size_t>(d.n_true));
      math::fold_true_bin_fluxes(*m, d, flux_.data());
      flux_model_ = *m;
      flux_dataset_ = k;
    }
    math::fold_dataset_from_fluxes(d, flux_.data(), scratch_.data(), out.data());
    return out;
  }
  // Models without a closed form integrate through their virtual dnde, all true bins in one
  // call (the numeric rule shares its number of points across the call, as gammapy does).
  const std::vector<double> lo(d.true_edges, d.true_edges + d.n_true);
  const std::vector<double> hi(d.true_edges + 1, d.true_edges + d.n_true + 1);
  const std::vector<double> flux = model.integral(lo, hi);
  math::NonFiniteRows nonfinite;
  for (int j = 0; j < d.n_true; ++j) {
    scratch_[j] = flux[j] * d.exposure[j];
    math::note_row(nonfinite, j, scratch_[j]);
  }
  for (int i = 0; i < d.n_reco; ++i) out[i] = math::fold_reco_bin(d, scratch_.data(), i, nonfinite);
  return out;
}

bool FoldArrays::same_fluxes(std::int32_t k, const math::ClosedFormSpectrum& m) const {
  if (flux_dataset_ < 0) return false;
  // Bitwise: the same parameters give the same fluxes to the last bit (-0.0 and 0.0 may not).
  if (m.kind != flux_model_.kind || std::memcmp(m.p, flux_model_.p, sizeof(m.p)) != 0) return false;
  if (k == flux_dataset_) return true;
  const math::FoldDatasetInfo& a = datasets_[k];
  const math::FoldDatasetInfo& b = datasets_[flux_dataset_];
  if (a.n_true != b.n_true) return false;
  const double* ea = edges_.data() + a.edges_offset;
  return std::equal(ea, ea + a.n_true + 1, edges_.data() + b.edges_offset);
}

math::FoldArraysView FoldArrays::view() const {
  math::FoldArraysView v;
  v.datasets = datasets_.data();
  v.n_datasets = static_cast<std::int64_t>(datasets_.size());
  v.grids = grids_.data();
  v.n_grids = static_cast<std::int64_t>(grids_.size());
  v.edges = edges_.data();
  v.n_edges = static_cast<std::int64_t>(edges_.size());
  v.exposure = exposure_.data();
  v.n_exposure = static_cast<std::int64_t>(exposure_.size());
  v.columns = columns_.data();
  v.n_columns = static_cast<std::int64_t>(columns_.size());
  v.values = values_.data();
  v.n_values = static_cast<std::int64_t>(values_.size());
  v.nodes = nodes_.data();
  v.n_nodes = static_cast<std::int64_t>(nodes_.size());
  v.log_ratio = log_ratio_.data();
  v.ratio = ratio_.data();
  v.n_pieces = static_cast<std::int64_t>(log_ratio_.size());
  return v;
}

}  // namespace fluxpoints::datasets
