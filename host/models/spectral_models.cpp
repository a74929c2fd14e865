// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#include "fluxpoints/models/spectral_models.hpp"

#include <cmath>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include "fluxpoints/math/spectral_functions.hpp"
#include "fluxpoints/math/spectral_integration.hpp"
#include "fluxpoints/models/units.hpp"

namespace fluxpoints::models {
namespace {

Parameter param(const char* name, double value, const char* unit, bool frozen = false) {
  Parameter p;
  p.name = name;
  p.value = value;
  p.unit = unit;
  p.frozen = frozen;
  return p;
}

constexpr double kDefaultAmplitude = 1e-12;  // cm-2 s-1 TeV-1 (or cm-2 s-1 for PowerLaw2)

void check_bins(const std::vector<double>& e_lo, const std::vector<double>& e_hi,
                const std::string& type) {
  if (e_lo.size() != e_hi.size())
    throw std::invalid_argument(type + " integral: " + std::to_string(e_lo.size()) + " lower and " +
                                std::to_string(e_hi.size()) + " upper edges");
  for (std::size_t i = 0; i < e_lo.size(); ++i) {
    if (!(e_lo[i] > 0.0 && e_hi[i] >= e_lo[i] && std::isfinite(e_hi[i])))
      throw std::invalid_argument(type + " integral: bin " + std::to_string(i) + " [" +
                                  std::to_string(e_lo[i]) + ", " + std::to_string(e_hi[i]) +
                                  "] TeV is not 0 < e_lo <= e_hi < inf");
  }
}

// Applies f(e_lo, e_hi) to every bin.
template <class F>
std::vector<double> per_bin(const std::vector<double>& e_lo, const std::vector<double>& e_hi,
                            const std::string& type, F f) {
  check_bins(e_lo, e_hi, type);
  std::vector<double> out(e_lo.size());
  for (std::size_t i = 0; i < e_lo.size(); ++i) out[i] = f(e_lo[i], e_hi[i]);
  return out;
}

// gammapy's integrate_spectrum (the log-log rule, ndecade = 100) of f over every bin, with one
// number of points shared by all of them. The only copy of the rule on the host: model classes
// give f as their closed form (math::ClosedFormDnde) or through the virtual dnde.
template <class F>
std::vector<double> loglog_integrals(const F& f, const std::vector<double>& e_lo,
                                     const std::vector<double>& e_hi) {
  const std::size_t n = e_lo.size();
  std::vector<double> out(n, 0.0);
  if (n == 0) return out;
  double max_ratio = -math::kInf;
  for (std::size_t i = 0; i < n; ++i)
    max_ratio = math::dmax(max_ratio, math::loglog_ndecade_log10_ratio(e_lo[i], e_hi[i]));
  const int npts = math::loglog_npts(max_ratio);
  std::vector<double> nodes(n * npts), log_ratio(n * (npts - 1)), ratio(n * (npts - 1));
  for (std::size_t i = 0; i < n; ++i)
    math::loglog_fill_bin(e_lo[i], e_hi[i], std::log10(e_lo[i]), std::log10(e_hi[i]), npts,
                          &nodes[i * npts], &log_ratio[i * (npts - 1)], &ratio[i * (npts - 1)]);
  const math::LogLogGridView grid{static_cast<int>(n), npts, nodes.data(), log_ratio.data(),
                                  ratio.data()};
  double y_last = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    // A bin starting where the previous one ended shares that node's value.
    const double y_first = i > 0 && e_lo[i] == e_hi[i - 1] ? y_last : f(e_lo[i]);
    out[i] = math::loglog_bin_integral(f, grid, static_cast<int>(i), y_first, &y_last);
  }
  return out;
}

}  // namespace

// ---- base class -------------------------------------------------------------------------------

std::vector<double> SpectralModel::dnde(const std::vector<double>& energies_tev) const {
  std::vector<double> out(energies_tev.size());
  for (std::size_t i = 0; i < energies_tev.size(); ++i) out[i] = dnde(energies_tev[i]);
  return out;
}

