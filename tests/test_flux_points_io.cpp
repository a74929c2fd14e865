// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// Flux-point tables: gadf SED FITS write/read round trip, gammapy's own file (crab_hess_fp.fits
// from gammapy-data), ECSV, SED-type conversions (docs/flux_points.md), and - when a gammapy venv
// is present - that astropy and
// gammapy's FluxPoints.read load what we write.
#include <fitsio.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "fluxpoints/io/flux_points.hpp"
#include "compare_tables.hpp"
#include "scratch_files.hpp"
#include "test_environment.hpp"

namespace fs = std::filesystem;
namespace io = fluxpoints::io;

namespace {

const std::string kCrabFile =
    fluxpoints::testing::shared_data_path("estimators/crab_hess_fp/crab_hess_fp.fits");

// A small likelihood table with every kind of column: scalars, NaN, float32 and bool vectors.
io::FluxPointsTable sample_table() {
  io::FluxPointsTable t;
  t.n_rows = 3;
  t.n_sigma_ul = 2.0;
  const auto scalar = [&](const char* name, std::vector<double> v, const char* unit = "",
                          bool has_unit = true) {
    io::Column c;
    c.name = name;
    c.unit = unit;
    c.has_unit = has_unit;
    c.data = std::move(v);
    t.add(c);
  };
  scalar("e_ref", {0.8891397050194615, 2.8117066259517456, 8.891397050194614}, "TeV");
  scalar("e_min", {0.5, 1.5811388300841898, 5.0}, "TeV");
  scalar("e_max", {1.5811388300841898, 5.0, 15.811388300841893}, "TeV");
  scalar("ref_dnde", {1.3414515424006622e-12, 7.543536380322263e-14, 4.242042244732031e-15},
         "TeV-1 s-1 cm-2");
  scalar("ref_flux", {1.550302501915344e-12, 2.7568710184878835e-13, 4.90248696831004e-14},
         "s-1 cm-2");
  scalar("ref_eflux", {1.983311491570709e-12, 1.1152980124351198e-12, 6.271781622949278e-13},
         "erg s-1 cm-2");
  scalar("norm", {1.6066863020492785, std::nan(""), -0.25});
  scalar("norm_err", {0.16056777677958237, std::nan(""), 0.5});
  scalar("norm_errn", {0.1563, 0.2, 0.4});
  scalar("norm_errp", {0.1649, 0.3, 0.6});
  scalar("norm_ul", {1.9455837309570123, 4.2, 1.1});
  scalar("ts", {256.18534482915175, std::nan(""), 0.3});
  scalar("sqrt_ts", {16.00579097792895, std::nan(""), -0.5477225575051661});
  io::Column npred;
  npred.name = "npred";
  npred.width = 2;
  npred.is_vector = true;
  npred.data = {154.54248969300545, std::nan(""), 1.0, 2.0, 3.0, 4.0};
  t.add(npred);
  io::Column excess = npred;
  excess.name = "npred_excess";
  excess.type = io::ColumnType::float32;
  excess.data = {124.5, std::nan(""), 0.25, 0.5, 0.75, 1.0};  // exact in float32
  t.add(excess);
  scalar("stat", {-1041.6846879636955, 0.0, 3.5}, "", false);
  scalar("stat_null", {-785.4993431345438, 0.0, 3.8});
  io::Column scan;
  scan.name = "stat_scan";
  scan.has_unit = false;
  scan.width = 4;
  scan.is_vector = true;
  scan.data = {1, 2, 3, 4, std::nan(""), std::nan(""), std::nan(""), std::nan(""), 5, 6, 7, 8};
  t.add(scan);
  io::Column is_ul;
  is_ul.name = "is_ul";
  is_ul.has_unit = false;
  is_ul.type = io::ColumnType::boolean;
  is_ul.data = {0, 0, 1};
  t.add(is_ul);
  io::Column counts = npred;
  counts.name = "counts";
  counts.data = {155, 0, 1, 2, 3, 4};
  t.add(counts);
  io::Column success = is_ul;
  success.name = "success";
  success.has_unit = true;
  success.data = {1, 0, 1};
  t.add(success);
  io::Column grid = scan;
  grid.name = "norm_scan";
  grid.has_unit = true;
  grid.data = {0.2, 1, 2, 5, 0.2, 1, 2, 5, 0.2, 1, 2, 5};
  t.add(grid);
  return t;
}

using ::fluxpoints::testing::expect_same_tables;

std::string temp_path(const std::string& name) {
  return (::fluxpoints::testing::test_scratch_dir("flux_points_io") / name).string();
}

int run_python(const std::string& python, const std::string& script, std::string* output) {
  const std::string script_path = temp_path("check.py");
  std::ofstream(script_path) << script;
  const std::string out_path = temp_path("check.out");
  const int rc = std::system((python + " " + script_path + " > " + out_path + " 2>&1").c_str());
  std::ifstream in(out_path);
  std::stringstream ss;
  ss << in.rdbuf();
  *output = ss.str();
  return rc;
}

}  // namespace

