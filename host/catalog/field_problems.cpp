// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#include "host/catalog/field_problems.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "fluxpoints/estimator/summed_groups.hpp"
#include "fluxpoints/math/hd.hpp"
#include "fluxpoints/math/nuisance_problem.hpp"
#include "fluxpoints/math/sensitivity.hpp"
#include "fluxpoints/math/statistic.hpp"

namespace fluxpoints::catalog {
namespace {

[[noreturn]] void fail(const std::string& message) { throw std::runtime_error(message); }

// A nuisance parameter of the source's problems: one free component's model and parameter,
// with its template (predicted counts at the component's value) in each of the source's datasets.
struct Nuisance {
  std::string name;
  double start = 1.0, min = math::kNaN, max = math::kNaN;
  std::vector<std::vector<double>> per_dataset;  // [dataset k][flat bin]; empty: none there
};

// One dataset of the source, with everything its bins need.
struct PreparedDataset {
  const datasets::SpectrumDataset* dataset = nullptr;
  std::int64_t n_pixels = 1;
  std::vector<double> source;       // npred at norm 1, per flat bin
  std::vector<double> fixed_other;  // fixed components' counts (not the background), per flat bin
  bool own_component = false;       // the source's counts come from a template
  std::vector<std::size_t> nuisances;  // indices of the nuisances with a template here
};

// Checks a flattened map dataset (the spectral checks of SpectrumDataset::validate do not apply:
// its per-reco columns hold n_reco x n_pixels entries and it has no IRFs).
void validate_flat_map(const datasets::SpectrumDataset& d, std::int64_t n_pixels) {
  const std::size_t n = d.counts.size();
  const std::string where = "dataset '" + d.name + "' (n_pixels " + std::to_string(n_pixels) + ")";
  const auto require = [&](const std::vector<double>& v, const char* column, bool needed) {
    if (v.empty() && !needed) return;
    if (v.size() != n)
      fail(fmt::format("{}: {} has {} entries, counts has {}", where, column, v.size(), n));
    for (std::size_t i = 0; i < v.size(); ++i)
      if (!(std::isfinite(v[i]) && v[i] >= 0))
        fail(fmt::format("{}: {}[{}] = {} is not finite and >= 0", where, column, i, v[i]));
  };
  require(d.counts, "counts", true);
  if (d.on_off) {
    require(d.counts_off, "counts_off", true);
    require(d.alpha, "alpha", true);
  } else {
    require(d.background, "background", false);
  }
  for (const auto* m : {&d.mask_safe, &d.mask_fit})
    if (!m->empty() && m->size() != n)
      fail(fmt::format("{}: a mask has {} entries, counts has {}", where, m->size(), n));
}

const Component& component_at(const FieldSourceInput& in, std::int64_t row) {
  const auto it = in.components->find(row);
  if (it == in.components->end()) fail(fmt::format("component row {} was not read", row));
  if (!it->second.component) fail(it->second.error);
  return *it->second.component;
}

// Flat bins [begin, end) of reco bins r: every pixel of each.
struct FlatRange {
  std::size_t begin = 0, end = 0;
};

}  // namespace

SourceProblems append_field_source_problems(LikelihoodBatch& batch, const FieldSourceInput& in,
                                            const EstimatorOptions& options, bool reoptimize) {
  const Source& source = *in.source;
  if (source.datasets.empty()) fail("the source has no datasets");
  const std::size_t n_datasets = source.datasets.size();

  // The datasets, checked.
  std::vector<datasets::SpectrumDataset> ds;
  std::vector<std::int64_t> pixels;
  for (std::size_t k = 0; k < n_datasets; ++k) {
    const DatasetRead& r = *in.datasets[k];
    if (!r.dataset) fail("dataset " + std::to_string(source.datasets[k]) + ": " + r.error);
    ds.push_back(*r.dataset);
    pixels.push_back(r.n_pixels);
    if (r.n_pixels > 1)
      validate_flat_map(ds.back(), r.n_pixels);
    else
      ds.back().validate();
  }
  check_datasets(ds, options.allow_multiple_telescopes);

  models::SkyModel model;
  try {
    model = make_sky_model(source);
  } catch (const std::exception& e) {
    fail("reference model " + source.model.type + ": " + e.what());
  }
  for (const models::Parameter& p : model.spectral->parameters())
    if (!std::isfinite(p.value))
      fail(fmt::format("reference model {}: parameter '{}' is {}", source.model.type, p.name,
                       p.value));

  // The source's own components: at most one per dataset, only on its datasets.
  std::vector<std::int64_t> own(n_datasets, -1);
  for (std::int64_t row : source.components) {
    const Component& c = component_at(in, row);
    const auto at = std::find(source.datasets.begin(), source.datasets.end(), c.dataset);
    if (at == source.datasets.end())
      fail(
          fmt::format("its component row {} is in dataset row {}, not one of the source's "
                      "datasets",
                      row, c.dataset));
    const std::size_t k = static_cast<std::size_t>(at - source.datasets.begin());
    if (own[k] >= 0)
      fail(
          fmt::format("dataset '{}' holds two of its components (rows {} and {}); at most one "
                      "per dataset",
                      ds[k].name, own[k], row));
    own[k] = row;
  }

  // Per dataset: the source's counts, the fixed rest, the nuisances' templates.
  std::vector<PreparedDataset> prepared(n_datasets);
  std::vector<Nuisance> nuisances;
  for (std::size_t k = 0; k < n_datasets; ++k) {
    const datasets::SpectrumDataset& d = ds[k];
    PreparedDataset& p = prepared[k];
    p.dataset = &d;
    p.n_pixels = pixels[k];
    const std::size_t n_flat = d.counts.size();
    const auto scatter = [&](const Component& c, std::int64_t row, double scale,
                             std::vector<double>& into) {
      if (c.bin_index.size() != c.bin_value.size())
        fail(fmt::format("component row {}: bin_index and bin_value differ in length", row));
      for (std::size_t j = 0; j < c.bin_index.size(); ++j) {
        const std::int64_t b = c.bin_index[j];
        if (b < 0 || static_cast<std::size_t>(b) >= n_flat)
          fail(
              fmt::format("component row {} (model '{}'): bin_index {} is outside dataset '{}' "
                          "({} bins)",
                          row, c.model, b, d.name, n_flat));
        if (!std::isfinite(c.bin_value[j]))
          fail(fmt::format("component row {} (model '{}'): bin_value {} in bin {}", row, c.model,
                           c.bin_value[j], b));
        into[b] += c.bin_value[j] * scale;
      }
    };
    if (own[k] >= 0) {
      p.own_component = true;
      p.source.assign(n_flat, 0.0);
      scatter(component_at(in, own[k]), own[k], 1.0, p.source);
    } else if (p.n_pixels > 1) {
      fail(
          fmt::format("dataset '{}' is a flattened map (n_pixels {}) and the source has no "
                      "component there: its counts cannot be folded without IRFs",
                      d.name, p.n_pixels));
    } else {
      p.source = d.npred_source(*model.spectral);
    }
    p.fixed_other.assign(n_flat, 0.0);
    for (std::int64_t row : in.dataset_components[k]) {
      if (row == own[k]) continue;
      const Component& c = component_at(in, row);
      if (c.dataset != source.datasets[k])
        fail(fmt::format("component row {} is listed for dataset row {} but belongs to {}", row,
                         source.datasets[k], c.dataset));
      if (c.model == source.name) continue;  // the source itself, folded or from its template
      if (!(reoptimize && c.free)) {
        scatter(c, row, 1.0, p.fixed_other);
        continue;
      }
      if (!(std::isfinite(c.value) && c.value != 0.0))
        fail(
            fmt::format("component row {} ('{}'): its value {} gives no template per unit "
                        "(reoptimize needs a finite, non-zero value)",
                        row, c.nuisance_name(), c.value));
      const std::string name = c.nuisance_name();
      auto it = std::find_if(nuisances.begin(), nuisances.end(),
                             [&](const Nuisance& n) { return n.name == name; });
      if (it == nuisances.end()) {
        // Fitted in units of its value (start 1, template = the counts at its value): the same
        // model as amplitude x counts per unit amplitude, with the unknowns of order 1 whatever
        // the parameter's unit (amplitudes of 1e-12 would otherwise meet templates of 1e12).
        Nuisance n;
        n.name = name;
        n.start = 1.0;
        n.min = c.value > 0 ? c.min / c.value : c.max / c.value;
        n.max = c.value > 0 ? c.max / c.value : c.min / c.value;
        n.per_dataset.resize(n_datasets);
        nuisances.push_back(std::move(n));
        it = nuisances.end() - 1;
      }
      std::vector<double>& t = it->per_dataset[k];
      if (t.empty()) {
        t.assign(n_flat, 0.0);
        p.nuisances.push_back(static_cast<std::size_t>(it - nuisances.begin()));
      }
      scatter(c, row, 1.0, t);
    }
  }

  SourceProblems out = start_source_problems(source.name, *model.spectral, ds);

  const auto& edges = options.energy_edges;
  for (std::size_t g = 0; g + 1 < edges.size(); ++g) {
    const double lo = edges[g], hi = edges[g + 1];
    GroupLayout layout = lay_out_group(ds, lo, hi, *model.spectral, out.warnings);
    FluxPointGroup& group = layout.group;
    const std::vector<BinRange>& ranges = layout.ranges;

    // The bins of the group: the datasets' own, or with sum_over_energy_groups one per pixel.
    const std::vector<datasets::SpectrumDataset>* group_ds = &ds;
    const std::vector<PreparedDataset>* group_prepared = &prepared;
    const std::vector<Nuisance>* group_nuisances = &nuisances;
    std::vector<datasets::SpectrumDataset> summed_ds;
    std::vector<PreparedDataset> summed_prepared;
    std::vector<Nuisance> summed_nuisances;
    if (options.sum_over_energy_groups) {
      summed_ds.resize(n_datasets);
      summed_prepared.resize(n_datasets);
      for (const Nuisance& n : nuisances) {
        Nuisance& summed = summed_nuisances.emplace_back();
        summed.name = n.name;
        summed.start = n.start;
        summed.min = n.min;
        summed.max = n.max;
        summed.per_dataset.resize(n_datasets);
      }
      for (std::size_t k : group.segment_dataset) {
        const std::size_t P = static_cast<std::size_t>(prepared[k].n_pixels);
        const PreparedDataset& p = prepared[k];
        summed_ds[k] = sum_energy_group(ds[k], ranges[k], P);
        PreparedDataset& summed = summed_prepared[k];
        summed.dataset = &summed_ds[k];
        summed.n_pixels = p.n_pixels;
        summed.own_component = p.own_component;
        summed.nuisances = p.nuisances;
        summed.source = sum_safe_bins(p.source, ds[k], ranges[k], P);
        summed.fixed_other = sum_safe_bins(p.fixed_other, ds[k], ranges[k], P);
        for (std::size_t n : p.nuisances)
          summed_nuisances[n].per_dataset[k] =
              sum_safe_bins(nuisances[n].per_dataset[k], ds[k], ranges[k], P);
      }
      group_ds = &summed_ds;
      group_prepared = &summed_prepared;
      group_nuisances = &summed_nuisances;
    }

    // Which masked bins go to the engine: where the source has a template, those where it or a
    // nuisance predicts counts (the others only add a constant); all of them elsewhere, and in
    // a group where the source predicts nothing at all (the engine then reports it).
    const auto flat = [&](std::size_t k) {
      const std::size_t P = static_cast<std::size_t>(prepared[k].n_pixels);
      if (options.sum_over_energy_groups) return FlatRange{0, P};
      return FlatRange{ranges[k].begin * P, ranges[k].end * P};
    };
    const auto predicts = [&](std::size_t k, std::size_t i) {
      if ((*group_prepared)[k].source[i] != 0.0) return true;
      for (std::size_t n : (*group_prepared)[k].nuisances)
        if ((*group_nuisances)[n].per_dataset[k][i] != 0.0) return true;
      return false;
    };
    bool source_predicts = false;
    for (std::size_t k : group.segment_dataset) {
      const FlatRange r = flat(k);
      for (std::size_t i = r.begin; i < r.end && !source_predicts; ++i)
        source_predicts = (*group_ds)[k].mask(i) && (*group_prepared)[k].source[i] != 0.0;
    }

    group.problem = batch.begin_problem(
        fmt::format("{}, group {} [{:g}, {:g}] TeV", source.name, g, group.e_min, group.e_max));
    group.first_segment = batch.n_segments();
    // The problem's bins, in order, as (dataset, flat bin): the nuisance templates follow them.
    std::vector<std::pair<std::size_t, std::size_t>> kept;
    for (std::size_t k : group.segment_dataset) {
      const datasets::SpectrumDataset& d = (*group_ds)[k];
      const PreparedDataset& p = (*group_prepared)[k];
      batch.begin_dataset(d.on_off ? StatKind::wstat : StatKind::cash);
      double stat_left_out = 0.0, counts_left_out = 0.0, npred_left_out = 0.0;
      const FlatRange r = flat(k);
      for (std::size_t i = r.begin; i < r.end; ++i) {
        if (!d.mask(i)) continue;
        const double other = p.fixed_other[i];
        const double alpha = d.on_off ? math::nan_to_num(d.alpha[i]) : 0.0;
        const double background = d.on_off || d.background.empty() ? 0.0 : d.background[i];
        if (p.own_component && source_predicts && !predicts(k, i)) {
          const math::BinTerms t =
              d.on_off ? math::wstat_bin(d.counts[i], d.counts_off[i], alpha, 0.0, other, 0.0)
                       : math::cash_bin(d.counts[i], 0.0, background + other, 0.0);
          stat_left_out += t.value;
          npred_left_out += t.npred;
          counts_left_out += d.counts[i];
          continue;
        }
        if (d.on_off)
          batch.add_wstat_bin(d.counts[i], d.counts_off[i], alpha, p.source[i], other);
        else
          batch.add_cash_bin(d.counts[i], p.source[i], background + other);
        kept.emplace_back(k, i);
      }
      group.stat_constant += stat_left_out;
      group.segment_counts_constant.push_back(counts_left_out);
      group.segment_npred_constant.push_back(npred_left_out);
    }
    // The nuisances with a template on the problem's bins.
    std::vector<std::pair<const Nuisance*, std::vector<double>>> active;
    for (const Nuisance& n : *group_nuisances) {
      std::vector<double> t(kept.size(), 0.0);
      bool any = false;
      for (std::size_t j = 0; j < kept.size(); ++j) {
        const auto& per = n.per_dataset[kept[j].first];
        t[j] = per.empty() ? 0.0 : per[kept[j].second];
        any = any || t[j] != 0.0;
      }
      if (any) active.emplace_back(&n, std::move(t));
    }
    if (active.size() > static_cast<std::size_t>(math::kMaxNuisances))
      fail(
          fmt::format("energy group {} has {} nuisance parameters (free components in the "
                      "source's datasets with reoptimize on); the engine's limit is {}",
                      g, active.size(), math::kMaxNuisances));
    for (const auto& [n, t] : active) batch.add_nuisance(n->start, n->min, n->max, t);
    const std::size_t n_active = active.size();
    if (options.sensitivity) {
      if (n_active == 0) {
        group.norm_sensitivity =
            math::norm_sensitivity(batch.view(group.problem), options.n_sigma_sensitivity, 1e-10);
      } else if (g == 0) {
        out.warnings.push_back(
            "norm_sensitivity is not computed with reoptimize (nuisance parameters): NaN");
      }
    }
    out.groups.push_back(std::move(group));
  }
  return out;
}

}  // namespace fluxpoints::catalog
