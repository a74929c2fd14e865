// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// From a solved batch to one source's likelihood flux-point table.
#include <cmath>
#include <stdexcept>

#include "fluxpoints/estimator/estimator.hpp"
#include "fluxpoints/math/hd.hpp"
#include "fluxpoints/models/spectral_models.hpp"

namespace fluxpoints {

namespace {

io::Column scalar(const char* name, std::vector<double> data, const char* unit = "",
                  bool has_unit = true) {
  io::Column c;
  c.name = name;
  c.unit = unit;
  c.has_unit = has_unit;
  c.data = std::move(data);
  return c;
}

io::Column vector_column(const char* name, std::size_t width, std::vector<double> data,
                         bool has_unit = true) {
  io::Column c = scalar(name, std::move(data), "", has_unit);
  c.width = width;
  c.is_vector = true;
  return c;
}

}  // namespace

io::FluxPointsTable make_flux_points(const BatchResult& result, const SourceProblems& problems,
                                     const EstimatorOptions& options,
                                     const std::string& energy_unit) {
  if (!problems.reference_model)
    throw std::invalid_argument("make_flux_points: no reference model");
  const std::size_t n_rows = problems.groups.size();
  const std::size_t n_datasets = problems.dataset_names.size();
  const std::size_t n_scan = static_cast<std::size_t>(result.n_scan());
  const SolveOptions& so = options.solve;

  io::FluxPointsTable t;
  t.sed_type = "likelihood";
  t.n_sigma = so.n_sigma;
  t.n_sigma_ul = so.n_sigma_ul;
  t.sqrt_ts_threshold_ul = options.sqrt_ts_threshold_ul;
  t.n_rows = n_rows;
  t.dataset_names = problems.dataset_names;
  t.origin = problems.source_name;

  std::vector<double> e_min(n_rows), e_max(n_rows);
  for (std::size_t r = 0; r < n_rows; ++r) {
    e_min[r] = problems.groups[r].e_min;
    e_max[r] = problems.groups[r].e_max;
  }
  const models::ReferenceFluxes ref =
      models::reference_fluxes(*problems.reference_model, e_min, e_max);

  const std::string unit = energy_unit.empty() ? problems.energy_unit : energy_unit;
  const double per_tev = 1.0 / io::energy_unit_in_tev(unit);
  const auto in_unit = [&](std::vector<double> v) {
    for (double& x : v) x *= per_tev;
    return v;
  };
  t.add(scalar("e_ref", in_unit(ref.e_ref), unit.c_str()));
  t.add(scalar("e_min", in_unit(ref.e_min), unit.c_str()));
  t.add(scalar("e_max", in_unit(ref.e_max), unit.c_str()));
  t.add(scalar("ref_dnde", ref.ref_dnde, "TeV-1 s-1 cm-2"));
  t.add(scalar("ref_flux", ref.ref_flux, "s-1 cm-2"));
  std::vector<double> eflux_erg = ref.ref_eflux;
  for (double& x : eflux_erg) x *= io::kErgPerTeV;
  t.add(scalar("ref_eflux", eflux_erg, "erg s-1 cm-2"));

  // Per-problem values, picked out of the batch result.
  const auto per_row = [&](const std::vector<double>& v) {
    std::vector<double> out(n_rows);
    for (std::size_t r = 0; r < n_rows; ++r) out[r] = v[problems.groups[r].problem];
    return out;
  };
  std::vector<double> norm(n_rows), norm_err(n_rows), success(n_rows), sqrt_ts(n_rows);
  const std::vector<double> ts = per_row(result.ts);
  for (std::size_t r = 0; r < n_rows; ++r) {
    const auto p = problems.groups[r].problem;
    norm[r] = result.filtered_norm(p);
    norm_err[r] = result.filtered_norm_err(p);
    success[r] = result.success[p] ? 1.0 : 0.0;
    // The sign comes from the success-filtered norm, so a failed fit (NaN norm) gets a negative
    // sqrt_ts, as in gammapy.
    const double root = std::sqrt(std::max(ts[r], 0.0));
    sqrt_ts[r] = std::isnan(ts[r]) ? math::kNaN : (norm[r] > 0 ? root : -root);
  }
  t.add(scalar("norm", norm));
  t.add(scalar("norm_err", norm_err));
  if (so.errn_errp) {
    t.add(scalar("norm_errn", per_row(result.norm_errn)));
    t.add(scalar("norm_errp", per_row(result.norm_errp)));
  }
  if (so.ul) t.add(scalar("norm_ul", per_row(result.norm_ul)));
  if (options.sensitivity) {
    std::vector<double> sens(n_rows);
    for (std::size_t r = 0; r < n_rows; ++r) sens[r] = problems.groups[r].norm_sensitivity;
    t.add(scalar("norm_sensitivity", sens));
  }
  t.add(scalar("ts", ts));
  t.add(scalar("sqrt_ts", sqrt_ts));

  // Per-dataset sums, padded for datasets that do not take part in a group.
  std::vector<double> npred(n_rows * n_datasets, math::kNaN);
  std::vector<double> npred_excess(n_rows * n_datasets, math::kNaN);
  std::vector<double> counts(n_rows * n_datasets, 0.0);
  for (std::size_t r = 0; r < n_rows; ++r) {
    const FluxPointGroup& g = problems.groups[r];
    for (std::size_t k = 0; k < g.segment_dataset.size(); ++k) {
      const std::size_t seg = static_cast<std::size_t>(g.first_segment) + k;
      const std::size_t cell = r * n_datasets + g.segment_dataset[k];
      const double npred_left_out =
          k < g.segment_npred_constant.size() ? g.segment_npred_constant[k] : 0.0;
      const double counts_left_out =
          k < g.segment_counts_constant.size() ? g.segment_counts_constant[k] : 0.0;
      npred[cell] = result.npred[seg] + npred_left_out;
      // gammapy stores npred_excess as float32.
      npred_excess[cell] = static_cast<double>(static_cast<float>(result.npred_excess[seg]));
      counts[cell] = result.counts[seg] + counts_left_out;
    }
  }
  t.add(vector_column("npred", n_datasets, npred));
  io::Column excess = vector_column("npred_excess", n_datasets, npred_excess);
  excess.type = io::ColumnType::float32;
  t.add(std::move(excess));
  // The statistic of bins left out of the problem (a constant) makes it the total over the
  // group's masked bins.
  const auto with_constant = [&](std::vector<double> v) {
    for (std::size_t r = 0; r < n_rows; ++r) v[r] += problems.groups[r].stat_constant;
    return v;
  };
  t.add(scalar("stat", with_constant(per_row(result.stat)), "", false));
  t.add(scalar("stat_null", with_constant(per_row(result.stat_null))));
  if (so.scan) {
    std::vector<double> scan(n_rows * n_scan);
    for (std::size_t r = 0; r < n_rows; ++r)
      for (std::size_t j = 0; j < n_scan; ++j)
        scan[r * n_scan + j] = result.stat_scan[problems.groups[r].problem * n_scan + j] +
                               problems.groups[r].stat_constant;
    t.add(vector_column("stat_scan", n_scan, scan, false));
  }
  if (so.ul) {
    // gammapy's is_ul = sqrt_ts < threshold (NaN -> false), written only with norm_ul.
    std::vector<double> is_ul(n_rows);
    for (std::size_t r = 0; r < n_rows; ++r)
      is_ul[r] = sqrt_ts[r] < options.sqrt_ts_threshold_ul ? 1.0 : 0.0;
    io::Column c = scalar("is_ul", is_ul, "", false);
    c.type = io::ColumnType::boolean;
    t.add(std::move(c));
  }
  t.add(vector_column("counts", n_datasets, counts));
  io::Column ok = scalar("success", success);
  ok.type = io::ColumnType::boolean;
  t.add(std::move(ok));
  if (so.scan) {
    std::vector<double> grid(n_rows * n_scan);
    for (std::size_t r = 0; r < n_rows; ++r)
      for (std::size_t j = 0; j < n_scan; ++j) grid[r * n_scan + j] = result.norm_scan[j];
    t.add(vector_column("norm_scan", n_scan, grid));
  }
  return t;
}

io::FluxPointsTable estimate_flux_points(const std::vector<datasets::SpectrumDataset>& datasets,
                                         const std::vector<models::SkyModel>& models,
                                         std::size_t source, const EstimatorOptions& options,
                                         const Backend& backend,
                                         std::vector<std::string>* warnings) {
  LikelihoodBatch batch;
  const SourceProblems problems = append_source_problems(batch, datasets, models, source, options);
  if (warnings)
    warnings->insert(warnings->end(), problems.warnings.begin(), problems.warnings.end());
  const BatchResult result = backend.solve(batch, options.solve);
  return make_flux_points(result, problems, options);
}

}  // namespace fluxpoints