TEST(FluxPointsIo, FitsRoundTrip) {
  const io::FluxPointsTable t = sample_table();
  const std::string path = temp_path("round_trip.fits");
  io::write_flux_points(t, path);
  const io::FluxPointsTable back = io::read_flux_points_fits(path);
  expect_same_tables(back, t);
  EXPECT_DOUBLE_EQ(back.n_sigma_ul, 2.0);
  // Replacing needs overwrite, and leaves no temporary behind.
  EXPECT_THROW(io::write_flux_points(t, path), io::OutputError);
  io::write_flux_points(t, path, io::OutputRule{/*overwrite=*/true, {}});
  int temporaries = 0;
  for (const auto& e : fs::directory_iterator(fs::path(path).parent_path()))
    temporaries += e.path().filename().string().find(".tmp") != std::string::npos;
  EXPECT_EQ(temporaries, 0);
}

TEST(FluxPointsIo, UlConfKeyword) {
  io::FluxPointsTable t;
  t.n_sigma_ul = 2;
  EXPECT_DOUBLE_EQ(t.ul_conf(), 0.9544997);  // UL_CONF: the two-sided confidence of n_sigma_ul
  t.n_sigma_ul = 3;
  EXPECT_DOUBLE_EQ(t.ul_conf(), 0.9973002);
  EXPECT_DOUBLE_EQ(io::n_sigma_from_ul_conf(0.9973002), 3.0);
  EXPECT_DOUBLE_EQ(io::n_sigma_from_ul_conf(0.9544997), 2.0);
}

TEST(FluxPointsIo, FailedWriteLeavesNothing) {
  const io::FluxPointsTable t = sample_table();
  EXPECT_THROW(io::write_flux_points(t, temp_path("no_such_dir/out.fits")), std::runtime_error);
  EXPECT_THROW(io::write_flux_points(t, temp_path("out.txt")), std::runtime_error);
  EXPECT_FALSE(fs::exists(temp_path("out.txt")));
}

TEST(FluxPointsIo, ReadsGammapyCrabFile) {
  FLUXPOINTS_NEEDS_SHARED_DATA(kCrabFile);
  const io::FluxPointsTable t = io::read_flux_points_fits(kCrabFile);
  // The file as gammapy-data ships it: 5 rows, likelihood, UL_CONF 0.9973002, 22 columns,
  // stat_scan/norm_scan 11D, npred/npred_excess/counts shape (1).
  EXPECT_EQ(t.sed_type, "likelihood");
  EXPECT_EQ(t.n_rows, 5u);
  EXPECT_EQ(t.columns.size(), 22u);
  EXPECT_DOUBLE_EQ(t.n_sigma_ul, 3.0);
  EXPECT_DOUBLE_EQ(t.ul_conf(), 0.9973002);
  EXPECT_EQ(t.column("stat_scan").width, 11u);
  EXPECT_EQ(t.column("norm_scan").width, 11u);
  for (const char* name : {"npred", "npred_excess", "counts"}) {
    EXPECT_EQ(t.column(name).width, 1u) << name;
    EXPECT_TRUE(t.column(name).is_vector) << name;
  }
  EXPECT_EQ(t.column("npred_excess").type, io::ColumnType::float32);
  EXPECT_EQ(t.column("success").type, io::ColumnType::boolean);
  EXPECT_EQ(t.column("ref_eflux").unit, "TeV s-1 cm-2");  // an older file: eflux in TeV
  // Row 0 is a group with no bin inside the safe mask: norm NaN, stat 0, stat_null 0, ts NaN,
  // npred NaN, npred_excess 0, counts 0, success False, stat_scan all NaN.
  EXPECT_TRUE(std::isnan(t.column("norm").at(0)));
  EXPECT_EQ(t.column("stat").at(0), 0.0);
  EXPECT_EQ(t.column("stat_null").at(0), 0.0);
  EXPECT_TRUE(std::isnan(t.column("ts").at(0)));
  EXPECT_TRUE(std::isnan(t.column("npred").at(0)));
  EXPECT_EQ(t.column("npred_excess").at(0), 0.0);
  EXPECT_EQ(t.column("counts").at(0), 0.0);
  EXPECT_EQ(t.column("success").at(0), 0.0);
  for (std::size_t j = 0; j < 11; ++j) EXPECT_TRUE(std::isnan(t.column("stat_scan").at(0, j)));
  EXPECT_EQ(t.column("success").at(1), 1.0);

  // Read -> write -> read gives the same table.
  const std::string path = temp_path("crab_round_trip.fits");
  io::write_flux_points_fits(t, path);
  io::FluxPointsTable back = io::read_flux_points_fits(path);
  expect_same_tables(back, t);

  const std::string text = io::format_flux_points(t);
  EXPECT_NE(text.find("norm_scan"), std::string::npos);
  EXPECT_NE(text.find("TeV s-1 cm-2"), std::string::npos);
}