std::vector<double> SpectralModel::integral(const std::vector<double>& e_lo,
                                            const std::vector<double>& e_hi) const {
  const std::optional<math::ClosedFormSpectrum> m = closed_form();
  if (!m) return integrate_spectrum_loglog(*this, e_lo, e_hi, false);
  if (math::has_analytic_integral(m->kind)) {
    return per_bin(e_lo, e_hi, type(), [&](double a, double b) {
      return math::closed_form_analytic_integral(*m, a, b);
    });
  }
  check_bins(e_lo, e_hi, type());
  return loglog_integrals(math::ClosedFormDnde{*m}, e_lo, e_hi);
}

std::vector<double> SpectralModel::energy_flux(const std::vector<double>& e_lo,
                                               const std::vector<double>& e_hi) const {
  const std::optional<math::ClosedFormSpectrum> m = closed_form();
  if (!m) return integrate_spectrum_loglog(*this, e_lo, e_hi, true);
  check_bins(e_lo, e_hi, type());
  return loglog_integrals([&](double e) { return math::closed_form_dnde(*m, e) * e; }, e_lo, e_hi);
}

const Parameter& SpectralModel::parameter(const std::string& name) const {
  for (const auto& p : parameters_)
    if (p.name == name) return p;
  throw std::out_of_range(type() + " has no parameter '" + name + "'");
}

Parameter& SpectralModel::parameter(const std::string& name) {
  return const_cast<Parameter&>(static_cast<const SpectralModel&>(*this).parameter(name));
}

std::vector<double> integrate_spectrum_loglog(const SpectralModel& model,
                                              const std::vector<double>& e_lo,
                                              const std::vector<double>& e_hi, bool energy_flux) {
  check_bins(e_lo, e_hi, model.type());
  if (energy_flux) return loglog_integrals([&](double e) { return model.dnde(e) * e; }, e_lo, e_hi);
  return loglog_integrals([&](double e) { return model.dnde(e); }, e_lo, e_hi);
}

std::vector<double> gammapy_log_axis_edges(const std::vector<double>& edges) {
  for (std::size_t i = 0; i < edges.size(); ++i)
    if (!(edges[i] > 0.0 && std::isfinite(edges[i])) || (i > 0 && !(edges[i] > edges[i - 1])))
      throw std::invalid_argument("energy axis edges must be finite, > 0 and ascending (edge " +
                                  std::to_string(i) + ")");
  std::vector<double> out(edges.size());
  for (std::size_t i = 0; i < edges.size(); ++i)
    out[i] = math::log_axis_edge(edges.data(), static_cast<int>(i));
  return out;
}

namespace {
// Reference quantities with centres from [centre_lo, centre_hi] and integrals over [e_lo, e_hi].
ReferenceFluxes reference_fluxes_impl(const SpectralModel& model,
                                      const std::vector<double>& centre_lo,
                                      const std::vector<double>& centre_hi,
                                      const std::vector<double>& e_lo,
                                      const std::vector<double>& e_hi) {
  ReferenceFluxes r;
  r.e_min = e_lo;
  r.e_max = e_hi;
  r.ref_flux = model.integral(e_lo, e_hi);  // validates the bins
  r.ref_eflux = model.energy_flux(e_lo, e_hi);
  for (std::size_t i = 0; i < centre_lo.size(); ++i) {
    const double e = math::log_bin_center(centre_lo[i], centre_hi[i]);
    const double dnde = model.dnde(e);
    r.e_ref.push_back(e);
    r.ref_dnde.push_back(dnde);
    r.ref_e2dnde.push_back(dnde * (e * e));  // gammapy: phi(E) * E**2
  }
  return r;
}
}  // namespace

ReferenceFluxes reference_fluxes(const SpectralModel& model, const std::vector<double>& edges) {
  const std::vector<double> axis = gammapy_log_axis_edges(edges);
  if (axis.size() < 2) throw std::invalid_argument("energy axis needs at least 2 edges");
  const std::vector<double> lo(edges.begin(), edges.end() - 1), hi(edges.begin() + 1, edges.end());
  const std::vector<double> axis_lo(axis.begin(), axis.end() - 1),
      axis_hi(axis.begin() + 1, axis.end());
  return reference_fluxes_impl(model, lo, hi, axis_lo, axis_hi);
}

