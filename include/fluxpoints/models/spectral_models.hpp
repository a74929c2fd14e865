// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// The concrete spectral models (gammapy's type tags, parameter names, order, units and defaults)
// and factories to build them in code. Parameter values are in internal units.

#include <memory>
#include <string>
#include <vector>

#include "fluxpoints/models/spectral_model.hpp"

namespace fluxpoints::models {

// Internal unit strings, written as gammapy/astropy read them.
inline constexpr const char* kUnitEnergy = "TeV";
inline constexpr const char* kUnitDnde = "cm-2 s-1 TeV-1";
inline constexpr const char* kUnitFlux = "cm-2 s-1";
inline constexpr const char* kUnitInverseEnergy = "TeV-1";
inline constexpr const char* kUnitDimensionless = "";

// Gives a model class its clone().
template <class Derived>
class ClonableSpectralModel : public SpectralModel {
 public:
  std::unique_ptr<SpectralModel> clone() const override {
    return std::make_unique<Derived>(static_cast<const Derived&>(*this));
  }
};

// A model whose dnde is a closed formula of its parameters: closed_form() describes it as plain
// data of kind Kind, with the parameter values in the order of parameters().
template <class Derived, math::ClosedFormKind Kind>
class ClosedFormSpectralModel : public ClonableSpectralModel<Derived> {
 public:
  std::optional<math::ClosedFormSpectrum> closed_form() const override {
    math::ClosedFormSpectrum m;
    m.kind = Kind;
    const auto& params = this->parameters_;
    for (std::size_t k = 0; k < params.size() && k < math::kClosedFormMaxParameters; ++k)
      m.p[k] = params[k].value;
    return m;
  }
};

// Models whose dnde is a closed formula of their parameters, listed in gammapy's order. Integral
// and energy flux use gammapy's log-log rule unless the type is integrated analytically
// (math::has_analytic_integral; PowerLaw and PowerLawNorm also have an analytic energy flux).
// phi0 (E/E0)^-index; parameters index, amplitude, reference. Analytic integral and energy flux.
class PowerLawSpectralModel final
    : public ClosedFormSpectralModel<PowerLawSpectralModel, math::ClosedFormKind::power_law> {
 public:
  PowerLawSpectralModel();
  std::string type() const override { return "PowerLawSpectralModel"; }
  double evaluate(double energy_tev, const Parameter* params) const override;
  std::vector<double> energy_flux(const std::vector<double>& e_lo,
                                  const std::vector<double>& e_hi) const override;
};

// amplitude = integral flux (cm-2 s-1) in [emin, emax]; parameters amplitude, index, emin, emax.
// Analytic integral; energy flux numeric (as gammapy).
class PowerLaw2SpectralModel final
    : public ClosedFormSpectralModel<PowerLaw2SpectralModel, math::ClosedFormKind::power_law2> {
 public:
  PowerLaw2SpectralModel();
  std::string type() const override { return "PowerLaw2SpectralModel"; }
  double evaluate(double energy_tev, const Parameter* params) const override;
};

// amplitude, reference (10 TeV default), alpha, beta; natural log.
class LogParabolaSpectralModel final
    : public ClosedFormSpectralModel<LogParabolaSpectralModel, math::ClosedFormKind::log_parabola> {
 public:
  LogParabolaSpectralModel();
  std::string type() const override { return "LogParabolaSpectralModel"; }
  double evaluate(double energy_tev, const Parameter* params) const override;
};

// index, amplitude, reference, lambda_ (TeV-1), alpha.
class ExpCutoffPowerLawSpectralModel final
    : public ClosedFormSpectralModel<ExpCutoffPowerLawSpectralModel,
                                     math::ClosedFormKind::exp_cutoff_power_law> {
 public:
  ExpCutoffPowerLawSpectralModel();
  std::string type() const override { return "ExpCutoffPowerLawSpectralModel"; }
  double evaluate(double energy_tev, const Parameter* params) const override;
};

// index, amplitude, reference, ecut.
class ExpCutoffPowerLaw3FGLSpectralModel final
    : public ClosedFormSpectralModel<ExpCutoffPowerLaw3FGLSpectralModel,
                                     math::ClosedFormKind::exp_cutoff_power_law_3fgl> {
 public:
  ExpCutoffPowerLaw3FGLSpectralModel();
  std::string type() const override { return "ExpCutoffPowerLaw3FGLSpectralModel"; }
  double evaluate(double energy_tev, const Parameter* params) const override;
};

// amplitude, reference, ecut, index_1, index_2.
class SuperExpCutoffPowerLaw3FGLSpectralModel final
    : public ClosedFormSpectralModel<SuperExpCutoffPowerLaw3FGLSpectralModel,
                                     math::ClosedFormKind::super_exp_cutoff_3fgl> {
 public:
  SuperExpCutoffPowerLaw3FGLSpectralModel();
  std::string type() const override { return "SuperExpCutoffPowerLaw3FGLSpectralModel"; }
  double evaluate(double energy_tev, const Parameter* params) const override;
};

// amplitude, reference, expfactor (MeV^-index_2, written dimensionless), index_1, index_2.
class SuperExpCutoffPowerLaw4FGLSpectralModel final
    : public ClosedFormSpectralModel<SuperExpCutoffPowerLaw4FGLSpectralModel,
                                     math::ClosedFormKind::super_exp_cutoff_4fgl> {
 public:
  SuperExpCutoffPowerLaw4FGLSpectralModel();
  std::string type() const override { return "SuperExpCutoffPowerLaw4FGLSpectralModel"; }
  double evaluate(double energy_tev, const Parameter* params) const override;
};

// amplitude, reference, expfactor, index_1, index_2.
class SuperExpCutoffPowerLaw4FGLDR3SpectralModel final
    : public ClosedFormSpectralModel<SuperExpCutoffPowerLaw4FGLDR3SpectralModel,
                                     math::ClosedFormKind::super_exp_cutoff_4fgl_dr3> {
 public:
  SuperExpCutoffPowerLaw4FGLDR3SpectralModel();
  std::string type() const override { return "SuperExpCutoffPowerLaw4FGLDR3SpectralModel"; }
  double evaluate(double energy_tev, const Parameter* params) const override;
};

// index1, index2, amplitude, ebreak.
class BrokenPowerLawSpectralModel final
    : public ClosedFormSpectralModel<BrokenPowerLawSpectralModel,
                                     math::ClosedFormKind::broken_power_law> {
 public:
  BrokenPowerLawSpectralModel();
  std::string type() const override { return "BrokenPowerLawSpectralModel"; }
  double evaluate(double energy_tev, const Parameter* params) const override;
};

// index1, index2, amplitude, ebreak, reference, beta.
class SmoothBrokenPowerLawSpectralModel final
    : public ClosedFormSpectralModel<SmoothBrokenPowerLawSpectralModel,
                                     math::ClosedFormKind::smooth_broken_power_law> {
 public:
  SmoothBrokenPowerLawSpectralModel();
  std::string type() const override { return "SmoothBrokenPowerLawSpectralModel"; }
  double evaluate(double energy_tev, const Parameter* params) const override;
};

// const.
class ConstantSpectralModel final
    : public ClosedFormSpectralModel<ConstantSpectralModel, math::ClosedFormKind::constant> {
 public:
  ConstantSpectralModel();
  std::string type() const override { return "ConstantSpectralModel"; }
  double evaluate(double energy_tev, const Parameter* params) const override;
};

// norm (dimensionless), tilt, reference: a background/normalisation factor, not a source
// spectrum. Analytic integral and energy flux.
class PowerLawNormSpectralModel final
    : public ClosedFormSpectralModel<PowerLawNormSpectralModel,
                                     math::ClosedFormKind::power_law_norm> {
 public:
  PowerLawNormSpectralModel();
  std::string type() const override { return "PowerLawNormSpectralModel"; }
  double evaluate(double energy_tev, const Parameter* params) const override;
  bool is_norm() const override { return true; }
  std::vector<double> energy_flux(const std::vector<double>& e_lo,
                                  const std::vector<double>& e_hi) const override;
};

// Tabulated spectrum, no parameters: log-log linear interpolation and extrapolation, clipped >= 0.
class TemplateSpectralModel final : public ClonableSpectralModel<TemplateSpectralModel> {
 public:
  // energies (in energy_unit, strictly ascending, > 0) and values (cm-2 s-1 TeV-1, >= 0), same
  // length >= 1. The nodes stay in their unit, as in gammapy, which interpolates in ln(E in the
  // nodes' unit). Throws std::invalid_argument otherwise.
  TemplateSpectralModel(std::vector<double> energies, std::vector<double> values_dnde,
                        const std::string& energy_unit = "TeV");
  std::string type() const override { return "TemplateSpectralModel"; }
  double evaluate(double energy_tev, const Parameter* params) const override;
  const std::vector<double>& energies() const { return energies_; }  // in energy_unit()
  const std::string& energy_unit() const { return energy_unit_; }
  const std::vector<double>& values() const { return values_; }