TEST(FluxPointsIo, SedTypeConversions) {
  const io::FluxPointsTable t = sample_table();
  constexpr double kRel = 1e-15;  // one multiplication (two for e2dnde)
  const io::FluxPointsTable dnde = io::to_sed_type(t, "dnde");
  EXPECT_EQ(dnde.sed_type, "dnde");
  EXPECT_EQ(dnde.column("dnde").unit, "TeV-1 s-1 cm-2");
  EXPECT_NEAR(dnde.column("dnde").at(0), 1.6066863020492785 * 1.3414515424006622e-12,
              kRel * 2.2e-12);
  EXPECT_NEAR(dnde.column("dnde_ul").at(2), 1.1 * 4.242042244732031e-15, kRel * 5e-15);
  EXPECT_FALSE(dnde.has("norm"));
  // gammapy's order: X, X_err, X_errp, X_errn, X_ul, then the common columns.
  EXPECT_EQ(dnde.columns[3].name, "dnde");
  EXPECT_EQ(dnde.columns[5].name, "dnde_errp");
  EXPECT_EQ(dnde.columns[6].name, "dnde_errn");
  EXPECT_TRUE(dnde.has("stat_scan"));
  EXPECT_TRUE(dnde.has("norm_scan"));

  const io::FluxPointsTable e2 = io::to_sed_type(t, "e2dnde");
  EXPECT_EQ(e2.column("e2dnde").unit, "erg s-1 cm-2");
  const double e_ref = 0.8891397050194615;
  EXPECT_NEAR(e2.column("e2dnde").at(0),
              1.6066863020492785 * e_ref * e_ref * 1.3414515424006622e-12 * io::kErgPerTeV,
              2 * kRel * 3e-12);
  const io::FluxPointsTable flux = io::to_sed_type(t, "flux");
  EXPECT_EQ(flux.column("flux").unit, "s-1 cm-2");
  EXPECT_NEAR(flux.column("flux_err").at(2), 0.5 * 4.90248696831004e-14, kRel * 3e-14);
  const io::FluxPointsTable eflux = io::to_sed_type(t, "eflux");
  EXPECT_NEAR(eflux.column("eflux").at(0), 1.6066863020492785 * 1.983311491570709e-12,
              kRel * 4e-12);
  // ref_eflux of group 1 of the synthetic example (tests/test_spec_examples.cpp):
  // 1.237886e-12 TeV cm-2 s-1 = 1.983311e-12 erg cm-2 s-1.
  constexpr double kSpecPrintedRel = 1e-6;  // the reference values carry 7 significant digits
  EXPECT_NEAR(1.237886e-12 * io::kErgPerTeV, 1.983311e-12, kSpecPrintedRel * 1.983311e-12);

  EXPECT_THROW(io::to_sed_type(t, "counts"), std::invalid_argument);
  // The unit of the energies matters for e2dnde: keV energies give the same result.
  io::FluxPointsTable kev = t;
  for (const char* name : {"e_ref", "e_min", "e_max"}) {
    io::Column* c = kev.find(name);
    c->unit = "keV";
    for (double& x : c->data) x *= 1e9;
  }
  EXPECT_NEAR(io::to_sed_type(kev, "e2dnde").column("e2dnde").at(0), e2.column("e2dnde").at(0),
              1e-12 * std::abs(e2.column("e2dnde").at(0)));
}

