// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// OGIP reader/writer: round trips, gammapy's layout details and clear errors for bad input.
#include <fitsio.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "fluxpoints/datasets/simulate.hpp"
#include "fluxpoints/datasets/spectrum_dataset.hpp"
#include "fluxpoints/io/dataset_io.hpp"
#include "fluxpoints/io/ogip.hpp"
#include "fluxpoints/models/units.hpp"
#include "gammapy_compare.hpp"
#include "scratch_files.hpp"
#include "test_environment.hpp"

namespace {

namespace fs = std::filesystem;
using fluxpoints::datasets::SpectrumDataset;
using fluxpoints::io::read_ogip_dataset;
using fluxpoints::io::write_ogip_dataset;

const std::string kHess23523 =
    fluxpoints::testing::shared_data_path("joint-crab/spectra/hess/pha_obs23523.fits");

using ::fluxpoints::testing::TempDir;

// 6 reco bins, 9 true bins over 0.1-100 TeV, a two-channel-wide dispersion, alpha = 0.2.
SpectrumDataset small_on_off_dataset() {
  SpectrumDataset ds;
  ds.name = "run42";
  ds.on_off = true;
  ds.energy_unit = "TeV";
  for (int k = 0; k <= 6; ++k) ds.reco_edges.push_back(0.1 * std::pow(1000.0, k / 6.0));
  for (int k = 0; k <= 9; ++k) ds.true_edges.push_back(0.1 * std::pow(1000.0, k / 9.0));
  ds.counts = {0, 12, 30, 7, 2, 1};
  ds.counts_off = {5, 40, 60, 20, 0, 3};
  ds.acceptance.assign(6, 1.0);
  ds.acceptance_off.assign(6, 5.0);
  ds.alpha.assign(6, 0.2);
  ds.mask_safe = {0, 1, 1, 1, 1, 1};
  ds.livetime_s = 1800.5;
  for (int j = 0; j < 9; ++j) ds.exposure.push_back(1e8 * (j + 1) * ds.livetime_s);
  ds.edisp.assign(9 * 6, 0.0);
  for (int j = 0; j < 9; ++j) {
    const int i = j * 6 / 9;
    ds.edisp[j * 6 + i] = 0.7;
    if (i + 1 < 6) ds.edisp[j * 6 + i + 1] = 0.25;  // rows lose 5% (or 30% at the top)
  }
  return ds;
}

// Opens a written file read-write with cfitsio, moves to `hdu` and runs `edit`.
void edit_fits(const std::string& path, const std::string& hdu,
               const std::function<void(fitsfile*, int*)>& edit) {
  fitsfile* f = nullptr;
  int status = 0;
  fits_open_diskfile(&f, path.c_str(), READWRITE, &status);
  fits_movnam_hdu(f, ANY_HDU, const_cast<char*>(hdu.c_str()), 0, &status);
  edit(f, &status);
  fits_close_file(f, &status);
  ASSERT_EQ(status, 0) << "editing " << path;
}

void expect_read_error(const std::string& pha, const std::vector<std::string>& needles) {
  try {
    read_ogip_dataset(pha);
    ADD_FAILURE() << "reading " << pha << " did not fail";
  } catch (const std::runtime_error& e) {
    if (std::getenv("FLUXPOINTS_TEST_VERBOSE")) std::printf("  error: %s\n", e.what());
    for (const std::string& needle : needles) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)
          << "message '" << e.what() << "' lacks '" << needle << "'";
    }
  }
}

void expect_same_dataset(const SpectrumDataset& a, const SpectrumDataset& b, double matrix_rel) {
  constexpr double kUnitRoundTripRelTol = 1e-14;  // TeV -> file unit -> TeV, ARF = exposure/t*t
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.on_off, b.on_off);
  EXPECT_EQ(a.energy_unit, b.energy_unit);
  EXPECT_EQ(a.livetime_s, b.livetime_s);
  EXPECT_EQ(a.counts, b.counts);
  EXPECT_EQ(a.counts_off, b.counts_off);
  EXPECT_EQ(a.acceptance, b.acceptance);
  EXPECT_EQ(a.acceptance_off, b.acceptance_off);
  EXPECT_EQ(a.alpha, b.alpha);
  EXPECT_EQ(a.mask_safe, b.mask_safe);
  ASSERT_EQ(a.reco_edges.size(), b.reco_edges.size());
  for (std::size_t k = 0; k < a.reco_edges.size(); ++k) {
    EXPECT_NEAR(a.reco_edges[k], b.reco_edges[k], a.reco_edges[k] * kUnitRoundTripRelTol);
  }
  ASSERT_EQ(a.true_edges.size(), b.true_edges.size());
  for (std::size_t k = 0; k < a.true_edges.size(); ++k) {
    EXPECT_NEAR(a.true_edges[k], b.true_edges[k], a.true_edges[k] * kUnitRoundTripRelTol);
  }
  ASSERT_EQ(a.exposure.size(), b.exposure.size());
  for (std::size_t j = 0; j < a.exposure.size(); ++j) {
    EXPECT_NEAR(a.exposure[j], b.exposure[j], a.exposure[j] * kUnitRoundTripRelTol);
  }
  ASSERT_EQ(a.edisp.size(), b.edisp.size());
  for (std::size_t k = 0; k < a.edisp.size(); ++k) {
    EXPECT_NEAR(a.edisp[k], b.edisp[k], a.edisp[k] * matrix_rel) << k;
  }
}