ReferenceFluxes reference_fluxes(const SpectralModel& model, const std::vector<double>& e_lo,
                                 const std::vector<double>& e_hi) {
  return reference_fluxes_impl(model, e_lo, e_hi, e_lo, e_hi);
}

// ---- PowerLaw -----------------------------------------------------------------------------------

PowerLawSpectralModel::PowerLawSpectralModel() {
  parameters_ = {param("index", 2.0, kUnitDimensionless),
                 param("amplitude", kDefaultAmplitude, kUnitDnde),
                 param("reference", 1.0, kUnitEnergy, true)};
}
double PowerLawSpectralModel::evaluate(double e, const Parameter* p) const {
  return math::power_law_dnde(e, p[0].value, p[1].value, p[2].value);
}
std::vector<double> PowerLawSpectralModel::energy_flux(const std::vector<double>& e_lo,
                                                       const std::vector<double>& e_hi) const {
  const double index = parameters_[0].value, amplitude = parameters_[1].value,
               reference = parameters_[2].value;
  return per_bin(e_lo, e_hi, type(), [&](double a, double b) {
    return math::power_law_energy_flux(amplitude, reference, index, a, b);
  });
}

// ---- PowerLaw2 ----------------------------------------------------------------------------------

PowerLaw2SpectralModel::PowerLaw2SpectralModel() {
  parameters_ = {param("amplitude", kDefaultAmplitude, kUnitFlux),
                 param("index", 2.0, kUnitDimensionless), param("emin", 0.1, kUnitEnergy, true),
                 param("emax", 100.0, kUnitEnergy, true)};
}
double PowerLaw2SpectralModel::evaluate(double e, const Parameter* p) const {
  return math::power_law2_dnde(e, p[0].value, p[1].value, p[2].value, p[3].value);
}

// ---- LogParabola --------------------------------------------------------------------------------

LogParabolaSpectralModel::LogParabolaSpectralModel() {
  parameters_ = {param("amplitude", kDefaultAmplitude, kUnitDnde),
                 param("reference", 10.0, kUnitEnergy, true),
                 param("alpha", 2.0, kUnitDimensionless), param("beta", 1.0, kUnitDimensionless)};
}
double LogParabolaSpectralModel::evaluate(double e, const Parameter* p) const {
  return math::log_parabola_dnde(e, p[0].value, p[1].value, p[2].value, p[3].value);
}

// ---- ExpCutoffPowerLaw --------------------------------------------------------------------------

ExpCutoffPowerLawSpectralModel::ExpCutoffPowerLawSpectralModel() {
  parameters_ = {
      param("index", 1.5, kUnitDimensionless), param("amplitude", kDefaultAmplitude, kUnitDnde),
      param("reference", 1.0, kUnitEnergy, true), param("lambda_", 0.1, kUnitInverseEnergy),
      param("alpha", 1.0, kUnitDimensionless, true)};
}
double ExpCutoffPowerLawSpectralModel::evaluate(double e, const Parameter* p) const {
  return math::exp_cutoff_power_law_dnde(e, p[0].value, p[1].value, p[2].value, p[3].value,
                                         p[4].value);
}

ExpCutoffPowerLaw3FGLSpectralModel::ExpCutoffPowerLaw3FGLSpectralModel() {
  parameters_ = {param("index", 1.5, kUnitDimensionless),
                 param("amplitude", kDefaultAmplitude, kUnitDnde),
                 param("reference", 1.0, kUnitEnergy, true), param("ecut", 10.0, kUnitEnergy)};
}
double ExpCutoffPowerLaw3FGLSpectralModel::evaluate(double e, const Parameter* p) const {
  return math::exp_cutoff_power_law_3fgl_dnde(e, p[0].value, p[1].value, p[2].value, p[3].value);
}

// ---- Super-exponential cutoffs ------------------------------------------------------------------