TEST(FluxPointsIo, EcsvLayout) {
  const std::string path = temp_path("table.ecsv");
  io::write_flux_points(sample_table(), path);
  std::ifstream in(path);
  std::string first;
  std::getline(in, first);
  EXPECT_EQ(first, "# %ECSV 1.0");
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  EXPECT_NE(text.find("# - {name: stat_scan, datatype: string, subtype: 'float64[4]'}"),
            std::string::npos);
  EXPECT_NE(text.find("# - {SED_TYPE: likelihood}"), std::string::npos);
  EXPECT_NE(text.find("\"[NaN,NaN,NaN,NaN]\""), std::string::npos);
}

TEST(FluxPointsIo, EcsvRoundTrip) {
  const io::FluxPointsTable t = sample_table();
  const std::string path = temp_path("round_trip.ecsv");
  io::write_flux_points(t, path);
  expect_same_tables(io::read_flux_points(path), t);
}

TEST(FluxPointsIo, ReadsGammapyEcsvLayout) {
  // The header and cell layout astropy writes for gammapy's FluxPoints.write(.ecsv): units in
  // astropy's format, an !!omap meta, multidimensional columns as quoted JSON arrays.
  const std::string path = temp_path("gammapy.ecsv");
  std::ofstream(path) << "# %ECSV 1.0\n# ---\n# datatype:\n"
                         "# - {name: e_ref, unit: TeV, datatype: float64}\n"
                         "# - {name: e_min, unit: TeV, datatype: float64}\n"
                         "# - {name: e_max, unit: TeV, datatype: float64}\n"
                         "# - {name: ref_eflux, unit: erg / (s cm2), datatype: float64}\n"
                         "# - {name: norm, unit: '', datatype: float64}\n"
                         "# - {name: npred, unit: '', datatype: string, subtype: 'float64[1]'}\n"
                         "# - {name: is_ul, datatype: bool}\n"
                         "# meta: !!omap\n# - {SED_TYPE: likelihood}\n# - {UL_CONF: 0.9973002}\n"
                         "# schema: astropy-2.0\n"
                         "e_ref e_min e_max ref_eflux norm npred is_ul\n"
                         "1.0 0.5 2.0 1.5e-12 nan [NaN] False\n"
                         "3.0 2.0 4.5 1.0e-12 1.25 [154.5] True\n";
  const io::FluxPointsTable t = io::read_flux_points(path);
  EXPECT_EQ(t.sed_type, "likelihood");
  EXPECT_DOUBLE_EQ(t.n_sigma_ul, 3.0);
  EXPECT_EQ(t.n_rows, 2u);
  EXPECT_EQ(t.column("ref_eflux").unit, "erg / (s cm2)");
  EXPECT_FALSE(t.column("is_ul").has_unit);
  EXPECT_TRUE(std::isnan(t.column("norm").at(0)));
  EXPECT_EQ(t.column("npred").at(1), 154.5);
  EXPECT_TRUE(t.column("npred").is_vector);
  EXPECT_EQ(t.column("is_ul").at(1), 1.0);
  EXPECT_NEAR(io::to_sed_type(t, "eflux").column("eflux").at(1), 1.25e-12, 1e-27);
}