TEST(OgipIo, WriteReadRoundTrip) {
  TempDir dir;
  const SpectrumDataset ds = small_on_off_dataset();
  const std::string pha = dir.file("run42.fits");
  write_ogip_dataset(ds, pha);
  for (const char* f : {"run42.fits", "run42_arf.fits", "run42_bkg.fits", "run42_rmf.fits"}) {
    EXPECT_TRUE(fs::exists(dir.file(f))) << f;
  }
  EXPECT_FALSE(fs::exists(dir.file("run42.fits.partial")));
  const SpectrumDataset back = read_ogip_dataset(pha);
  constexpr double kFloat32RelTol = 6e-8;  // gammapy stores the RMF as float32
  expect_same_dataset(ds, back, kFloat32RelTol);
  EXPECT_EQ(back.source_file, pha);
}

TEST(OgipIo, RefusesToOverwriteUnlessAsked) {
  TempDir dir;
  const SpectrumDataset ds = small_on_off_dataset();
  const std::string pha = dir.file("a.fits");
  write_ogip_dataset(ds, pha);
  EXPECT_THROW(write_ogip_dataset(ds, pha), std::runtime_error);
  SpectrumDataset changed = ds;
  changed.counts[2] = 99;
  write_ogip_dataset(changed, pha, fluxpoints::io::OutputRule{/*overwrite=*/true, {}});
  EXPECT_EQ(read_ogip_dataset(pha).counts[2], 99.0);
}

TEST(OgipIo, WriterLeavesNothingOnFailure) {
  TempDir dir;
  SpectrumDataset ds = small_on_off_dataset();
  ds.counts_off[3] = 2.5;  // OGIP COUNTS are integers: fails while writing the BKG file
  EXPECT_THROW(write_ogip_dataset(ds, dir.file("x.fits")), std::invalid_argument);
  EXPECT_TRUE(fs::is_empty(dir.file(""))) << "partial files were left behind";
}

TEST(OgipIo, CompanionNamesFollowGammapy) {
  const auto names = fluxpoints::io::ogip_file_names("out/obs_1.fits.gz");
  EXPECT_EQ(names.arf, "out/obs_1_arf.fits.gz");
  EXPECT_EQ(names.bkg, "out/obs_1_bkg.fits.gz");
  EXPECT_EQ(names.rmf, "out/obs_1_rmf.fits.gz");
}

TEST(OgipIo, HessRunSurvivesRewrite) {
  FLUXPOINTS_NEEDS_SHARED_DATA(kHess23523);
  TempDir dir;
  const SpectrumDataset ds = read_ogip_dataset(kHess23523);
  write_ogip_dataset(ds, dir.file("hess.fits"));
  const SpectrumDataset back = read_ogip_dataset(dir.file("hess.fits"));
  expect_same_dataset(ds, back, 0.0);  // the RMF was float32 already: exact
}

TEST(OgipIo, LogicalAndIntegerQualityAgree) {
  // gammapy writes QUALITY as logical, other tools as integers; both mean 0/false = good.
  TempDir dir;
  const SpectrumDataset ds = small_on_off_dataset();
  write_ogip_dataset(ds, dir.file("q.fits"));
  edit_fits(dir.file("q.fits"), "SPECTRUM", [](fitsfile* f, int* status) {
    int col = 0;
    fits_get_colnum(f, CASEINSEN, const_cast<char*>("QUALITY"), &col, status);
    fits_delete_col(f, col, status);
    fits_insert_col(f, col, const_cast<char*>("QUALITY"), const_cast<char*>("I"), status);
    short quality[6] = {5, 0, 0, 0, 0, 0};  // any non-zero value is bad
    fits_write_col(f, TSHORT, col, 1, 1, 6, quality, status);
  });
  EXPECT_EQ(read_ogip_dataset(dir.file("q.fits")).mask_safe, ds.mask_safe);
}

TEST(OgipIo, AlphaIsZeroWhereOffBackscalIsZero) {
  TempDir dir;
  SpectrumDataset ds = small_on_off_dataset();
  ds.acceptance_off[4] = 0.0;  // gammapy: inf -> 0
  ds.acceptance[5] = 0.0;
  ds.acceptance_off[5] = 0.0;  // 0/0 = NaN -> 0
  ds.alpha[4] = ds.alpha[5] = 0.0;
  write_ogip_dataset(ds, dir.file("a.fits"));
  const SpectrumDataset back = read_ogip_dataset(dir.file("a.fits"));
  EXPECT_EQ(back.alpha, (std::vector<double>{0.2, 0.2, 0.2, 0.2, 0.0, 0.0}));
}