SuperExpCutoffPowerLaw3FGLSpectralModel::SuperExpCutoffPowerLaw3FGLSpectralModel() {
  parameters_ = {param("amplitude", kDefaultAmplitude, kUnitDnde),
                 param("reference", 1.0, kUnitEnergy, true), param("ecut", 10.0, kUnitEnergy),
                 param("index_1", 1.5, kUnitDimensionless),
                 param("index_2", 2.0, kUnitDimensionless)};
}
double SuperExpCutoffPowerLaw3FGLSpectralModel::evaluate(double e, const Parameter* p) const {
  return math::super_exp_cutoff_3fgl_dnde(e, p[0].value, p[1].value, p[2].value, p[3].value,
                                          p[4].value);
}

SuperExpCutoffPowerLaw4FGLSpectralModel::SuperExpCutoffPowerLaw4FGLSpectralModel() {
  parameters_ = {
      param("amplitude", kDefaultAmplitude, kUnitDnde), param("reference", 1.0, kUnitEnergy, true),
      param("expfactor", 1e-14, kUnitDimensionless), param("index_1", 1.5, kUnitDimensionless),
      param("index_2", 2.0, kUnitDimensionless)};
}
double SuperExpCutoffPowerLaw4FGLSpectralModel::evaluate(double e, const Parameter* p) const {
  return math::super_exp_cutoff_4fgl_dnde(e, p[0].value, p[1].value, p[2].value, p[3].value,
                                          p[4].value);
}

SuperExpCutoffPowerLaw4FGLDR3SpectralModel::SuperExpCutoffPowerLaw4FGLDR3SpectralModel() {
  parameters_ = {
      param("amplitude", kDefaultAmplitude, kUnitDnde), param("reference", 1.0, kUnitEnergy, true),
      param("expfactor", 1e-2, kUnitDimensionless), param("index_1", 1.5, kUnitDimensionless),
      param("index_2", 2.0, kUnitDimensionless)};
}
double SuperExpCutoffPowerLaw4FGLDR3SpectralModel::evaluate(double e, const Parameter* p) const {
  return math::super_exp_cutoff_4fgl_dr3_dnde(e, p[0].value, p[1].value, p[2].value, p[3].value,
                                              p[4].value);
}

// ---- Broken power laws --------------------------------------------------------------------------

BrokenPowerLawSpectralModel::BrokenPowerLawSpectralModel() {
  parameters_ = {param("index1", 2.0, kUnitDimensionless), param("index2", 2.0, kUnitDimensionless),
                 param("amplitude", kDefaultAmplitude, kUnitDnde),
                 param("ebreak", 1.0, kUnitEnergy)};
}
double BrokenPowerLawSpectralModel::evaluate(double e, const Parameter* p) const {
  return math::broken_power_law_dnde(e, p[0].value, p[1].value, p[2].value, p[3].value);
}

SmoothBrokenPowerLawSpectralModel::SmoothBrokenPowerLawSpectralModel() {
  parameters_ = {param("index1", 2.0, kUnitDimensionless),
                 param("index2", 2.0, kUnitDimensionless),
                 param("amplitude", kDefaultAmplitude, kUnitDnde),
                 param("ebreak", 1.0, kUnitEnergy),
                 param("reference", 1.0, kUnitEnergy, true),
                 param("beta", 1.0, kUnitDimensionless, true)};
}
double SmoothBrokenPowerLawSpectralModel::evaluate(double e, const Parameter* p) const {
  return math::smooth_broken_power_law_dnde(e, p[0].value, p[1].value, p[2].value, p[3].value,
                                            p[4].value, p[5].value);
}

// ---- Constant, PowerLawNorm ---------------------------------------------------------------------

ConstantSpectralModel::ConstantSpectralModel() {
  parameters_ = {param("const", kDefaultAmplitude, kUnitDnde)};
}
double ConstantSpectralModel::evaluate(double, const Parameter* p) const { return p[0].value; }

PowerLawNormSpectralModel::PowerLawNormSpectralModel() {
  parameters_ = {param("tilt", 0.0, kUnitDimensionless, true),
                 param("norm", 1.0, kUnitDimensionless),
                 param("reference", 1.0, kUnitEnergy, true)};
}
double PowerLawNormSpectralModel::evaluate(double e, const Parameter* p) const {
  // gammapy: norm * (E / reference)^(-tilt), the power-law formula with norm as amplitude.
  return math::power_law_dnde(e, p[0].value, p[1].value, p[2].value);
}
std::vector<double> PowerLawNormSpectralModel::energy_flux(const std::vector<double>& e_lo,
                                                           const std::vector<double>& e_hi) const {
  const double tilt = parameters_[0].value, norm = parameters_[1].value,
               reference = parameters_[2].value;
  return per_bin(e_lo, e_hi, type(), [&](double a, double b) {
    return math::power_law_energy_flux(norm, reference, tilt, a, b);
  });
}

