// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#include "fluxpoints/batch_result.hpp"

#include <type_traits>

#include "fluxpoints/batch.hpp"

namespace fluxpoints {

void BatchResult::resize(std::int64_t n_problems, std::int64_t n_segments, std::int64_t n_scan) {
  const math::ResultSizes sizes{n_problems, n_segments, n_scan};
  // Floating-point arrays start as NaN (undefined), the others as 0 (status ok, no notes).
  math::for_each_result_field(
      [&](const math::FieldInfo& field, auto& column) {
        using T = typename std::decay_t<decltype(column)>::value_type;
        column.assign(static_cast<std::size_t>(sizes.count(field.extent)),
                      std::is_floating_point_v<T> ? static_cast<T>(math::kNaN) : T{});
      },
      *this);
  evaluations = 0;
}

double BatchResult::filtered_norm(std::int64_t p) const {
  return success[p] ? norm[p] : math::kNaN;
}

double BatchResult::filtered_norm_err(std::int64_t p) const {
  return success[p] ? norm_err[p] : math::kNaN;
}

std::string describe_status(SolveStatus status) {
  switch (status) {
    case SolveStatus::ok: return "ok";
    case SolveStatus::no_dataset: return "no dataset contributes in this energy range";
    case SolveStatus::empty_mask: return "no bin inside the mask in this energy range";
    case SolveStatus::flat_minimum:
      return "the minimum is a plateau (the statistic does not change with the norm there): the "
             "norm is not unique";
    case SolveStatus::no_minimum: return "the statistic decreases without bound within the norm limits";
    case SolveStatus::max_iterations: return "the iteration limit was reached";
    case SolveStatus::non_finite: return "the statistic became non-finite during the fit";
    case SolveStatus::invalid_nuisance:
      return "unusable nuisance input (too many nuisances, a lower bound above the upper bound, a "
             "non-finite value, or a negative template in a Cash bin with counts)";
  }
  return "unknown status";
}

std::string describe_notes(std::uint32_t notes) {
  std::string s;
  const auto add = [&](std::uint32_t bit, const char* text) {
    if (notes & bit) s += (s.empty() ? "" : "; ") + std::string(text);
  };
  add(math::note_at_min_bound, "best fit at the norm minimum");
  add(math::note_at_max_bound, "best fit at the norm maximum");
  add(math::note_kink, "minimum on a kink: error from the delta-stat = 1 interval");
  add(math::note_errn_no_crossing, "errn: no crossing inside the bracket");
  add(math::note_errp_no_crossing, "errp: no crossing inside the bracket");
  add(math::note_ul_no_crossing, "ul: no crossing inside the bracket");
  add(math::note_unit_bracket, "sigma and norm were 0: crossing bracket built with step 1");
  return s;
}

std::string BatchResult::reason(std::int64_t p) const {
  std::string r = describe_status(status[p]);
  const std::string n = describe_notes(notes[p]);
  return n.empty() ? r : r + " (" + n + ")";
}

namespace {

// Why problem p's statistic is flat, from its bins; "" when none of the known causes applies.
std::string plateau_cause(const LikelihoodBatch& b, std::int64_t p) {
  bool any_source = false, any_wstat_informative = false, any_cash_counts = false;
  bool any_wstat_with_source = false;
  for (std::int64_t k = b.problem_segments()[p]; k < b.problem_segments()[p + 1]; ++k) {
    const bool wstat = b.segment_kind()[k] == StatKind::wstat;
    for (std::int64_t i = b.segment_bins()[k]; i < b.segment_bins()[k + 1]; ++i) {
      if (b.npred_ref()[i] == 0.0) continue;
      any_source = true;
      if (wstat) {
        any_wstat_with_source = true;
        if (b.alpha()[i] > 0.0) any_wstat_informative = true;
      } else if (b.counts()[i] > 0.0) {
        any_cash_counts = true;
      }
    }
  }
  if (!any_source)
    return "the source predicts no counts in this group (its counts at norm 1 are 0 in every "
           "bin: check its spectrum, the exposure and datasets_names)";
  if (any_wstat_with_source && !any_wstat_informative && !any_cash_counts)
    return "alpha = 0 in every On/Off bin with source counts (an ON or OFF acceptance, e.g. a "
           "BACKSCAL of 0, gives alpha 0 or infinite, which gammapy sets to 0): WStat then does "
           "not depend on the norm";
  if (!any_cash_counts && !any_wstat_informative)
    return "every count is 0 (Cash): the statistic is flat once every prediction is clipped at 0";
  return "";
}

}  // namespace

std::string explain(const LikelihoodBatch& batch, const BatchResult& r, std::int64_t p) {
  std::string s = r.reason(p);
  if (r.status[p] == SolveStatus::flat_minimum) {
    const std::string cause = plateau_cause(batch, p);
    if (!cause.empty()) s += ": " + cause;
  }
  return s;
}

}  // namespace fluxpoints