TEST(OgipIo, CompanionsResolvedNextToThePha) {
  // ANCRFILE etc. are relative to the PHA's directory when not found as given.
  TempDir dir;
  write_ogip_dataset(small_on_off_dataset(), dir.file("rel.fits"));
  ASSERT_FALSE(fs::exists("rel_arf.fits"));
  EXPECT_NO_THROW(read_ogip_dataset(dir.file("rel.fits")));
}

TEST(OgipIo, NameOverridesObsId) {
  TempDir dir;
  write_ogip_dataset(small_on_off_dataset(), dir.file("n.fits"));
  EXPECT_EQ(read_ogip_dataset(dir.file("n.fits"), "custom").name, "custom");
}

// One Python run (tests/gammapy/describe_with_gammapy.py) checks both directions:
//  * gammapy's SpectrumDatasetOnOff.read sees in the OGIP files fluxpoints writes (synthetic in
//    TeV, the H.E.S.S. run rewritten in keV, `simulate` output with 35 true x 15 reco bins)
//    what fluxpoints reads from them;
//  * fluxpoints reads gammapy's own gadf files (On/Off and Cash, gadf region maps; format detected)
//    as gammapy does.
TEST(GammapyInterop, ReadsAndWritesLikeGammapy) {
  std::string python;
  FLUXPOINTS_NEEDS_GAMMAPY(python);
  TempDir dir;
  std::vector<std::string> phas = {dir.file("small.fits")};
  write_ogip_dataset(small_on_off_dataset(), phas.back());
  if (fluxpoints::testing::optional_shared_data(kHess23523)) {
    phas.push_back(dir.file("hess.fits"));
    write_ogip_dataset(read_ogip_dataset(kHess23523), phas.back());
  }
  fluxpoints::datasets::SimulationSetup setup;
  setup.true_edges = fluxpoints::datasets::log_edges(0.03, 100.0, 35);
  setup.reco_edges = fluxpoints::datasets::log_edges(0.05, 50.0, 15);
  setup.energy_unit = "keV";
  const auto pl = fluxpoints::models::make_power_law(1e-11, 2.5, 1.0);
  phas.push_back(dir.file("sim.fits"));
  write_ogip_dataset(fluxpoints::datasets::simulate_on_off(*pl, setup, 5), phas.back());

  std::string command = python + " " +
                        fluxpoints::testing::repo_path("tests/gammapy/describe_with_gammapy.py") +
                        " " + dir.file("");
  for (const std::string& pha : phas) command += " " + pha;
  command += " > " + dir.file("gammapy.log") + " 2>&1";
  ASSERT_EQ(std::system(command.c_str()), 0) << command << " failed";
  std::ifstream in(dir.file("gammapy.json"));
  const nlohmann::json records = nlohmann::json::parse(in).at("datasets");
  ASSERT_EQ(records.size(), 3 * phas.size());  // OGIP, gadf On/Off, gadf Cash per input
  for (const auto& record : records) {
    const std::string path = record.at("pha");
    SCOPED_TRACE(path);
    fluxpoints::testing::expect_matches_gammapy(fluxpoints::io::read_spectrum_dataset(path),
                                                record);
  }
}

TEST(GadfIo, DetectsTheLayout) {
  TempDir dir;
  write_ogip_dataset(small_on_off_dataset(), dir.file("o.fits"));
  EXPECT_EQ(fluxpoints::io::read_spectrum_dataset(dir.file("o.fits")).name, "run42");
  try {
    fluxpoints::io::read_spectrum_dataset(dir.file("o_arf.fits"));
    ADD_FAILURE() << "an ARF was read as a dataset";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("not a spectrum dataset"), std::string::npos) << e.what();
  }
}

// F_CHAN is a 0-based channel index whatever TLMIN says (as gammapy reads it).
TEST(OgipIo, RmfTlminIsIgnored) {
  TempDir dir;
  const SpectrumDataset ds = small_on_off_dataset();
  write_ogip_dataset(ds, dir.file("t.fits"));
  edit_fits(dir.file("t_rmf.fits"), "MATRIX",
            [](fitsfile* f, int* status) { fits_update_key_lng(f, "TLMIN4", 1, nullptr, status); });
  const SpectrumDataset back = read_ogip_dataset(dir.file("t.fits"));
  for (std::size_t k = 0; k < ds.edisp.size(); ++k) {
    EXPECT_EQ(back.edisp[k], static_cast<double>(static_cast<float>(ds.edisp[k]))) << k;
  }
}