 private:
  std::vector<double> energies_, values_, log_energies_, log_values_;
  std::string energy_unit_;
  double tev_to_node_unit_ = 1.0;
};

// Arithmetic combination of two models (gammapy's CompoundSpectralModel, operator add, sub, mul
// or truediv). Its parameters are model1's followed by model2's (names may repeat); the parts
// only provide the formulas. Integrals are numeric, as in gammapy.
class CompoundSpectralModel final : public SpectralModel {
 public:
  enum class Operator { kAdd, kSub, kMul, kTrueDiv };
  CompoundSpectralModel(std::unique_ptr<SpectralModel> model1,
                        std::unique_ptr<SpectralModel> model2, Operator op);
  CompoundSpectralModel(const CompoundSpectralModel& other);
  std::string type() const override { return "CompoundSpectralModel"; }
  std::unique_ptr<SpectralModel> clone() const override {
    return std::make_unique<CompoundSpectralModel>(*this);
  }
  double evaluate(double energy_tev, const Parameter* params) const override;
  // Dimensionless when both parts are (mul/truediv) or the parts are (add/sub).
  bool is_norm() const override;
  Operator op() const { return op_; }
  // gammapy's operator name: "add", "sub", "mul", "truediv"; parse throws std::invalid_argument.
  static std::string operator_name(Operator op);
  static Operator parse_operator(const std::string& name);
  // Part 1 or 2 as a standalone model carrying the compound's current parameter values.
  std::unique_ptr<SpectralModel> part(int which) const;