// ---- Template -----------------------------------------------------------------------------------

TemplateSpectralModel::TemplateSpectralModel(std::vector<double> energies,
                                             std::vector<double> values_dnde,
                                             const std::string& energy_unit)
    : energies_(std::move(energies)), values_(std::move(values_dnde)), energy_unit_(energy_unit) {
  if (energies_.empty() || energies_.size() != values_.size())
    throw std::invalid_argument("TemplateSpectralModel: needs as many values (" +
                                std::to_string(values_.size()) + ") as energies (" +
                                std::to_string(energies_.size()) + "), at least one");
  for (std::size_t i = 0; i < energies_.size(); ++i) {
    if (!(energies_[i] > 0.0) || !std::isfinite(energies_[i]) ||
        (i > 0 && !(energies_[i] > energies_[i - 1])))
      throw std::invalid_argument(
          "TemplateSpectralModel: energies must be finite, > 0 and "
          "strictly ascending (node " +
          std::to_string(i) + ")");
    if (!(values_[i] >= 0.0) || !std::isfinite(values_[i]))
      throw std::invalid_argument("TemplateSpectralModel: values must be finite and >= 0 (node " +
                                  std::to_string(i) + ")");
  }
  tev_to_node_unit_ = unit_conversion_factor(kUnitEnergy, energy_unit_);
  // gammapy interpolates log(values clipped at the smallest positive double) in log(energy).
  for (std::size_t i = 0; i < energies_.size(); ++i) {
    log_energies_.push_back(std::log(energies_[i]));
    log_values_.push_back(std::log(math::dmax(values_[i], math::kSmallestPositive)));
  }
}
double TemplateSpectralModel::evaluate(double e, const Parameter*) const {
  return math::template_dnde(e * tev_to_node_unit_, log_energies_.data(), log_values_.data(),
                             static_cast<int>(log_energies_.size()));
}

// ---- registry and factories ---------------------------------------------------------------------

namespace {

struct TypeEntry {
  const char* tag;
  const char* alias;
  std::unique_ptr<SpectralModel> (*make)();
};

template <class M>
std::unique_ptr<SpectralModel> make_model() {
  return std::make_unique<M>();
}

constexpr TypeEntry kTypes[] = {
    {"PowerLawSpectralModel", "pl", make_model<PowerLawSpectralModel>},
    {"PowerLaw2SpectralModel", "pl-2", make_model<PowerLaw2SpectralModel>},
    {"LogParabolaSpectralModel", "lp", make_model<LogParabolaSpectralModel>},
    {"ExpCutoffPowerLawSpectralModel", "ecpl", make_model<ExpCutoffPowerLawSpectralModel>},
    {"ExpCutoffPowerLaw3FGLSpectralModel", "ecpl-3fgl",
     make_model<ExpCutoffPowerLaw3FGLSpectralModel>},
    {"SuperExpCutoffPowerLaw3FGLSpectralModel", "secpl-3fgl",
     make_model<SuperExpCutoffPowerLaw3FGLSpectralModel>},
    {"SuperExpCutoffPowerLaw4FGLSpectralModel", "secpl-4fgl",
     make_model<SuperExpCutoffPowerLaw4FGLSpectralModel>},
    {"SuperExpCutoffPowerLaw4FGLDR3SpectralModel", "secpl-4fgl-dr3",
     make_model<SuperExpCutoffPowerLaw4FGLDR3SpectralModel>},
    {"BrokenPowerLawSpectralModel", "bpl", make_model<BrokenPowerLawSpectralModel>},
    {"SmoothBrokenPowerLawSpectralModel", "sbpl", make_model<SmoothBrokenPowerLawSpectralModel>},
    {"ConstantSpectralModel", "const", make_model<ConstantSpectralModel>},
    {"PowerLawNormSpectralModel", "pl-norm", make_model<PowerLawNormSpectralModel>},
    {"TemplateSpectralModel", "template", nullptr},
    {"CompoundSpectralModel", "compound", nullptr},
    {"EBLAbsorptionNormSpectralModel", "ebl-norm", nullptr},
};

}  // namespace