// RMFs from other tools may use fixed-length F_CHAN/N_CHAN/MATRIX columns instead of variable
// length arrays; only the first N_GRP groups and sum(N_CHAN) values count.
TEST(OgipIo, RmfWithFixedLengthColumns) {
  TempDir dir;
  SpectrumDataset ds = small_on_off_dataset();
  write_ogip_dataset(ds, dir.file("f.fits"));
  const std::string rmf = dir.file("fixed_rmf.fits");
  fitsfile* f = nullptr;
  int status = 0;
  fits_create_diskfile(&f, rmf.c_str(), &status);
  const char* names[] = {"ENERG_LO", "ENERG_HI", "N_GRP", "F_CHAN", "N_CHAN", "MATRIX"};
  const char* forms[] = {"E", "E", "I", "2I", "2I", "6E"};
  fits_create_tbl(f, BINARY_TBL, 9, 6, const_cast<char**>(names), const_cast<char**>(forms),
                  nullptr, "MATRIX", &status);
  fits_update_key_lng(f, "DETCHANS", 6, nullptr, &status);
  for (long row = 1; row <= 9; ++row) {
    // Two groups: channel (row-1) % 6 gets 0.5, channel 5 gets 0.25 (merged when equal).
    const short first = static_cast<short>((row - 1) % 6);
    short n_grp = first == 5 ? 1 : 2;
    short f_chan[2] = {first, 5};
    short n_chan[2] = {1, 1};
    float matrix[6] = {first == 5 ? 0.75f : 0.5f, 0.25f, 9.f, 9.f, 9.f, 9.f};  // 9: unused
    fits_write_col(f, TSHORT, 3, row, 1, 1, &n_grp, &status);
    fits_write_col(f, TSHORT, 4, row, 1, 2, f_chan, &status);
    fits_write_col(f, TSHORT, 5, row, 1, 2, n_chan, &status);
    fits_write_col(f, TFLOAT, 6, row, 1, 6, matrix, &status);
  }
  // The RMF's EBOUNDS (required, and equal to the PHA's): copied from the PHA.
  fitsfile* pha_file = nullptr;
  fits_open_diskfile(&pha_file, dir.file("f.fits").c_str(), READONLY, &status);
  fits_movnam_hdu(pha_file, BINARY_TBL, const_cast<char*>("EBOUNDS"), 0, &status);
  fits_copy_hdu(pha_file, f, 0, &status);
  fits_close_file(pha_file, &status);
  fits_close_file(f, &status);
  ASSERT_EQ(status, 0);
  edit_fits(dir.file("f.fits"), "SPECTRUM", [&rmf](fitsfile* pha, int* st) {
    fits_update_key_str(pha, "RESPFILE", rmf.c_str(), nullptr, st);
  });
  const SpectrumDataset back = read_ogip_dataset(dir.file("f.fits"));
  for (std::size_t j = 0; j < 9; ++j) {
    for (std::size_t i = 0; i < 6; ++i) {
      const std::size_t first = j % 6;
      const double want = i == first ? (first == 5 ? 0.75 : 0.5) : (i == 5 ? 0.25 : 0.0);
      EXPECT_EQ(back.edisp[j * 6 + i], want) << j << "," << i;
    }
  }
}

// ---- bad input: each error names the file and the HDU / column / keyword ----

TEST(OgipBadInput, MissingFile) {
  expect_read_error("/nonexistent/dir/pha.fits", {"/nonexistent/dir/pha.fits", "not found"});
}

TEST(OgipBadInput, MissingCompanionFile) {
  TempDir dir;
  write_ogip_dataset(small_on_off_dataset(), dir.file("m.fits"));
  fs::remove(dir.file("m_arf.fits"));
  expect_read_error(dir.file("m.fits"), {"m_arf.fits", "not found"});
}

TEST(OgipBadInput, MissingSpectrumHdu) {
  TempDir dir;
  write_ogip_dataset(small_on_off_dataset(), dir.file("h.fits"));
  edit_fits(dir.file("h.fits"), "SPECTRUM", [](fitsfile* f, int* status) {
    fits_update_key_str(f, "EXTNAME", "COUNTS", nullptr, status);
  });
  expect_read_error(dir.file("h.fits"), {"h.fits", "SPECTRUM"});
}

TEST(OgipBadInput, ArfWithoutSpecrespHdu) {
  TempDir dir;
  write_ogip_dataset(small_on_off_dataset(), dir.file("h.fits"));
  edit_fits(dir.file("h_arf.fits"), "SPECRESP", [](fitsfile* f, int* status) {
    fits_update_key_str(f, "EXTNAME", "EFFAREA", nullptr, status);
  });
  expect_read_error(dir.file("h.fits"), {"h_arf.fits", "SPECRESP"});
}