 private:
  std::unique_ptr<SpectralModel> model1_, model2_;
  Operator op_;
  std::size_t n1_ = 0;  // parameters of model1 at the front of parameters_
};

// norm x another model (gammapy's ScaleSpectralModel, what a flux estimator fits): parameter
// "norm" (dimensionless, default 1). As gammapy, the integral forwards to the inner model's
// (analytic where it is), the energy flux is numeric.
class ScaleSpectralModel final : public SpectralModel {
 public:
  explicit ScaleSpectralModel(std::unique_ptr<SpectralModel> model, double norm = 1.0);
  ScaleSpectralModel(const ScaleSpectralModel& other);
  std::string type() const override { return "ScaleSpectralModel"; }
  std::unique_ptr<SpectralModel> clone() const override {
    return std::make_unique<ScaleSpectralModel>(*this);
  }
  double evaluate(double energy_tev, const Parameter* params) const override;
  std::vector<double> integral(const std::vector<double>& e_lo,
                               const std::vector<double>& e_hi) const override;
  bool is_norm() const override { return model_->is_norm(); }
  const SpectralModel& model() const { return *model_; }

 private:
  std::unique_ptr<SpectralModel> model_;
};

// EBL absorption factor (gammapy's EBLAbsorptionNormSpectralModel): a table of absorption
// factors over (redshift, energy), interpolated linearly in redshift and ln E with ln values,
// extrapolated, clipped to [0, 1] and raised to alpha_norm. Parameters redshift, alpha_norm
// (both frozen by default). A dimensionless factor: use it in a compound "mul".
class EBLAbsorptionNormSpectralModel final
    : public ClonableSpectralModel<EBLAbsorptionNormSpectralModel> {
 public:
  // energies (ascending, in energy_unit: kept as given, as gammapy interpolates in ln(E in the
  // nodes' unit)), redshifts (ascending), values[i_redshift * n_energy + i_energy].
  // Throws std::invalid_argument for inconsistent shapes or unsorted nodes.
  EBLAbsorptionNormSpectralModel(std::vector<double> energies, std::vector<double> redshifts,
                                 std::vector<double> values, double redshift = 0.1,
                                 double alpha_norm = 1.0, const std::string& energy_unit = "TeV");
  // Reads an XSPEC-style table (HDUs PARAMETERS, ENERGIES in keV, SPECTRA/INTPSPEC) as gammapy's
  // EBLAbsorptionNormSpectralModel.read. Throws std::runtime_error naming the file and HDU.
  static std::unique_ptr<EBLAbsorptionNormSpectralModel> read(const std::string& path,
                                                              double redshift = 0.1,
                                                              double alpha_norm = 1.0);
  std::string type() const override { return "EBLAbsorptionNormSpectralModel"; }
  double evaluate(double energy_tev, const Parameter* params) const override;
  bool is_norm() const override { return true; }
  const std::vector<double>& energies() const { return energies_; }  // in energy_unit()
  const std::string& energy_unit() const { return energy_unit_; }
  const std::vector<double>& redshifts() const { return redshifts_; }
  const std::vector<double>& values() const { return values_; }
  std::string filename;  // set when read from a file: written back as `filename:`

 private:
  std::vector<double> energies_, redshifts_, values_, log_energies_, log_values_;
  std::string energy_unit_;
  double tev_to_node_unit_ = 1.0;
};

// gammapy type tag for a tag or an alias ("pl" -> "PowerLawSpectralModel"); "" if unknown.
std::string canonical_spectral_type(const std::string& type_or_alias);
// Every full type tag this library reads (for error messages).
std::vector<std::string> supported_spectral_types();
// A model of that type (tag or alias) with gammapy's default parameters; throws
// std::invalid_argument for unknown types and for the template, compound and EBL models.
std::unique_ptr<SpectralModel> make_default_spectral_model(const std::string& type_or_alias);

// Factories, all values in internal units (energies TeV, dnde cm-2 s-1 TeV-1, flux cm-2 s-1).
std::unique_ptr<SpectralModel> make_power_law(double amplitude, double index,
                                              double reference = 1.0);
std::unique_ptr<SpectralModel> make_power_law2(double amplitude, double index, double emin = 0.1,
                                               double emax = 100.0);
std::unique_ptr<SpectralModel> make_log_parabola(double amplitude, double alpha, double beta,
                                                 double reference = 10.0);
std::unique_ptr<SpectralModel> make_exp_cutoff_power_law(double amplitude, double index,
                                                         double lambda, double reference = 1.0,
                                                         double alpha = 1.0);
std::unique_ptr<SpectralModel> make_super_exp_cutoff_4fgl(double amplitude, double index_1,
                                                          double index_2, double expfactor,
                                                          double reference = 1.0);
std::unique_ptr<SpectralModel> make_super_exp_cutoff_4fgl_dr3(double amplitude, double index_1,
                                                              double index_2, double expfactor,
                                                              double reference = 1.0);
std::unique_ptr<SpectralModel> make_broken_power_law(double amplitude, double index1, double index2,
                                                     double ebreak);
std::unique_ptr<SpectralModel> make_constant(double value);
std::unique_ptr<SpectralModel> make_template(std::vector<double> energies_tev,
                                             std::vector<double> values_dnde);
std::unique_ptr<SpectralModel> make_power_law_norm(double norm = 1.0, double tilt = 0.0,
                                                   double reference = 1.0);

// The log-log trapezoid integration of gammapy's integrate_spectrum (ndecade = 100) of f(E)
// (energy_flux = false) or E f(E) (true) over every bin, with one number of points shared by the
// whole vector. Throws std::invalid_argument for mismatched sizes or bins that are
// not 0 < e_lo <= e_hi.
std::vector<double> integrate_spectrum_loglog(const SpectralModel& model,
                                              const std::vector<double>& e_lo,
                                              const std::vector<double>& e_hi, bool energy_flux);

// Reference quantities of a model on a log energy axis, exactly as gammapy's
// reference_fluxes(MapAxis.from_edges(edges, interp="log")): e_ref = log bin centres of the given
// edges, e_min/e_max = the axis' own edges (log_axis_edge, last-bit different from `edges`),
// ref_dnde = phi(e_ref), ref_e2dnde = phi(e_ref) e_ref^2, ref_flux and ref_eflux integrated over
// [e_min, e_max] in one call. Throws std::invalid_argument unless edges are > 0 and ascending.
struct ReferenceFluxes {
  std::vector<double> e_ref, e_min, e_max;  // TeV
  std::vector<double> ref_dnde;             // cm-2 s-1 TeV-1
  std::vector<double> ref_e2dnde;           // TeV cm-2 s-1
  std::vector<double> ref_flux;             // cm-2 s-1
  std::vector<double> ref_eflux;            // TeV cm-2 s-1
};
ReferenceFluxes reference_fluxes(const SpectralModel& model, const std::vector<double>& edges);
// The same on bins used exactly as given (no MapAxis edge recomputation): e_ref = log bin centre
// of [e_lo, e_hi], integrals over [e_lo, e_hi]. Equal to the above to ~1e-16 relative.
ReferenceFluxes reference_fluxes(const SpectralModel& model, const std::vector<double>& e_lo,
                                 const std::vector<double>& e_hi);

// The edges of gammapy's MapAxis.from_edges(edges, interp="log") (see math::log_axis_edge).
std::vector<double> gammapy_log_axis_edges(const std::vector<double>& edges);

}  // namespace fluxpoints::models