std::string canonical_spectral_type(const std::string& type_or_alias) {
  for (const auto& t : kTypes)
    if (type_or_alias == t.tag || type_or_alias == t.alias) return t.tag;
  return "";
}

std::vector<std::string> supported_spectral_types() {
  std::vector<std::string> out;
  for (const auto& t : kTypes) out.emplace_back(t.tag);
  return out;
}

std::unique_ptr<SpectralModel> make_default_spectral_model(const std::string& type_or_alias) {
  for (const auto& t : kTypes) {
    if (type_or_alias != t.tag && type_or_alias != t.alias) continue;
    if (!t.make)
      throw std::invalid_argument(std::string(t.tag) +
                                  " has no default (it needs a table or parts)");
    return t.make();
  }
  throw std::invalid_argument("unknown spectral model type '" + type_or_alias + "'");
}

namespace {
// Sets parameters by name on a default model (names checked by SpectralModel::parameter).
template <class M>
std::unique_ptr<SpectralModel> with(std::initializer_list<std::pair<const char*, double>> values) {
  auto m = std::make_unique<M>();
  for (const auto& [name, value] : values) m->parameter(name).value = value;
  return m;
}
}  // namespace

std::unique_ptr<SpectralModel> make_power_law(double amplitude, double index, double reference) {
  return with<PowerLawSpectralModel>(
      {{"amplitude", amplitude}, {"index", index}, {"reference", reference}});
}
std::unique_ptr<SpectralModel> make_power_law2(double amplitude, double index, double emin,
                                               double emax) {
  return with<PowerLaw2SpectralModel>(
      {{"amplitude", amplitude}, {"index", index}, {"emin", emin}, {"emax", emax}});
}
std::unique_ptr<SpectralModel> make_log_parabola(double amplitude, double alpha, double beta,
                                                 double reference) {
  return with<LogParabolaSpectralModel>(
      {{"amplitude", amplitude}, {"alpha", alpha}, {"beta", beta}, {"reference", reference}});
}
std::unique_ptr<SpectralModel> make_exp_cutoff_power_law(double amplitude, double index,
                                                         double lambda, double reference,
                                                         double alpha) {
  return with<ExpCutoffPowerLawSpectralModel>({{"amplitude", amplitude},
                                               {"index", index},
                                               {"lambda_", lambda},
                                               {"reference", reference},
                                               {"alpha", alpha}});
}
std::unique_ptr<SpectralModel> make_super_exp_cutoff_4fgl(double amplitude, double index_1,
                                                          double index_2, double expfactor,
                                                          double reference) {
  return with<SuperExpCutoffPowerLaw4FGLSpectralModel>({{"amplitude", amplitude},
                                                        {"index_1", index_1},
                                                        {"index_2", index_2},
                                                        {"expfactor", expfactor},
                                                        {"reference", reference}});
}
std::unique_ptr<SpectralModel> make_super_exp_cutoff_4fgl_dr3(double amplitude, double index_1,
                                                              double index_2, double expfactor,
                                                              double reference) {
  return with<SuperExpCutoffPowerLaw4FGLDR3SpectralModel>({{"amplitude", amplitude},
                                                           {"index_1", index_1},
                                                           {"index_2", index_2},
                                                           {"expfactor", expfactor},
                                                           {"reference", reference}});
}
std::unique_ptr<SpectralModel> make_broken_power_law(double amplitude, double index1, double index2,
                                                     double ebreak) {
  return with<BrokenPowerLawSpectralModel>(
      {{"amplitude", amplitude}, {"index1", index1}, {"index2", index2}, {"ebreak", ebreak}});
}
std::unique_ptr<SpectralModel> make_constant(double value) {
  return with<ConstantSpectralModel>({{"const", value}});
}
std::unique_ptr<SpectralModel> make_template(std::vector<double> energies_tev,
                                             std::vector<double> values_dnde) {
  return std::make_unique<TemplateSpectralModel>(std::move(energies_tev), std::move(values_dnde));
}
std::unique_ptr<SpectralModel> make_power_law_norm(double norm, double tilt, double reference) {
  return with<PowerLawNormSpectralModel>(
      {{"norm", norm}, {"tilt", tilt}, {"reference", reference}});
}