TEST(OgipBadInput, RmfChannelsDifferFromPha) {
  TempDir dir;
  write_ogip_dataset(small_on_off_dataset(), dir.file("c.fits"));
  edit_fits(dir.file("c_rmf.fits"), "MATRIX", [](fitsfile* f, int* status) {
    fits_update_key_lng(f, "DETCHANS", 7, nullptr, status);
  });
  expect_read_error(dir.file("c.fits"), {"c_rmf.fits", "MATRIX", "DETCHANS", "7", "6"});
}

TEST(OgipBadInput, RmfEboundsDifferFromPha) {
  // The RMF of another binning: its EBOUNDS disagree with the PHA's channel count.
  TempDir dir;
  write_ogip_dataset(small_on_off_dataset(), dir.file("p.fits"));
  edit_fits(dir.file("p_rmf.fits"), "EBOUNDS",
            [](fitsfile* f, int* status) { fits_delete_rows(f, 6, 1, status); });
  expect_read_error(dir.file("p.fits"), {"p_rmf.fits", "EBOUNDS", "5 channels"});
}

TEST(OgipBadInput, NanInArf) {
  TempDir dir;
  write_ogip_dataset(small_on_off_dataset(), dir.file("n.fits"));
  edit_fits(dir.file("n_arf.fits"), "SPECRESP", [](fitsfile* f, int* status) {
    double nan = std::numeric_limits<double>::quiet_NaN();
    fits_write_col(f, TDOUBLE, 3, 4, 1, 1, &nan, status);
  });
  expect_read_error(dir.file("n.fits"), {"n_arf.fits", "SPECRESP", "row 4"});
}

TEST(OgipBadInput, ZeroExposureKeyword) {
  TempDir dir;
  write_ogip_dataset(small_on_off_dataset(), dir.file("z.fits"));
  edit_fits(dir.file("z.fits"), "SPECTRUM", [](fitsfile* f, int* status) {
    fits_update_key_dbl(f, "EXPOSURE", 0.0, -17, nullptr, status);
  });
  expect_read_error(dir.file("z.fits"), {"z.fits", "SPECTRUM", "EXPOSURE"});
}

TEST(OgipBadInput, MissingExposureKeyword) {
  TempDir dir;
  write_ogip_dataset(small_on_off_dataset(), dir.file("z.fits"));
  edit_fits(dir.file("z.fits"), "SPECTRUM",
            [](fitsfile* f, int* status) { fits_delete_key(f, "EXPOSURE", status); });
  expect_read_error(dir.file("z.fits"), {"z.fits", "SPECTRUM", "missing keyword EXPOSURE"});
}

TEST(OgipBadInput, NegativeCounts) {
  TempDir dir;
  write_ogip_dataset(small_on_off_dataset(), dir.file("neg.fits"));
  edit_fits(dir.file("neg.fits"), "SPECTRUM", [](fitsfile* f, int* status) {
    int minus_one = -1;
    fits_write_col(f, TINT, 2, 5, 1, 1, &minus_one, status);
  });
  expect_read_error(dir.file("neg.fits"), {"neg.fits", "SPECTRUM", "COUNTS", "row 5"});
}

TEST(OgipBadInput, NegativeOffCounts) {
  TempDir dir;
  write_ogip_dataset(small_on_off_dataset(), dir.file("neg.fits"));
  edit_fits(dir.file("neg_bkg.fits"), "SPECTRUM", [](fitsfile* f, int* status) {
    int minus_one = -1;
    fits_write_col(f, TINT, 2, 2, 1, 1, &minus_one, status);
  });
  expect_read_error(dir.file("neg.fits"), {"neg_bkg.fits", "COUNTS", "row 2"});
}

TEST(OgipBadInput, BackscalOnlyAsKeyword) {
  TempDir dir;
  write_ogip_dataset(small_on_off_dataset(), dir.file("b.fits"));
  edit_fits(dir.file("b.fits"), "SPECTRUM", [](fitsfile* f, int* status) {
    fits_delete_col(f, 4, status);
    fits_update_key_dbl(f, "BACKSCAL", 1.0, -17, nullptr, status);
  });
  expect_read_error(dir.file("b.fits"), {"b.fits", "SPECTRUM", "BACKSCAL", "column"});
}

TEST(OgipBadInput, MissingAncrfileKeyword) {
  TempDir dir;
  write_ogip_dataset(small_on_off_dataset(), dir.file("k.fits"));
  edit_fits(dir.file("k.fits"), "SPECTRUM",
            [](fitsfile* f, int* status) { fits_delete_key(f, "ANCRFILE", status); });
  expect_read_error(dir.file("k.fits"), {"k.fits", "ANCRFILE"});
}

TEST(OgipBadInput, MissingObsIdKeyword) {
  TempDir dir;
  write_ogip_dataset(small_on_off_dataset(), dir.file("o.fits"));
  edit_fits(dir.file("o.fits"), "SPECTRUM",
            [](fitsfile* f, int* status) { fits_delete_key(f, "OBS_ID", status); });
  expect_read_error(dir.file("o.fits"), {"o.fits", "SPECTRUM", "OBS_ID"});
  EXPECT_EQ(read_ogip_dataset(dir.file("o.fits"), "named").name, "named");  // a name suffices
}

