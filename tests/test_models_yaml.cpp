// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// gammapy model YAML (docs/models.md): reading, units, errors, writing and the round trip through
// gammapy's Models.read (checked by data/golden/make_models_golden.py --check-written with the
// gammapy Python, see tests/test_environment.hpp).
#include <gtest/gtest.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fluxpoints/models/model_yaml.hpp"
#include "fluxpoints/models/spectral_models.hpp"
#include "fluxpoints/models/units.hpp"
#include "test_environment.hpp"

namespace fm = fluxpoints::models;
namespace fs = std::filesystem;

namespace {

// Unit factors such as 1e-6 (MeV) or 1e-4 (m-2) are one correctly rounded multiplication away.
constexpr double kUnitConversionRelTol = 1e-15;

const std::string kSourceDir = fluxpoints::testing::source_dir().string();
const std::string kCrabModels =
    fluxpoints::testing::shared_data_path("estimators/crab_hess_fp/models.yaml");

// A directory of this test process (test binaries of several checkouts may run at once),
// removed when the process ends.
fs::path temp_dir() {
  struct Owned {
    fs::path dir;
    ~Owned() {
      std::error_code ignored;
      fs::remove_all(dir, ignored);
    }
  };
  static const Owned owned{fs::temp_directory_path() /
                           ("fluxpoints_test_models_yaml_" + std::to_string(::getpid()))};
  fs::create_directories(owned.dir);
  return owned.dir;
}

fs::path temp_file(const std::string& name, const std::string& text) {
  const fs::path dir = temp_dir();
  const fs::path p = dir / name;
  std::ofstream(p) << text;
  return p;
}

// Runs f and returns the message of the std::runtime_error it throws ("" if none).
template <class F>
std::string error_of(F f) {
  try {
    f();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

::testing::AssertionResult contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "'" << text << "' does not contain '" << part << "'";
}

}  // namespace

TEST(ModelsYaml, CrabModelFileParses) {
  FLUXPOINTS_NEEDS_SHARED_DATA(kCrabModels);
  const auto models = fm::read_models_yaml(kCrabModels);
  ASSERT_EQ(models.size(), 1u);
  EXPECT_EQ(models[0].name, "Crab");
  EXPECT_EQ(models[0].spectral->type(), "PowerLawSpectralModel");
  EXPECT_EQ(models[0].spectral->parameter("index").value, 2.5);
  EXPECT_EQ(models[0].spectral->parameter("amplitude").value, 3e-11);
  EXPECT_TRUE(models[0].spectral->parameter("reference").frozen);
  EXPECT_TRUE(contains(models[0].spatial_yaml, "PointSpatialModel"));
  EXPECT_EQ(&fm::select_source(models, "Crab", kCrabModels), &models[0]);
}

TEST(ModelsYaml, AliasesDefaultsUnitsAndBackground) {
  const auto path = temp_file("aliases.yaml", R"(components:
-   name: a
    type: SkyModel
    datasets_names: [ds1, ds2]
    spectral:
        type: lp
        parameters:
        -   {name: amplitude, value: 2.0e-15, unit: m-2 s-1 GeV-1, min: 0.0, max: .nan}
        -   {name: alpha, value: 2.3, frozen: true}
        -   {name: beta, value: 0.1, error: 0.01}
        -   {name: not_a_parameter, value: 7}
-   name: b
    type: SkyModel
    spectral:
        type: ExpCutoffPowerLawSpectralModel
        parameters:
        -   {name: amplitude, value: 1.0e-17, unit: 1 / (cm2 s MeV)}
        -   {name: reference, value: 500.0, unit: GeV}
        -   {name: lambda_, value: 2.0e-4, unit: GeV-1}
-   name: c
    type: SkyModel
    spectral:
        type: pl-2
        parameters:
        -   {name: amplitude, value: 1.0e-11, unit: s-1 cm-2}
        -   {name: emin, value: 1.0e+5, unit: MeV}
-   type: FoVBackgroundModel
    datasets_names: [ds1]
    spectral:
        type: PowerLawNormSpectralModel
        parameters:
        -   {name: norm, value: 1.1}
        -   {name: tilt, value: 0.05}
        -   {name: reference, value: 1.0, unit: TeV}
metadata: {creator: test}
)");
  const auto file = fm::read_models_file(path.string());
  ASSERT_EQ(file.sky_models.size(), 3u);
  const auto& a = *file.sky_models[0].spectral;
  EXPECT_EQ(a.type(), "LogParabolaSpectralModel");
  EXPECT_EQ(file.sky_models[0].datasets_names, (std::vector<std::string>{"ds1", "ds2"}));
  // 2e-15 m-2 s-1 GeV-1 = 2e-15 * 1e-4 * 1e3 cm-2 s-1 TeV-1
  EXPECT_NEAR(a.parameter("amplitude").value, 2e-16, 2e-16 * kUnitConversionRelTol);
  EXPECT_EQ(a.parameter("amplitude").min, 0.0);
  EXPECT_TRUE(std::isnan(a.parameter("amplitude").max));
  EXPECT_EQ(a.parameter("reference").value, 10.0);  // missing -> class default (10 TeV for lp)
  EXPECT_TRUE(a.parameter("alpha").frozen);
  EXPECT_EQ(a.parameter("beta").error, 0.01);
  const auto& b = *file.sky_models[1].spectral;
  EXPECT_NEAR(b.parameter("amplitude").value, 1e-11, 1e-11 * kUnitConversionRelTol);
  EXPECT_NEAR(b.parameter("reference").value, 0.5, 0.5 * kUnitConversionRelTol);
  EXPECT_NEAR(b.parameter("lambda_").value, 0.2, 0.2 * kUnitConversionRelTol);
  EXPECT_EQ(b.parameter("index").value, 1.5);  // default
  EXPECT_TRUE(b.parameter("alpha").frozen);    // default frozen
  const auto& c = *file.sky_models[2].spectral;
  EXPECT_NEAR(c.parameter("emin").value, 0.1, 0.1 * kUnitConversionRelTol);
  EXPECT_EQ(c.parameter("emax").value, 100.0);
  ASSERT_EQ(file.backgrounds.size(), 1u);
  EXPECT_EQ(file.backgrounds[0].name, "ds1-bkg");
  ASSERT_TRUE(file.backgrounds[0].spectral);
  EXPECT_EQ(file.backgrounds[0].spectral->parameter("norm").value, 1.1);
  EXPECT_EQ(file.backgrounds[0].spectral->parameter("tilt").value, 0.05);
}

TEST(ModelsYaml, SelectSourceByNameOrIndex) {
  std::vector<fm::SkyModel> models(2);
  models[0].name = "first";
  models[0].spectral = fm::make_power_law(1e-12, 2.0);
  models[1].name = "second";
  models[1].spectral = fm::make_constant(1e-12);
  EXPECT_EQ(&fm::select_source(models, "second", "f.yaml"), &models[1]);
  EXPECT_EQ(&fm::select_source(models, "1", "f.yaml"), &models[1]);
  const std::string msg = error_of([&] { fm::select_source(models, "third", "f.yaml"); });
  EXPECT_TRUE(contains(msg, "f.yaml"));
  EXPECT_TRUE(contains(msg, "third"));
  EXPECT_TRUE(contains(msg, "first"));
  EXPECT_TRUE(contains(error_of([&] { fm::select_source(models, "2", "f.yaml"); }), "second"));
}

TEST(ModelsYaml, BadInputNamesFileModelAndField) {
  const auto missing = (temp_dir() / "no_such_models.yaml").string();
  EXPECT_TRUE(contains(error_of([&] { fm::read_models_yaml(missing); }), missing));

  const auto unknown = temp_file("unknown_type.yaml", R"(components:
-   name: src
    type: SkyModel
    spectral: {type: FancySpectralModel, parameters: []}
)");
  const std::string m1 = error_of([&] { fm::read_models_yaml(unknown.string()); });
  EXPECT_TRUE(contains(m1, "FancySpectralModel"));
  EXPECT_TRUE(contains(m1, unknown.string()));
  EXPECT_TRUE(contains(m1, "src"));

  const auto bad_unit = temp_file("bad_unit.yaml", R"(components:
-   name: src
    type: SkyModel
    spectral:
        type: pl
        parameters:
        -   {name: amplitude, value: 1.0e-12, unit: cm-2 s-1 furlong-1}
)");
  const std::string m2 = error_of([&] { fm::read_models_yaml(bad_unit.string()); });
  EXPECT_TRUE(contains(m2, bad_unit.string()));
  EXPECT_TRUE(contains(m2, "src"));
  EXPECT_TRUE(contains(m2, "amplitude"));
  EXPECT_TRUE(contains(m2, "furlong"));

  const auto wrong_dim = temp_file("wrong_dimension.yaml", R"(components:
-   name: src
    type: SkyModel
    spectral:
        type: pl
        parameters:
        -   {name: reference, value: 1.0, unit: cm-2}
)");
  const std::string m3 = error_of([&] { fm::read_models_yaml(wrong_dim.string()); });
  EXPECT_TRUE(contains(m3, "reference"));
  EXPECT_TRUE(contains(m3, "cm-2"));

  const auto norm_source = temp_file("norm_source.yaml", R"(components:
-   {name: src, type: SkyModel, spectral: {type: pl-norm, parameters: []}}
)");
  EXPECT_TRUE(contains(error_of([&] { fm::read_models_yaml(norm_source.string()); }), "norm"));

  const auto bad_value = temp_file("bad_value.yaml", R"(components:
-   name: src
    type: SkyModel
    spectral: {type: pl, parameters: [{name: index, value: steep}]}
)");
  const std::string m4 = error_of([&] { fm::read_models_yaml(bad_value.string()); });
  EXPECT_TRUE(contains(m4, "index"));
  EXPECT_TRUE(contains(m4, "steep"));

  const auto bad_operator = temp_file("bad_operator.yaml", R"(components:
-   name: src
    type: SkyModel
    spectral: {type: compound, operator: pow, model1: {type: pl}, model2: {type: const}}
)");
  EXPECT_TRUE(contains(error_of([&] { fm::read_models_yaml(bad_operator.string()); }), "pow"));

  const auto missing_table = temp_file("missing_table.yaml", R"(components:
-   name: src
    type: SkyModel
    spectral:
        type: CompoundSpectralModel
        operator: mul
        model1: {type: pl}
        model2:
            type: ebl-norm
            parameters: [{name: redshift, value: 0.2}]
            filename: no_such_ebl_table.fits.gz
)");
  const std::string m5 = error_of([&] { fm::read_models_yaml(missing_table.string()); });
  EXPECT_TRUE(contains(m5, "no_such_ebl_table.fits.gz"));
  EXPECT_TRUE(contains(m5, "src"));

  const auto no_components = temp_file("no_components.yaml", "models: []\n");
  EXPECT_TRUE(
      contains(error_of([&] { fm::read_models_yaml(no_components.string()); }), "components"));
  const auto bad_component =
      temp_file("bad_component.yaml", "components:\n- {type: Frobnicator}\n");
  EXPECT_TRUE(
      contains(error_of([&] { fm::read_models_yaml(bad_component.string()); }), "Frobnicator"));
}

TEST(ModelsYaml, UnitParser) {
  struct Case {
    const char* text;
    const char* internal;
    double factor;
  };
  const Case cases[] = {
      {"cm-2 s-1 TeV-1", "cm-2 s-1 TeV-1", 1.0},
      {"TeV-1 s-1 cm-2", "cm-2 s-1 TeV-1", 1.0},
      {"1 / (cm2 s TeV)", "cm-2 s-1 TeV-1", 1.0},
      {"1 / (TeV s cm2)", "cm-2 s-1 TeV-1", 1.0},
      {"m-2 s-1 TeV-1", "cm-2 s-1 TeV-1", 1e-4},
      {"cm-2 s-1 MeV-1", "cm-2 s-1 TeV-1", 1e6},
      {"erg-1 cm-2 s-1", "cm-2 s-1 TeV-1", 1.0 / 0.6241509074460764},
      {"TeV / (cm2 s)", "TeV cm-2 s-1", 1.0},
      {"erg / cm2 / s", "TeV cm-2 s-1", 0.6241509074460764},
      {"keV", "TeV", 1e-9},
      {"MeV", "TeV", 1e-6},
      {"GeV", "TeV", 1e-3},
      {"erg", "TeV", 0.6241509074460764},
      {"TeV-1", "TeV-1", 1.0},
      {"MeV-1", "TeV-1", 1e6},
      {"cm**-2 s^-1", "cm-2 s-1", 1.0},
      {"cm(-2) s-1", "cm-2 s-1", 1.0},
      {"1e-12 TeV", "TeV", 1e-12},
      {"", "", 1.0},
  };
  for (const auto& c : cases)
    EXPECT_NEAR(fm::unit_conversion_factor(c.text, c.internal), c.factor,
                c.factor * kUnitConversionRelTol)
        << c.text;
  EXPECT_THROW(fm::parse_unit("cm-2 s-1 furlong"), std::invalid_argument);
  EXPECT_THROW(fm::parse_unit("ph cm-2 s-1 MeV-1"), std::invalid_argument);
  EXPECT_THROW(fm::parse_unit("(cm2 s"), std::invalid_argument);
  EXPECT_THROW(fm::unit_conversion_factor("TeV", "cm-2"), std::invalid_argument);
}

TEST(ModelsYaml, FloatsAsPyYamlReadsThem) {
  EXPECT_EQ(fm::yaml_float(1e-11), "1.0e-11");
  EXPECT_EQ(fm::yaml_float(2.0), "2.0");
  EXPECT_EQ(fm::yaml_float(1e20), "1.0e+20");
  EXPECT_EQ(fm::yaml_float(0.1), "0.1");
  EXPECT_EQ(fm::yaml_float(std::nan("")), ".nan");
  EXPECT_EQ(fm::yaml_float(-HUGE_VAL), "-.inf");
  EXPECT_EQ(YAML::Load(fm::yaml_float(0.1 + 0.2)).as<double>(), 0.1 + 0.2);
}

// Every golden model written by us, read back by us (identical doubles) and, when the gammapy
// venv is installed, by gammapy's Models.read (make_models_golden.py --check-written).
TEST(ModelsYaml, RoundTripThroughWriterAndGammapy) {
  const YAML::Node golden = YAML::LoadFile(kSourceDir + "/data/golden/models_golden.json");
  std::vector<fm::SkyModel> models;
  for (const auto& c : golden["cases"]) {
    fm::SkyModel m;
    m.name = c["label"].as<std::string>();
    m.spectral = fm::spectral_model_from_yaml(c["spectral"], "golden case " + m.name,
                                              kSourceDir + "/data/golden");
    models.push_back(std::move(m));
  }
  models[0].datasets_names = {"ds1"};
  models[0].spatial_yaml =
      "type: PointSpatialModel\nframe: icrs\nparameters:\n"
      "- {name: lon_0, value: 83.63, unit: deg}\n"
      "- {name: lat_0, value: 22.01, unit: deg}\n";
  models[1].spectral->parameters()[0].min = 0.5;
  models[1].spectral->parameters()[0].frozen = true;
  std::vector<fm::FoVBackgroundModel> backgrounds(1);
  backgrounds[0].name = "ds1-bkg";
  backgrounds[0].datasets_names = {"ds1"};
  backgrounds[0].spectral = fm::make_power_law_norm(1.2, 0.1);

  const fs::path path = temp_dir() / "roundtrip.yaml";
  fm::write_models_yaml(path.string(), models, backgrounds);
  const auto file = fm::read_models_file(path.string());
  ASSERT_EQ(file.sky_models.size(), models.size());
  const std::vector<double> energies = {0.01, 0.3, 1.0, 2.0, 7.0, 100.0};
  for (std::size_t i = 0; i < models.size(); ++i) {
    const auto& got = file.sky_models[i];
    EXPECT_EQ(got.name, models[i].name);
    EXPECT_EQ(got.spectral->type(), models[i].spectral->type());
    EXPECT_EQ(got.spectral->dnde(energies), models[i].spectral->dnde(energies)) << got.name;
    for (std::size_t k = 0; k < got.spectral->parameters().size(); ++k)
      EXPECT_EQ(got.spectral->parameters()[k].frozen, models[i].spectral->parameters()[k].frozen);
  }
  EXPECT_EQ(file.sky_models[0].datasets_names, models[0].datasets_names);
  EXPECT_TRUE(contains(file.sky_models[0].spatial_yaml, "lon_0"));
  EXPECT_EQ(file.sky_models[1].spectral->parameters()[0].min, 0.5);
  ASSERT_EQ(file.backgrounds.size(), 1u);
  EXPECT_EQ(file.backgrounds[0].spectral->parameter("norm").value, 1.2);

  std::string python;
  FLUXPOINTS_NEEDS_GAMMAPY(python);
  const std::string view_path = path.string() + ".gammapy.json";
  const std::string cmd = python + " " + kSourceDir +
                          "/data/golden/make_models_golden.py --check-written " + path.string() +
                          " " + view_path + " > " + path.string() + ".log 2>&1";
  if (std::system(cmd.c_str()) != 0) {
    std::ifstream log(path.string() + ".log");
    FAIL() << "gammapy disagrees with what we wrote:\n"
           << std::string(std::istreambuf_iterator<char>(log), {});
  }
  // gammapy's view of every parameter it read (internal units) is what we wrote.
  const YAML::Node view = YAML::LoadFile(view_path);
  for (const auto& m : models) {
    const YAML::Node v = view[m.name];
    ASSERT_TRUE(v) << m.name << " not read by gammapy";
    EXPECT_EQ(v["type"].as<std::string>(), m.spectral->type());
    ASSERT_EQ(v["parameters"].size(), m.spectral->parameters().size()) << m.name;
    for (std::size_t k = 0; k < m.spectral->parameters().size(); ++k) {
      const fm::Parameter& p = m.spectral->parameters()[k];
      const YAML::Node g = v["parameters"][k];
      ASSERT_EQ(g["name"].as<std::string>(), p.name) << m.name;
      EXPECT_EQ(g["value"].as<double>(), p.value) << m.name << "." << p.name;
      EXPECT_EQ(g["frozen"].as<bool>(), p.frozen) << m.name << "." << p.name;
      const double gmin = g["min"].as<double>(), gmax = g["max"].as<double>();
      EXPECT_TRUE(gmin == p.min || (std::isnan(gmin) && std::isnan(p.min)))
          << m.name << "." << p.name;
      EXPECT_TRUE(gmax == p.max || (std::isnan(gmax) && std::isnan(p.max)))
          << m.name << "." << p.name;
    }
  }
  EXPECT_EQ(view["pl_crab"]["datasets_names"][0].as<std::string>(), "ds1");
  ASSERT_TRUE(view["ds1-bkg"]) << "FoVBackgroundModel not read by gammapy";
  EXPECT_EQ(view["ds1-bkg"]["parameters"][1]["value"].as<double>(), 1.2);  // tilt, norm, reference
}

// A file written by gammapy itself (full_output=True: every field, astropy unit spellings, a FoV
// background model, metadata) reads into models that evaluate like the golden cases.
TEST(ModelsYaml, ReadsGammapyWrittenFile) {
  constexpr double kSameAlgorithmRelTol = 1e-12;  // as tests/test_models.cpp
  const YAML::Node golden = YAML::LoadFile(kSourceDir + "/data/golden/models_golden.json");
  const auto file = fm::read_models_file(kSourceDir + "/data/golden/models_gammapy_written.yaml");
  ASSERT_EQ(file.backgrounds.size(), 1u);
  EXPECT_EQ(file.backgrounds[0].name, "ds1-bkg");
  std::size_t compared = 0;
  for (const auto& c : golden["cases"]) {
    const std::string label = c["label"].as<std::string>();
    const fm::SkyModel* model = nullptr;
    for (const auto& m : file.sky_models)
      if (m.name == label) model = &m;
    if (label == "compound_lp_ebl_file") continue;  // not in the file (machine-specific path)
    ASSERT_NE(model, nullptr) << label;
    EXPECT_EQ(model->datasets_names, std::vector<std::string>{"ds1"});
    std::vector<double> e, want;
    for (const auto& x : golden["energies"]) e.push_back(x.as<double>());
    for (const auto& x : c["dnde"]) want.push_back(x.as<double>());
    const auto got = model->spectral->dnde(e);
    for (std::size_t i = 0; i < e.size(); ++i)
      EXPECT_NEAR(got[i], want[i], kSameAlgorithmRelTol * std::abs(want[i]))
          << label << " E " << e[i];
    ++compared;
  }
  EXPECT_EQ(compared, file.sky_models.size());
}