TEST(FluxPointsIo, ReadsOldUnnamedLoglikeTable) {
  // gammapy <= 1.x / the gadf spec: an unnamed table, no SED_TYPE, loglike columns.
  const std::string path = temp_path("old.fits");
  std::remove(path.c_str());
  int status = 0;
  fitsfile* f = nullptr;
  fits_create_file(&f, path.c_str(), &status);
  fits_create_img(f, BYTE_IMG, 0, nullptr, &status);
  char c1[] = "e_min", c2[] = "e_max", c3[] = "norm", c4[] = "loglike", c5[] = "ref_dnde";
  char fd[] = "D", tev[] = "TeV", none[] = "", dnde[] = "cm-2 s-1 TeV-1";
  char* ttype[] = {c1, c2, c3, c4, c5};
  char* tform[] = {fd, fd, fd, fd, fd};
  char* tunit[] = {tev, tev, none, none, dnde};
  fits_create_tbl(f, BINARY_TBL, 2, 5, ttype, tform, tunit, nullptr, &status);
  double e_min[] = {1, 2}, e_max[] = {2, 4}, norm[] = {1.5, 0.5}, loglike[] = {-3, 4},
         ref[] = {1, 2};
  fits_write_col(f, TDOUBLE, 1, 1, 1, 2, e_min, &status);
  fits_write_col(f, TDOUBLE, 2, 1, 1, 2, e_max, &status);
  fits_write_col(f, TDOUBLE, 3, 1, 1, 2, norm, &status);
  fits_write_col(f, TDOUBLE, 4, 1, 1, 2, loglike, &status);
  fits_write_col(f, TDOUBLE, 5, 1, 1, 2, ref, &status);
  fits_close_file(f, &status);
  ASSERT_EQ(status, 0);
  const io::FluxPointsTable t = io::read_flux_points(path);
  EXPECT_EQ(t.sed_type, "likelihood");      // guessed from the norm column
  EXPECT_EQ(t.column("stat").at(0), -6.0);  // stat = 2 loglike (gammapy flips no sign)
  EXPECT_EQ(t.column("e_max").at(1), 4.0);
}

TEST(FluxPointsIo, AstropyAndGammapyReadOurFiles) {
  std::string python;
  FLUXPOINTS_NEEDS_GAMMAPY(python);
  const std::string fits_path = temp_path("for_gammapy.fits");
  const std::string ecsv_path = temp_path("for_astropy.ecsv");
  const io::FluxPointsTable t = sample_table();
  io::write_flux_points(t, fits_path);
  io::write_flux_points(t, ecsv_path);
  const std::string script =
      "import math, warnings\n"
      "warnings.simplefilter('ignore')\n"
      "from astropy.table import Table\n"
      "from gammapy.estimators import FluxPoints\n"
      "for path in ['" +
      fits_path + "', '" + ecsv_path +
      "']:\n"
      "    t = Table.read(path) if path.endswith('ecsv') else Table.read(path, hdu='FLUXPOINTS')\n"
      "    assert t.meta['SED_TYPE'] == 'likelihood', t.meta\n"
      "    assert abs(t.meta['UL_CONF'] - 0.9544997) < 1e-12, t.meta\n"
      "    assert t['stat_scan'].shape == (3, 4), t['stat_scan'].shape\n"
      "    assert t['npred'].shape == (3, 2), t['npred'].shape\n"
      "    assert math.isnan(t['npred'][0, 1]) and t['npred'][2, 1] == 4.0\n"
      "    assert t['npred_excess'].dtype.itemsize == 4, t['npred_excess'].dtype\n"
      "    assert t['e_ref'].unit.to_string() == 'TeV'\n"
      "    assert abs(t['ref_eflux'].quantity[0].to_value('erg cm-2 s-1') - 1.983311491570709e-12) "
      "< 1e-24\n"
      "    assert abs(t['ref_dnde'].quantity[0].to_value('cm-2 s-1 TeV-1') - "
      "1.3414515424006622e-12) < 1e-24\n"
      "    assert list(t['is_ul']) == [False, False, True]\n"
      "    assert list(t['success']) == [True, False, True]\n"
      "    fp = FluxPoints.read(path, sed_type='likelihood')\n"
      "    assert fp.norm.data.shape[0] == 3\n"
      "    assert abs(fp.norm.data[0].item() - 1.6066863020492785) < 1e-12\n"
      "    assert abs(fp.dnde.quantity[0].item().to_value('cm-2 s-1 TeV-1') - 1.6066863020492785 * "
      "1.3414515424006622e-12) < 1e-22\n"
      "    assert fp.n_sigma_ul == 2\n"
      "    fp.to_table(sed_type='dnde')\n"
      "print('ok')\n";
  std::string output;
  const int rc = run_python(python, script, &output);
  EXPECT_EQ(rc, 0) << output;
  EXPECT_NE(output.find("ok"), std::string::npos) << output;
}