TEST(OgipBadInput, BkgChannelsDifferFromPha) {
  TempDir dir;
  write_ogip_dataset(small_on_off_dataset(), dir.file("b.fits"));
  edit_fits(dir.file("b_bkg.fits"), "SPECTRUM",
            [](fitsfile* f, int* status) { fits_delete_rows(f, 1, 2, status); });
  expect_read_error(dir.file("b.fits"), {"b_bkg.fits", "SPECTRUM", "4 channels"});
}

TEST(OgipBadInput, RmfGroupOutsideChannels) {
  TempDir dir;
  write_ogip_dataset(small_on_off_dataset(), dir.file("g.fits"));
  edit_fits(dir.file("g_rmf.fits"), "MATRIX", [](fitsfile* f, int* status) {
    short first = 5;  // the last row's group has 1-2 channels: starting at 5 overruns 6 channels
    fits_write_col(f, TSHORT, 4, 8, 1, 1, &first, status);
  });
  expect_read_error(dir.file("g.fits"), {"g_rmf.fits", "MATRIX", "row 8", "F_CHAN"});
}

// ---- files gammapy refuses, or that are inconsistent, refused with the file named ----

TEST(OgipBadInput, RmfWithoutEbounds) {
  TempDir dir;
  write_ogip_dataset(small_on_off_dataset(), dir.file("e.fits"));
  edit_fits(dir.file("e_rmf.fits"), "EBOUNDS",
            [](fitsfile* f, int* status) { fits_delete_hdu(f, nullptr, status); });
  expect_read_error(dir.file("e.fits"), {"e_rmf.fits", "no EBOUNDS HDU"});
}

TEST(OgipBadInput, RmfEboundsNan) {
  TempDir dir;
  write_ogip_dataset(small_on_off_dataset(), dir.file("e.fits"));
  edit_fits(dir.file("e_rmf.fits"), "EBOUNDS", [](fitsfile* f, int* status) {
    double nan = std::numeric_limits<double>::quiet_NaN();
    fits_write_col(f, TDOUBLE, 2, 3, 1, 1, &nan, status);
  });
  expect_read_error(dir.file("e.fits"),
                    {"e_rmf.fits", "EBOUNDS", "E_MIN row 3", "positive and increasing"});
}

TEST(OgipBadInput, RmfEboundsReversed) {
  TempDir dir;
  const SpectrumDataset ds = small_on_off_dataset();
  write_ogip_dataset(ds, dir.file("e.fits"));
  edit_fits(dir.file("e_rmf.fits"), "EBOUNDS", [&ds](fitsfile* f, int* status) {
    for (long row = 1; row <= 6; ++row) {
      double lo = ds.reco_edges[7 - row], hi = ds.reco_edges[6 - row];
      fits_write_col(f, TDOUBLE, 2, row, 1, 1, &lo, status);
      fits_write_col(f, TDOUBLE, 3, row, 1, 1, &hi, status);
    }
  });
  expect_read_error(dir.file("e.fits"), {"e_rmf.fits", "EBOUNDS", "positive and increasing"});
}

TEST(OgipBadInput, RmfEboundsNotAnEnergy) {
  TempDir dir;
  write_ogip_dataset(small_on_off_dataset(), dir.file("e.fits"));
  edit_fits(dir.file("e_rmf.fits"), "EBOUNDS", [](fitsfile* f, int* status) {
    fits_update_key_str(f, "TUNIT2", "m", nullptr, status);
  });
  expect_read_error(dir.file("e.fits"), {"e_rmf.fits", "EBOUNDS", "E_MIN", "'m'"});
}

TEST(OgipBadInput, RmfEboundsOfOtherBins) {
  // Same channel count, other energies (here: the numbers of the PHA read as GeV): gammapy fails
  // on it when it folds the model (its dispersion axis must be the counts axis).
  TempDir dir;
  write_ogip_dataset(small_on_off_dataset(), dir.file("e.fits"));
  edit_fits(dir.file("e_rmf.fits"), "EBOUNDS", [](fitsfile* f, int* status) {
    fits_update_key_str(f, "TUNIT2", "GeV", nullptr, status);
    fits_update_key_str(f, "TUNIT3", "GeV", nullptr, status);
  });
  expect_read_error(dir.file("e.fits"),
                    {"e_rmf.fits", "EBOUNDS", "E_MIN row 1", "differs from the PHA", "e.fits"});
}

