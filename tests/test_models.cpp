// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// Spectral models against gammapy 2.1: evaluation, integral and energy flux of every model type,
// golden values from data/golden/make_models_golden.py (models_golden.json).
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <string>
#include <vector>

#include "fluxpoints/math/spectral_integration.hpp"
#include "fluxpoints/models/model_yaml.hpp"
#include "fluxpoints/models/spectral_models.hpp"

namespace fm = fluxpoints::models;

namespace {

// Same formulas in the same operation order as gammapy: only last-bit differences of libm/SIMD
// pow/exp/log and of numpy's pairwise summation remain.
constexpr double kSameAlgorithmRelTol = 1e-12;

const std::string kGoldenPath =
    std::string(FLUXPOINTS_SOURCE_DIR) + "/data/golden/models_golden.json";

std::vector<double> doubles(const YAML::Node& seq) {
  std::vector<double> out;
  for (const auto& n : seq) out.push_back(n.as<double>());
  return out;
}

// Values this small only occur deep in EBL absorption (ln value ~ -230 and below, table entries of
// 0 interpolated as ln(1e-308)): there a last-bit difference in ln E is amplified by the large
// log-value slopes, so agreement is looser; such fluxes are physically irrelevant.
constexpr double kNegligibleValue = 1e-100;
constexpr double kDeepAbsorptionRelTol = 1e-9;

// |got - want| <= tol |want|, with NaN == NaN and inf == inf.
::testing::AssertionResult close_rel(double got, double want, double tol) {
  if (std::abs(want) < kNegligibleValue) tol = std::max(tol, kDeepAbsorptionRelTol);
  if (std::isnan(want) && std::isnan(got)) return ::testing::AssertionSuccess();
  if (std::isinf(want) && got == want) return ::testing::AssertionSuccess();
  if (std::abs(got - want) <= tol * std::abs(want)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "got " << got << ", want " << want << " (rel diff "
                                       << (got - want) / want << ", tol " << tol << ")";
}

const YAML::Node& golden() {
  static const YAML::Node node = YAML::LoadFile(kGoldenPath);
  return node;
}

// The model of a golden case; its EBL table file lies next to the golden file.
std::unique_ptr<fm::SpectralModel> case_model(const YAML::Node& c) {
  return fm::spectral_model_from_yaml(c["spectral"], "golden case " + c["label"].as<std::string>(),
                                      std::string(FLUXPOINTS_SOURCE_DIR) + "/data/golden");
}

void collect_types(const YAML::Node& spectral, std::vector<std::string>& out) {
  out.push_back(spectral["type"].as<std::string>());
  for (const char* part : {"model1", "model2"})
    if (spectral[part]) collect_types(spectral[part], out);
}

}  // namespace

TEST(Models, GoldenFileHasEveryModelType) {
  std::vector<std::string> seen;
  for (const auto& c : golden()["cases"]) collect_types(c["spectral"], seen);
  for (const auto& type : fm::supported_spectral_types()) {
    if (type == "PowerLawNormSpectralModel") continue;  // not a source spectrum
    EXPECT_NE(std::find(seen.begin(), seen.end(), type), seen.end()) << type << " not in golden";
  }
}

TEST(Models, DndeMatchesGammapy) {
  for (const auto& c : golden()["cases"]) {
    const std::string label = c["label"].as<std::string>();
    auto model = case_model(c);
    const auto e = doubles(golden()["energies"]);
    const auto want = doubles(c["dnde"]);
    const auto got = model->dnde(e);
    for (std::size_t i = 0; i < e.size(); ++i)
      EXPECT_TRUE(close_rel(got[i], want[i], kSameAlgorithmRelTol))
          << label << " at E = " << e[i] << " TeV";
  }
}

TEST(Models, IntegralAndEnergyFluxMatchGammapy) {
  for (const auto& c : golden()["cases"]) {
    const std::string label = c["label"].as<std::string>();
    auto model = case_model(c);
    for (const auto& kv : c["bins"]) {
      const std::string set = kv.first.as<std::string>();
      const YAML::Node& b = kv.second;
      const YAML::Node set_info = golden()["bin_sets"][set];
      const auto lo = doubles(set_info["e_lo"]), hi = doubles(set_info["e_hi"]);
      const auto flux = model->integral(lo, hi);
      const auto eflux = model->energy_flux(lo, hi);
      const auto want_flux = doubles(b["integral"]), want_eflux = doubles(b["energy_flux"]);
      ASSERT_EQ(flux.size(), want_flux.size());
      for (std::size_t i = 0; i < lo.size(); ++i) {
        EXPECT_TRUE(close_rel(flux[i], want_flux[i], kSameAlgorithmRelTol))
            << label << " integral, bins " << set << "[" << i << "]";
        EXPECT_TRUE(close_rel(eflux[i], want_eflux[i], kSameAlgorithmRelTol))
            << label << " energy flux, bins " << set << "[" << i << "]";
      }
    }
  }
}

TEST(Models, ReferenceFluxesMatchGammapy) {
  int checked = 0;
  for (const auto& c : golden()["cases"]) {
    const std::string label = c["label"].as<std::string>();
    auto model = case_model(c);
    for (const auto& kv : c["bins"]) {
      const YAML::Node want = kv.second["reference_fluxes"];
      if (!want) continue;
      const std::string set = kv.first.as<std::string>();
      const YAML::Node set_info = golden()["bin_sets"][set];
      const auto lo = doubles(set_info["e_lo"]), hi = doubles(set_info["e_hi"]);
      auto edges = lo;
      edges.push_back(hi.back());
      // gammapy's MapAxis edges: exp(log(e)) through scipy's interp1d, last-bit different.
      const auto axis = fm::gammapy_log_axis_edges(edges);
      const auto want_axis = doubles(set_info["axis_edges"]);
      for (std::size_t i = 0; i < axis.size(); ++i)
        EXPECT_TRUE(close_rel(axis[i], want_axis[i], kSameAlgorithmRelTol)) << "edge " << i;
      const auto r = fm::reference_fluxes(*model, edges);
      // The bins-as-given variant agrees to the last bits of the edges.
      constexpr double kAxisEdgeRoundoffRelTol = 1e-13;  // a few ulp of E, times |d ln phi/d ln E|
      const auto plain = fm::reference_fluxes(*model, lo, hi);
      for (std::size_t i = 0; i < plain.ref_flux.size(); ++i)
        EXPECT_TRUE(close_rel(plain.ref_flux[i], r.ref_flux[i], kAxisEdgeRoundoffRelTol)) << label;
      const auto want_e_ref = doubles(set_info["e_ref"]);
      ASSERT_EQ(r.e_ref.size(), want_e_ref.size());
      for (std::size_t i = 0; i < want_e_ref.size(); ++i)
        EXPECT_TRUE(close_rel(r.e_ref[i], want_e_ref[i], kSameAlgorithmRelTol)) << "e_ref " << i;
      const std::pair<const char*, const std::vector<double>*> fields[] = {
          {"ref_dnde", &r.ref_dnde},
          {"ref_e2dnde", &r.ref_e2dnde},
          {"ref_flux", &r.ref_flux},
          {"ref_eflux", &r.ref_eflux}};
      for (const auto& [name, got] : fields) {
        const auto w = doubles(want[name]);
        ASSERT_EQ(got->size(), w.size());
        for (std::size_t i = 0; i < w.size(); ++i)
          EXPECT_TRUE(close_rel((*got)[i], w[i], kSameAlgorithmRelTol))
              << label << " " << name << " bins " << set << "[" << i << "]";
      }
      ++checked;
    }
  }
  EXPECT_GT(checked, 20);
}

TEST(Models, SharedPointCountAsGammapy) {
  // 20 bins per decade: 100 * log10(ratio) = 5.000000000000142 -> 5 points, not 4 or 6.
  for (const auto& kv : golden()["bin_sets"]) {
    const auto lo = doubles(kv.second["e_lo"]), hi = doubles(kv.second["e_hi"]);
    double m = -fluxpoints::math::kInf;
    for (std::size_t i = 0; i < lo.size(); ++i)
      m = std::max(m, fluxpoints::math::loglog_ndecade_log10_ratio(lo[i], hi[i]));
    EXPECT_EQ(fluxpoints::math::loglog_npts(m), kv.second["npts"].as<int>())
        << kv.first.as<std::string>();
  }
}

TEST(Models, SpecLogParabolaTrapezoidError) {
  // gammapy's log-log trapezoid on LogParabola(alpha 2.3, beta 0.3, E0 1 TeV), bins [0.5, 1] and
  // [1, 10] in one call (100 points per bin): relative errors vs exact quadrature -2.5e-6 and
  // -2.7e-5 (reference values, quoted to two significant digits).
  const auto& s = golden()["spec_log_parabola"];
  auto lp = fm::make_log_parabola(1e-11, 2.3, 0.3, 1.0);
  const auto got = lp->integral(doubles(s["e_lo"]), doubles(s["e_hi"]));
  const auto exact = doubles(s["exact_quad"]);
  const double spec_rel_err[2] = {-2.5e-6, -2.7e-5};
  constexpr double kSpecDigitsRelTol = 0.03;  // the reference errors carry two significant digits
  for (int i = 0; i < 2; ++i) {
    const double rel = got[i] / exact[i] - 1.0;
    EXPECT_TRUE(close_rel(rel, spec_rel_err[i], kSpecDigitsRelTol)) << "bin " << i;
  }
}

TEST(Models, PowerLawLogCaseUsesIsclose) {
  // |1 - index| <= 1e-8 switches to phi0 E0 ln(E2/E1) (numpy isclose against 0, atol 1e-8).
  auto pl = fm::make_power_law(1e-12, 1.0 + 5e-9, 2.0);
  const auto f = pl->integral({1.0}, {10.0});
  EXPECT_DOUBLE_EQ(f[0], 1e-12 * 2.0 * std::log(10.0));
  auto pl_far = fm::make_power_law(1e-12, 1.0 + 2e-8, 2.0);
  EXPECT_NE(pl_far->integral({1.0}, {10.0})[0], f[0]);
}

TEST(Models, LogLogPieceEdgeCases) {
  using fluxpoints::math::loglog_piece_integral;
  EXPECT_EQ(loglog_piece_integral(1.0, 2.0, 1.0, 0.0), 0.0);   // right value 0 -> 0
  EXPECT_EQ(loglog_piece_integral(1.0, 2.0, 0.0, 0.0), 0.0);   // 0/0 slope -> +inf -> 0
  EXPECT_EQ(loglog_piece_integral(1.0, 1.01, 0.0, 1.0), 0.0);  // left 0: clipped ratio, 0 * big
  // A power law is integrated exactly by its own piece.
  const double exact = 3.0 / (1.0 - 2.7) * (std::pow(2.0, 1.0 - 2.7) - 1.0);
  EXPECT_NEAR(loglog_piece_integral(1.0, 2.0, 3.0, 3.0 * std::pow(2.0, -2.7)), exact,
              1e-14 * exact);
}

TEST(Models, DefaultsAsGammapy) {
  auto lp = fm::make_default_spectral_model("lp");
  EXPECT_EQ(lp->type(), "LogParabolaSpectralModel");
  EXPECT_EQ(lp->parameter("reference").value, 10.0);
  EXPECT_TRUE(lp->parameter("reference").frozen);
  EXPECT_EQ(lp->parameter("beta").value, 1.0);
  auto ecpl = fm::make_default_spectral_model("ecpl");
  EXPECT_EQ(ecpl->parameter("lambda_").unit, "TeV-1");
  EXPECT_TRUE(ecpl->parameter("alpha").frozen);
  auto dr3 = fm::make_default_spectral_model("secpl-4fgl-dr3");
  EXPECT_EQ(dr3->parameter("expfactor").value, 1e-2);
  auto fgl = fm::make_default_spectral_model("secpl-4fgl");
  EXPECT_EQ(fgl->parameter("expfactor").value, 1e-14);
  auto pl2 = fm::make_default_spectral_model("pl-2");
  EXPECT_EQ(pl2->parameter("amplitude").unit, "cm-2 s-1");
  EXPECT_TRUE(pl2->parameter("emin").frozen);
  EXPECT_THROW(pl2->parameter("reference"), std::out_of_range);
  EXPECT_THROW(fm::make_default_spectral_model("nope"), std::invalid_argument);
}

TEST(Models, FactoriesSetParameters) {
  auto pl = fm::make_power_law(2e-11, 2.4, 1.5);
  EXPECT_EQ(pl->parameter("amplitude").value, 2e-11);
  EXPECT_EQ(pl->parameter("index").value, 2.4);
  EXPECT_DOUBLE_EQ(pl->dnde(1.5), 2e-11);
  auto clone = pl->clone();
  clone->parameter("index").value = 3.0;
  EXPECT_EQ(pl->parameter("index").value, 2.4);
  EXPECT_THROW(fm::make_template({1.0, 0.5}, {1.0, 1.0}), std::invalid_argument);
  EXPECT_THROW(fm::make_template({1.0}, {-1.0}), std::invalid_argument);
  EXPECT_THROW(pl->integral({1.0, 2.0}, {2.0}), std::invalid_argument);
  EXPECT_THROW(fm::make_log_parabola(1e-11, 2, 0.1)->integral({0.0}, {1.0}), std::invalid_argument);
}

TEST(Models, ScaleForwardsIntegralNumericEnergyFlux) {
  fm::ScaleSpectralModel scaled(fm::make_power_law(1e-11, 2.5), 1.7);
  const std::vector<double> lo = {0.1, 1.0}, hi = {1.0, 10.0};
  const auto inner = fm::make_power_law(1e-11, 2.5)->integral(lo, hi);
  const auto flux = scaled.integral(lo, hi);
  for (std::size_t i = 0; i < lo.size(); ++i) EXPECT_EQ(flux[i], 1.7 * inner[i]);
  EXPECT_DOUBLE_EQ(scaled.dnde(2.0), 1.7 * 1e-11 * std::pow(2.0, -2.5));
  // Energy flux goes through the log-log rule as in gammapy (no analytic form for the wrapper).
  EXPECT_EQ(scaled.energy_flux(lo, hi), fm::integrate_spectrum_loglog(scaled, lo, hi, true));
  auto copy = scaled.clone();
  copy->parameter("norm").value = 2.0;
  EXPECT_EQ(scaled.parameter("norm").value, 1.7);
}