// ---- Compound -----------------------------------------------------------------------------------

CompoundSpectralModel::CompoundSpectralModel(std::unique_ptr<SpectralModel> model1,
                                             std::unique_ptr<SpectralModel> model2, Operator op)
    : model1_(std::move(model1)), model2_(std::move(model2)), op_(op) {
  if (!model1_ || !model2_)
    throw std::invalid_argument("CompoundSpectralModel: both parts are required");
  parameters_ = model1_->parameters();
  n1_ = parameters_.size();
  for (const auto& p : model2_->parameters()) parameters_.push_back(p);
}

CompoundSpectralModel::CompoundSpectralModel(const CompoundSpectralModel& other)
    : SpectralModel(other),
      model1_(other.model1_->clone()),
      model2_(other.model2_->clone()),
      op_(other.op_),
      n1_(other.n1_) {}

double CompoundSpectralModel::evaluate(double e, const Parameter* p) const {
  const double a = model1_->evaluate(e, p);
  const double b = model2_->evaluate(e, p + n1_);
  switch (op_) {
    case Operator::kAdd:
      return a + b;
    case Operator::kSub:
      return a - b;
    case Operator::kMul:
      return a * b;
    case Operator::kTrueDiv:
      return a / b;
  }
  return math::kNaN;
}

bool CompoundSpectralModel::is_norm() const {
  if (op_ == Operator::kMul || op_ == Operator::kTrueDiv)
    return model1_->is_norm() && model2_->is_norm();
  return model1_->is_norm();
}

std::string CompoundSpectralModel::operator_name(Operator op) {
  switch (op) {
    case Operator::kAdd:
      return "add";
    case Operator::kSub:
      return "sub";
    case Operator::kMul:
      return "mul";
    case Operator::kTrueDiv:
      return "truediv";
  }
  return "";
}

CompoundSpectralModel::Operator CompoundSpectralModel::parse_operator(const std::string& name) {
  if (name == "add") return Operator::kAdd;
  if (name == "sub") return Operator::kSub;
  if (name == "mul") return Operator::kMul;
  if (name == "truediv") return Operator::kTrueDiv;
  throw std::invalid_argument("unknown compound operator '" + name +
                              "' (expected add, sub, mul or truediv)");
}

std::unique_ptr<SpectralModel> CompoundSpectralModel::part(int which) const {
  if (which != 1 && which != 2)
    throw std::invalid_argument("CompoundSpectralModel::part: which must be 1 or 2");
  auto m = (which == 1 ? model1_ : model2_)->clone();
  const std::size_t offset = which == 1 ? 0 : n1_;
  for (std::size_t i = 0; i < m->parameters().size(); ++i)
    m->parameters()[i] = parameters_[offset + i];
  return m;
}

// ---- Scale --------------------------------------------------------------------------------------

ScaleSpectralModel::ScaleSpectralModel(std::unique_ptr<SpectralModel> model, double norm)
    : model_(std::move(model)) {
  if (!model_) throw std::invalid_argument("ScaleSpectralModel: a model to scale is required");
  parameters_ = {param("norm", norm, kUnitDimensionless)};
}

ScaleSpectralModel::ScaleSpectralModel(const ScaleSpectralModel& other)
    : SpectralModel(other), model_(other.model_->clone()) {}

double ScaleSpectralModel::evaluate(double e, const Parameter* p) const {
  return p[0].value * model_->dnde(e);
}

std::vector<double> ScaleSpectralModel::integral(const std::vector<double>& e_lo,
                                                 const std::vector<double>& e_hi) const {
  auto out = model_->integral(e_lo, e_hi);
  for (double& v : out) v *= parameters_[0].value;
  return out;
}

}  // namespace fluxpoints::models