TEST(OgipBadInput, ArfWithoutUnits) {
  TempDir dir;
  write_ogip_dataset(small_on_off_dataset(), dir.file("u.fits"));
  edit_fits(dir.file("u_arf.fits"), "SPECRESP",
            [](fitsfile* f, int* status) { fits_delete_key(f, "TUNIT3", status); });
  expect_read_error(dir.file("u.fits"), {"u_arf.fits", "SPECRESP", "column SPECRESP has no unit"});
  write_ogip_dataset(small_on_off_dataset(), dir.file("v.fits"));
  edit_fits(dir.file("v_arf.fits"), "SPECRESP", [](fitsfile* f, int* status) {
    fits_delete_key(f, "TUNIT1", status);
    fits_delete_key(f, "TUNIT2", status);
  });
  expect_read_error(dir.file("v.fits"), {"v_arf.fits", "SPECRESP", "column ENERG_LO has no unit"});
}

TEST(OgipBadInput, TruncatedLastHdu) {
  // A copy cut short in the last HDU: the BKG's and the RMF's last HDU (EBOUNDS) are read partly
  // or not at all, so cfitsio alone does not notice. Cut in the data or in the padding after
  // them (which the standard requires and cfitsio needs to read the last block).
  for (const char* suffix : {"_bkg.fits", "_rmf.fits"}) {
    TempDir dir;
    write_ogip_dataset(small_on_off_dataset(), dir.file("t.fits"));
    const std::string cut = dir.file(std::string("t") + suffix);
    const auto size = fs::file_size(cut);
    // The last 2880-byte block holds EBOUNDS' 6 rows (6 x 18 bytes) and padding.
    fs::resize_file(cut, size - 2880 + 100);
    expect_read_error(dir.file("t.fits"), {cut, "EBOUNDS", "truncated"});
    fs::resize_file(cut, size - 2880 + 6 * 18);  // the data complete, no padding
    expect_read_error(dir.file("t.fits"), {cut, "EBOUNDS", "truncated"});
  }
}

TEST(OgipBadInput, InfinityIsReportedAsInfinity) {
  // cfitsio's null check reads IEEE infinities in float columns as NaN: the message said "nan".
  TempDir dir;
  write_ogip_dataset(small_on_off_dataset(), dir.file("i.fits"));
  edit_fits(dir.file("i_arf.fits"), "SPECRESP", [](fitsfile* f, int* status) {
    double inf = std::numeric_limits<double>::infinity();
    fits_write_col(f, TDOUBLE, 3, 4, 1, 1, &inf, status);
  });
  expect_read_error(dir.file("i.fits"), {"i_arf.fits", "SPECRESP", "row 4 is inf"});
}

TEST(OgipBadInput, RmfArrayDescriptorBeyondTheHeap) {
  // A corrupt variable-length-array descriptor claiming 1e9 values: refused before anything is
  // allocated from it.
  TempDir dir;
  write_ogip_dataset(small_on_off_dataset(), dir.file("d.fits"));
  edit_fits(dir.file("d_rmf.fits"), "MATRIX", [](fitsfile* f, int* status) {
    int col = 0;
    fits_get_colnum(f, CASEINSEN, const_cast<char*>("MATRIX"), &col, status);
    fits_write_descript(f, col, 2, 1000000000L, 0, status);
  });
  expect_read_error(dir.file("d.fits"), {"d_rmf.fits", "MATRIX", "row 2", "beyond the heap"});
}

