// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// Energy-edge snapping and the dataset checks of FluxPointsEstimator.run.
#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>
#include <sstream>
#include <stdexcept>

#include "fluxpoints/estimator/estimator.hpp"
#include "fluxpoints/limits.hpp"

namespace fluxpoints {

void EstimatorOptions::validate() const {
  if (energy_edges.size() < 2)
    throw std::invalid_argument("energy_edges: need at least 2 edges, got " +
                                std::to_string(energy_edges.size()));
  if (energy_edges.size() - 1 > static_cast<std::size_t>(limits::kMaxEnergyGroups))
    throw std::invalid_argument("energy_edges: " + std::to_string(energy_edges.size() - 1) +
                                " energy groups exceed the maximum of " +
                                std::to_string(limits::kMaxEnergyGroups));
  for (std::size_t k = 0; k < energy_edges.size(); ++k) {
    const double e = energy_edges[k];
    if (!std::isfinite(e) || !(e > 0))
      throw std::invalid_argument("energy_edges: edge " + std::to_string(k) +
                                  " must be a positive number, got " + std::to_string(e));
    if (k > 0 && !(e > energy_edges[k - 1]))
      throw std::invalid_argument("energy_edges: must increase, but edge " + std::to_string(k) +
                                  " (" + std::to_string(e) + ") follows " +
                                  std::to_string(energy_edges[k - 1]));
  }
  if (sensitivity && !(n_sigma_sensitivity > 0 && std::isfinite(n_sigma_sensitivity)))
    throw std::invalid_argument("n_sigma_sensitivity must be a positive number, got " +
                                std::to_string(n_sigma_sensitivity));
  if (!std::isfinite(sqrt_ts_threshold_ul))
    throw std::invalid_argument("sqrt_ts_threshold_ul must be finite");
  solve.validate();
}

void EstimatorOptions::set_selection(const std::string& selection) {
  std::string rest;
  bool all = false, wants_sensitivity = false;
  std::stringstream ss(selection);
  std::string item;
  while (std::getline(ss, item, ',')) {
    const auto b = item.find_first_not_of(" \t"), e = item.find_last_not_of(" \t");
    item = b == std::string::npos ? "" : item.substr(b, e - b + 1);
    if (item == "sensitivity") {
      wants_sensitivity = true;
      continue;
    }
    all = all || item == "all";
    rest += (rest.empty() ? "" : ",") + item;
  }
  solve.set_selection(rest);  // validates the other names
  sensitivity = all || wants_sensitivity;
}

double energy_pixel(const std::vector<double>& edges, double energy) {
  const std::size_t n = edges.size();
  if (n < 2) throw std::invalid_argument("energy axis: needs at least 2 edges");
  const double x = std::log(energy);
  // Segment j = [edges[j], edges[j+1]]; outside the axis, the first or last one extrapolates.
  // First interior edge above the energy; clamped to the first / last segment.
  const auto above = std::upper_bound(edges.begin() + 1, edges.end() - 1, energy);
  const std::size_t j = static_cast<std::size_t>(above - edges.begin()) - 1;
  const double x0 = std::log(edges[j]), x1 = std::log(edges[j + 1]);
  return static_cast<double>(j) - 0.5 + (x - x0) / (x1 - x0);
}

namespace {

// Index of the axis edge a requested energy snaps to.
std::size_t snap_edge_index(const std::vector<double>& edges, double energy) {
  const double n_bins = static_cast<double>(edges.size() - 1);
  double p = energy_pixel(edges, energy);
  p = std::min(std::max(p, -0.5), n_bins - 0.5);
  // numpy.round: half to even, which is nearbyint in the default rounding mode.
  return static_cast<std::size_t>(std::nearbyint(p + 0.5));
}

}  // namespace

BinRange snap_energy_range(const std::vector<double>& edges, double e_lo, double e_hi) {
  BinRange r;
  r.begin = snap_edge_index(edges, e_lo);
  r.end = snap_edge_index(edges, e_hi);
  if (r.end < r.begin) r.end = r.begin;
  return r;
}

namespace {

// snap_energy_range, remembering the results on one axis per thread: the datasets of a catalog
// mostly share one reco axis and every source asks for the same groups, and snapping takes six
// logs where comparing the edges takes none.
BinRange snap_energy_range_cached(const std::vector<double>& edges, double e_lo, double e_hi) {
  struct Snapped {
    double e_lo, e_hi;
    BinRange range;
  };
  struct Axis {
    std::vector<double> edges;
    std::vector<Snapped> snapped;
  };
  constexpr std::size_t kMaxRemembered = 256;  // a catalog has at most a few dozen groups
  thread_local Axis axis;
  if (axis.edges.size() != edges.size() ||
      std::memcmp(axis.edges.data(), edges.data(), edges.size() * sizeof(double)) != 0) {
    axis.edges = edges;
    axis.snapped.clear();
  }
  for (const Snapped& s : axis.snapped)
    if (std::memcmp(&s.e_lo, &e_lo, sizeof(double)) == 0 &&
        std::memcmp(&s.e_hi, &e_hi, sizeof(double)) == 0)
      return s.range;
  const BinRange r = snap_energy_range(edges, e_lo, e_hi);
  if (axis.snapped.size() >= kMaxRemembered) axis.snapped.clear();
  axis.snapped.push_back(Snapped{e_lo, e_hi, r});
  return r;
}

}  // namespace

SourceProblems start_source_problems(const std::string& source_name,
                                     const models::SpectralModel& reference,
                                     const std::vector<datasets::SpectrumDataset>& datasets) {
  SourceProblems out;
  out.source_name = source_name;
  out.reference_model = std::shared_ptr<const models::SpectralModel>(reference.clone());
  if (!datasets.empty()) out.energy_unit = datasets.front().energy_unit;
  for (const auto& d : datasets) out.dataset_names.push_back(d.name);
  return out;
}

GroupLayout lay_out_group(const std::vector<datasets::SpectrumDataset>& datasets, double e_lo,
                          double e_hi, const models::SpectralModel& reference,
                          std::vector<std::string>& warnings) {
  GroupLayout out;
  FluxPointGroup& group = out.group;
  out.ranges.resize(datasets.size());
  double e_min = math::kInf, e_max = -math::kInf;
  for (std::size_t k = 0; k < datasets.size(); ++k) {
    out.ranges[k] = snap_energy_range_cached(datasets[k].reco_edges, e_lo, e_hi);
    if (out.ranges[k].empty()) continue;
    group.segment_dataset.push_back(k);
    e_min = std::min(e_min, datasets[k].reco_edges[out.ranges[k].begin]);
    e_max = std::max(e_max, datasets[k].reco_edges[out.ranges[k].end]);
  }
  if (group.segment_dataset.empty()) {
    // No dataset: a row of NaN on the requested edges.
    warnings.push_back(fmt::format("No dataset contributes in range {:g} TeV - {:g} TeV ({})", e_lo,
                                   e_hi, why_no_dataset_contributes(datasets, e_lo, e_hi)));
    e_min = e_lo;
    e_max = e_hi;
  }
  group.e_min = e_min;
  group.e_max = e_max;
  if (reference.dnde(e_min) < 0 || reference.dnde(e_max) < 0)
    warnings.push_back(fmt::format(
        "Reference source model predicts negative flux within energy range {:g} TeV - {:g} TeV",
        e_min, e_max));
  return out;
}

std::string why_no_dataset_contributes(const std::vector<datasets::SpectrumDataset>& datasets,
                                       double e_lo, double e_hi) {
  std::string coverage;
  for (const auto& d : datasets) {
    if (d.reco_edges.size() < 2) continue;
    const double lo = d.reco_edges.front(), hi = d.reco_edges.back();
    coverage += fmt::format("{}'{}' {:g}-{:g} TeV", coverage.empty() ? "" : ", ", d.name, lo, hi);
    if (e_hi > lo && e_lo < hi) {
      const BinRange r = snap_energy_range(d.reco_edges, e_lo, e_hi);
      return fmt::format(
          "it is narrower than one reco bin of dataset '{}': both edges snap to the bin edge "
          "{:g} TeV (the bins there are {:g}-{:g}-{:g} TeV)",
          d.name, d.reco_edges[r.begin], d.reco_edges[r.begin > 0 ? r.begin - 1 : 0],
          d.reco_edges[r.begin], d.reco_edges[std::min(r.begin + 1, d.reco_edges.size() - 1)]);
    }
  }
  return "it lies outside every dataset (" + coverage + ")";
}

bool energy_axes_aligned(const std::vector<double>& a, const std::vector<double>& b, double atol) {
  const auto centres_on = [&](const std::vector<double>& from, const std::vector<double>& onto) {
    for (std::size_t i = 0; i + 1 < from.size(); ++i) {
      const double p = energy_pixel(onto, std::sqrt(from[i] * from[i + 1]));
      if (!(std::abs(std::nearbyint(p) - p) <= atol)) return false;
    }
    return true;
  };
  return centres_on(b, a) && centres_on(a, b);
}

void check_datasets(const std::vector<datasets::SpectrumDataset>& datasets,
                    bool allow_multiple_telescopes) {
  if (datasets.empty()) throw std::invalid_argument("no datasets given");
  std::set<std::string> names, telescopes;
  for (const auto& d : datasets) {
    if (!names.insert(d.name).second)
      throw std::invalid_argument("dataset names must be unique, but '" + d.name +
                                  "' appears twice (" + d.source_file + ")");
    if (d.reco_edges.size() < 2)
      throw std::invalid_argument("dataset '" + d.name + "' (" + d.source_file +
                                  "): reco energy axis has no bins");
    if (!d.telescope.empty()) telescopes.insert(d.telescope);
  }
  const auto& first = datasets.front();
  for (const auto& d : datasets) {
    // An axis is aligned with itself: the common case of equal axes needs no logs.
    if (d.reco_edges == first.reco_edges) continue;
    if (!energy_axes_aligned(first.reco_edges, d.reco_edges))
      throw std::invalid_argument(
          "All datasets must have aligned energy axes: the reco energy bins of '" + d.name + "' (" +
          d.source_file + ") do not line up with those of '" + first.name + "' (" +
          first.source_file + ")");
  }
  if (telescopes.size() > 1 && !allow_multiple_telescopes) {
    std::ostringstream os;
    os << "datasets come from several telescopes (";
    bool comma = false;
    for (const auto& t : telescopes) os << (comma ? ", " : "") << t, comma = true;
    os << "); set allow_multiple_telescopes to combine them";
    throw std::invalid_argument(os.str());
  }
}

}  // namespace fluxpoints
