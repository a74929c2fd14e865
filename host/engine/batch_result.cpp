// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#include "fluxpoints/batch_result.hpp"

namespace fluxpoints {

void BatchResult::resize(std::int64_t n_problems, std::int64_t n_segments, std::int64_t n_scan) {
  for (auto* v : {&norm, &norm_err, &ts, &sqrt_ts, &stat, &stat_null, &norm_errn, &norm_errp,
                  &norm_ul})
    v->assign(n_problems, math::kNaN);
  success.assign(n_problems, 0);
  status.assign(n_problems, SolveStatus::ok);
  notes.assign(n_problems, 0);
  stat_scan.assign(n_problems * n_scan, math::kNaN);
  for (auto* v : {&npred, &npred_excess, &counts}) v->assign(n_segments, math::kNaN);
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
      return "the minimum is a plateau (e.g. all counts 0 with Cash): the norm is not unique";
    case SolveStatus::no_minimum: return "the statistic decreases without bound within the norm limits";
    case SolveStatus::max_iterations: return "the iteration limit was reached";
    case SolveStatus::non_finite: return "the statistic became non-finite during the fit";
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

}  // namespace fluxpoints