TEST(OgipBadInput, RmfDescribingAHugeMatrix) {
  // 10001 channels x 10000 true bins: 8 GB of dense matrix from an RMF of a few hundred kB
  // (every row N_GRP = 0). Refused before allocating.
  TempDir dir;
  constexpr long kChannels = 10001, kTrue = 10000;
  const auto table = [](const std::string& path, bool create, const char* extname,
                        std::vector<const char*> names, std::vector<const char*> forms,
                        std::vector<const char*> units, long rows,
                        const std::function<void(fitsfile*, int*)>& fill) {
    fitsfile* f = nullptr;
    int status = 0;
    if (create) fits_create_diskfile(&f, path.c_str(), &status);
    else fits_open_diskfile(&f, path.c_str(), READWRITE, &status);
    fits_create_tbl(f, BINARY_TBL, rows, static_cast<int>(names.size()),
                    const_cast<char**>(names.data()), const_cast<char**>(forms.data()),
                    const_cast<char**>(units.data()), extname, &status);
    fill(f, &status);
    fits_close_file(f, &status);
    ASSERT_EQ(status, 0) << path;
  };
  const auto log_edges = [](long n, double lo, double hi) {
    std::vector<double> e(n + 1);
    for (long k = 0; k <= n; ++k) e[k] = lo * std::pow(hi / lo, static_cast<double>(k) / n);
    return e;
  };
  const std::vector<double> reco = log_edges(kChannels, 0.1, 100), truth = log_edges(kTrue, 0.05, 200);
  const std::string pha = dir.file("big.fits"), arf = dir.file("big_arf.fits"),
                    rmf = dir.file("big_rmf.fits");
  table(pha, true, "SPECTRUM", {"CHANNEL", "COUNTS", "QUALITY", "BACKSCAL"}, {"J", "J", "I", "D"},
        {"", "", "", ""}, kChannels, [&](fitsfile* f, int* st) {
          std::vector<double> ones(kChannels, 1.0);
          fits_write_col(f, TDOUBLE, 4, 1, 1, kChannels, ones.data(), st);
          fits_update_key_dbl(f, "EXPOSURE", 3600.0, -17, nullptr, st);
          fits_update_key_lng(f, "OBS_ID", 1, nullptr, st);
          fits_update_key_str(f, "ANCRFILE", "big_arf.fits", nullptr, st);
          fits_update_key_str(f, "RESPFILE", "big_rmf.fits", nullptr, st);
        });
  table(pha, false, "EBOUNDS", {"CHANNEL", "E_MIN", "E_MAX"}, {"J", "D", "D"}, {"", "TeV", "TeV"},
        kChannels, [&](fitsfile* f, int* st) {
          fits_write_col(f, TDOUBLE, 2, 1, 1, kChannels, const_cast<double*>(reco.data()), st);
          fits_write_col(f, TDOUBLE, 3, 1, 1, kChannels, const_cast<double*>(reco.data() + 1), st);
        });
  table(arf, true, "SPECRESP", {"ENERG_LO", "ENERG_HI", "SPECRESP"}, {"D", "D", "D"},
        {"TeV", "TeV", "cm2"}, kTrue, [&](fitsfile* f, int* st) {
          std::vector<double> area(kTrue, 1e9);
          fits_write_col(f, TDOUBLE, 1, 1, 1, kTrue, const_cast<double*>(truth.data()), st);
          fits_write_col(f, TDOUBLE, 2, 1, 1, kTrue, const_cast<double*>(truth.data() + 1), st);
          fits_write_col(f, TDOUBLE, 3, 1, 1, kTrue, area.data(), st);
        });
  table(rmf, true, "MATRIX", {"ENERG_LO", "ENERG_HI", "N_GRP", "F_CHAN", "N_CHAN", "MATRIX"},
        {"E", "E", "I", "PI()", "PI()", "PE()"}, {"TeV", "TeV", "", "", "", ""}, kTrue,
        [&](fitsfile* f, int* st) { fits_update_key_lng(f, "DETCHANS", kChannels, nullptr, st); });
  expect_read_error(pha, {"big_rmf.fits", "MATRIX", "10000 true x 10001 reco bins",
                          "exceed the maximum"});
}

TEST(OgipBadInput, CountsAboveTheOverflowLimit) {
  // Counts of 1e160 made the statistic overflow (success with npred = DBL_MAX); the dataset
  // check refuses counts above 1e100, naming the file and the bin.
  TempDir dir;
  write_ogip_dataset(small_on_off_dataset(), dir.file("c.fits"));
  edit_fits(dir.file("c_bkg.fits"), "SPECTRUM", [](fitsfile* f, int* status) {
    // COUNTS as doubles (integers cannot hold 1e160): 5, 40, 1e160, 20, 0, 3.
    double counts[6] = {5, 40, 1e160, 20, 0, 3};
    fits_delete_col(f, 2, status);
    fits_insert_col(f, 2, const_cast<char*>("COUNTS"), const_cast<char*>("D"), status);
    fits_write_col(f, TDOUBLE, 2, 1, 1, 6, counts, status);
  });
  expect_read_error(dir.file("c.fits"), {"c.fits", "counts_off[2] = 1e+160", "exceeds 1e+100"});
}

// The ARF's TUNIT is a full unit expression: gammapy itself writes exposure / livetime
// unsimplified, e.g. "h-1 m2 s".
TEST(OgipIo, ArfUnitIsParsedAsAFullExpression) {
  TempDir dir;
  const SpectrumDataset ds = small_on_off_dataset();
  write_ogip_dataset(ds, dir.file("u.fits"));
  constexpr double kRel = 1e-14;
  for (const auto& [unit, to_cm2] :
       {std::pair<const char*, double>{"m2", 1e4}, {"h-1 m2 s", 1e4 / 3600.0}}) {
    edit_fits(dir.file("u_arf.fits"), "SPECRESP", [unit = unit](fitsfile* f, int* status) {
      fits_update_key_str(f, "TUNIT3", unit, nullptr, status);
    });
    const SpectrumDataset back = read_ogip_dataset(dir.file("u.fits"));
    for (std::size_t j = 0; j < ds.n_true(); ++j) {
      EXPECT_NEAR(back.exposure[j], ds.exposure[j] * to_cm2, ds.exposure[j] * to_cm2 * kRel)
          << unit << " bin " << j;
    }
  }
  edit_fits(dir.file("u_arf.fits"), "SPECRESP", [](fitsfile* f, int* status) {
    fits_update_key_str(f, "TUNIT3", "TeV", nullptr, status);
  });
  expect_read_error(dir.file("u.fits"), {"u_arf.fits", "SPECRESP", "TeV"});
}

}  // namespace
