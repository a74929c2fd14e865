// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// Outputs and faults, tried on the real program as a user would meet them: the output rule of
// every command (an existing output is refused without --overwrite, an input is never written
// over), a disk that fills up while a command writes, failing fsync/close/rename, a process killed
// in the middle of a write, two batch runs on one output, source names no file name can hold,
// `.fits.gz`, the exit status of batch, --quiet/--verbose.
//
// Faults are injected with an LD_PRELOAD shim (tests/fault_injection/write_fault_shim.c) that
// makes the kernel calls that store bytes fail for the files of one folder, and, where this
// machine lets the test mount one, on a real small tmpfs. docs/outputs-and-faults.md lists every
// fault and what it yields.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "fluxpoints/catalog/catalog.hpp"
#include "fluxpoints/io/flux_points.hpp"
#include "host/io/hdf5_table.hpp"
#include "compare_tables.hpp"
#include "scratch_files.hpp"
#include "test_io_helpers.hpp"
#include "test_environment.hpp"

namespace fluxpoints {
namespace {

namespace fs = std::filesystem;

const std::string kBinary = FLUXPOINTS_BINARY;
const std::string kShim = FLUXPOINTS_FAULT_SHIM;
const std::string kModel = std::string(FLUXPOINTS_SOURCE_DIR) + "/data/example/model.yaml";

// ---- running the program ------------------------------------------------------------------------

using ::fluxpoints::testing::slurp;

struct ProgramRun {
  int status = -1;  // exit code, or 128 + signal number
  std::string out, err;
};

// One run of `fluxpoints` with extra environment variables; stdout and stderr go to files.
class Program {
 public:
  Program(const std::vector<std::string>& args, const std::vector<std::string>& env = {}) {
    static int counter = 0;
    const fs::path logs = ::fluxpoints::testing::scratch_path("faults", "logs");
    fs::create_directories(logs);
    out_ = logs / ("run" + std::to_string(counter) + ".out");
    err_ = logs / ("run" + std::to_string(counter++) + ".err");
    pid_ = fork();
    if (pid_ == 0) {
      for (const auto& e : env) putenv(const_cast<char*>(e.c_str()));
      std::vector<char*> argv{const_cast<char*>(kBinary.c_str())};
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      if (!freopen(out_.c_str(), "w", stdout) || !freopen(err_.c_str(), "w", stderr)) _exit(126);
      execv(kBinary.c_str(), argv.data());
      _exit(127);
    }
  }
  pid_t pid() const { return pid_; }
  ProgramRun wait() {
    int status = 0;
    waitpid(pid_, &status, 0);
    ProgramRun r;
    r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.out = slurp(out_);
    r.err = slurp(err_);
    return r;
  }

 private:
  pid_t pid_ = -1;
  fs::path out_, err_;
};

ProgramRun run(const std::vector<std::string>& args, const std::vector<std::string>& env = {}) {
  return Program(args, env).wait();
}

// The environment that loads the shim: `op` fails for files whose path contains `path_text`,
// after `after_bytes` bytes have been written to them.
std::vector<std::string> fault(const std::string& path_text, const std::string& op,
                               long long after_bytes, int error = ENOSPC) {
  return {"LD_PRELOAD=" + kShim, "FLUXPOINTS_FAULT_PATH=" + path_text, "FLUXPOINTS_FAULT_OP=" + op,
          "FLUXPOINTS_FAULT_AFTER_BYTES=" + std::to_string(after_bytes),
          "FLUXPOINTS_FAULT_ERRNO=" + std::to_string(error),
          // Sanitizer builds: the shim is preloaded before the sanitizer runtime.
          "ASAN_OPTIONS=verify_asan_link_order=0"};
}

// The shim is built with the tests; a test binary copied elsewhere (the GPU host's bundle) may
// not find it there.
#define REQUIRE_SHIM()                                                                \
  if (!fs::exists(kShim))                                                             \
  FLUXPOINTS_SKIP_OR_FAIL("the fault-injection shim is not at " + std::string(kShim))

std::string describe(const ProgramRun& r) {
  return "exit " + std::to_string(r.status) + "\n--- stdout:\n" + r.out + "\n--- stderr:\n" + r.err;
}

// Whether a file holds exactly `expected` (without printing megabytes when it does not).
::testing::AssertionResult holds(const std::string& path, const std::string& expected) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return ::testing::AssertionFailure() << path << " does not exist";
  const std::string actual = slurp(path);
  if (actual == expected) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << path << " has " << actual.size() << " bytes that differ from the " << expected.size()
         << " expected";
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Files a writer would leave behind if it did not clean up: temporaries (ours are named
// ".NAME.tmp.fluxpoints.PID.N@HOST"; earlier versions used NAME.tmp, .NAME.tmpPID-N and
// NAME.partial).
std::vector<std::string> temporaries(const fs::path& folder) {
  std::vector<std::string> found;
  std::error_code ec;
  for (const auto& e : fs::recursive_directory_iterator(folder, ec)) {
    const std::string name = e.path().filename().string();
    if (contains(name, ".tmp") || contains(name, ".partial")) found.push_back(e.path().string());
  }
  return found;
}

// ---- inputs shared by the tests of one process --------------------------------------------------

struct Inputs {
  std::vector<std::string> phas;  // two simulated On/Off observations (OGIP)
  std::string catalog;            // a generated 40-source catalog
};

fs::path scratch(const std::string& name) {
  return ::fluxpoints::testing::scratch_path("faults", name);
}

const Inputs& inputs() {
  static const Inputs in = [] {
    Inputs i;
    const fs::path dir = scratch("inputs");
    fs::create_directories(dir);
    const ProgramRun sim =
        run({"simulate", "--models", kModel, "--source", "example-source", "--n-obs", "2", "--seed",
             "1", "--name", "obs", "-o", dir.string()});
    EXPECT_EQ(sim.status, 0) << describe(sim);
    i.phas = {(dir / "obs_0001.fits").string(), (dir / "obs_0002.fits").string()};
    i.catalog = (dir / "catalog.h5").string();
    const ProgramRun cat = run({"simulate", "--catalog", "40", "--seed", "7", "-o", i.catalog});
    EXPECT_EQ(cat.status, 0) << describe(cat);
    return i;
  }();
  return in;
}

std::vector<std::string> estimate_args(const std::string& output,
                                       const std::vector<std::string>& extra = {}) {
  std::vector<std::string> a = {"estimate", "--datasets"};
  for (const auto& p : inputs().phas) a.push_back(p);
  const std::vector<std::string> rest = {"--models",
                                         kModel,
                                         "--source",
                                         "example-source",
                                         "--energy-edges",
                                         "0.2,1,5,20",
                                         "--energy-unit",
                                         "TeV",
                                         "--selection",
                                         "all",
                                         "--backend",
                                         "cpu",
                                         "-o",
                                         output};
  a.insert(a.end(), rest.begin(), rest.end());
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

std::vector<std::string> batch_args(const std::string& catalog, const std::string& output,
                                    const std::vector<std::string>& extra = {}) {
  std::vector<std::string> a = {"batch",           catalog, "-o",           output,
                                "--backend",       "cpu",   "--workers",    "1",
                                "--chunk-sources", "10",    "--no-progress"};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

// A fresh folder for one test (and its own subfolders), removed at the end.
using ::fluxpoints::testing::TempDir;

// ---- the output rule ----------------------------------------------------------------------------

TEST(OutputsAndFaults, AnExistingOutputIsRefusedWithoutOverwrite) {
  TempDir dir;
  const std::string out = dir.file("fp.fits");
  ProgramRun r = run(estimate_args(out));
  ASSERT_EQ(r.status, 0) << describe(r);
  const std::string first = slurp(out);
  r = run(estimate_args(out));
  EXPECT_EQ(r.status, 1) << describe(r);
  EXPECT_TRUE(contains(r.err, out) && contains(r.err, "--overwrite")) << r.err;
  EXPECT_TRUE(holds(out, first));
  r = run(estimate_args(out, {"--overwrite"}));
  EXPECT_EQ(r.status, 0) << describe(r);

  // The HDF5 writers: simulate --catalog, convert, batch.
  const std::string cat = dir.file("cat.h5");
  ASSERT_EQ(run({"simulate", "--catalog", "5", "--seed", "1", "-o", cat}).status, 0);
  const std::string cat_bytes = slurp(cat);
  r = run({"simulate", "--catalog", "5", "--seed", "2", "-o", cat});
  EXPECT_EQ(r.status, 1) << describe(r);
  EXPECT_TRUE(contains(r.err, cat) && contains(r.err, "--overwrite")) << r.err;
  EXPECT_TRUE(holds(cat, cat_bytes)) << "simulate --catalog replaced an existing file";
  r = run({"simulate", "--catalog", "5", "--seed", "2", "-o", cat, "--overwrite"});
  EXPECT_EQ(r.status, 0) << describe(r);
  EXPECT_FALSE(holds(cat, cat_bytes));

  const std::string converted = dir.file("converted.h5");
  std::vector<std::string> convert = {"convert", "--models", kModel, "-o", converted, "--datasets"};
  for (const auto& p : inputs().phas) convert.push_back(p);
  ASSERT_EQ(run(convert).status, 0);
  r = run(convert);
  EXPECT_EQ(r.status, 1) << describe(r);
  EXPECT_TRUE(contains(r.err, "--overwrite")) << r.err;
  convert.push_back("--overwrite");
  EXPECT_EQ(run(convert).status, 0);

  const std::string results = dir.file("results.h5");
  ASSERT_EQ(run(batch_args(cat, results)).status, 0);
  const std::string result_bytes = slurp(results);
  r = run(batch_args(cat, results));
  EXPECT_EQ(r.status, 1) << describe(r);
  EXPECT_TRUE(contains(r.err, results) && contains(r.err, "--overwrite")) << r.err;
  EXPECT_TRUE(holds(results, result_bytes));
  EXPECT_EQ(run(batch_args(cat, results, {"--overwrite"})).status, 0);
}

TEST(OutputsAndFaults, NoCommandWritesOverItsInputs) {
  TempDir dir;
  // Copies, so that a failure here cannot spoil the inputs of the other tests.
  std::vector<std::string> phas;
  for (const auto& p : inputs().phas) {
    const std::string stem = fs::path(p).stem().string();
    for (const char* suffix : {"", "_arf", "_bkg", "_rmf"}) {
      const fs::path from = fs::path(p).parent_path() / (stem + suffix + ".fits");
      fs::copy_file(from, dir.file(stem + suffix + ".fits"));
    }
    phas.push_back(dir.file(stem + ".fits"));
  }
  const auto estimate_into = [&](const std::string& out) {
    std::vector<std::string> a = estimate_args(out, {"--overwrite"});
    for (std::size_t k = 0; k < a.size(); ++k)
      if (a[k] == inputs().phas[0]) a[k] = phas[0];
    return a;
  };
  fs::create_symlink(phas[0], dir.file("alias.fits"));
  for (const std::string& target :
       {phas[0], dir.file("obs_0001_bkg.fits"), dir.file("alias.fits")}) {
    const std::string before = slurp(target);
    const ProgramRun r = run(estimate_into(target));
    EXPECT_EQ(r.status, 1) << target << "\n" << describe(r);
    EXPECT_TRUE(contains(r.err, "input")) << r.err;
    EXPECT_TRUE(holds(target, before)) << "estimate wrote over its input " << target;
  }
  {
    const std::string before = slurp(phas[0]);
    const ProgramRun r = run({"convert", "--models", kModel, "--datasets", phas[0], phas[1], "-o",
                              phas[0], "--overwrite"});
    EXPECT_EQ(r.status, 1) << describe(r);
    EXPECT_TRUE(contains(r.err, "input")) << r.err;
    EXPECT_TRUE(holds(phas[0], before)) << "convert wrote over its input PHA";
  }
  {
    const std::string cat = dir.file("cat.h5");
    fs::copy_file(inputs().catalog, cat);
    const std::string before = slurp(cat);
    const ProgramRun r = run(batch_args(cat, cat, {"--overwrite"}));
    EXPECT_EQ(r.status, 1) << describe(r);
    EXPECT_TRUE(contains(r.err, "input")) << r.err;
    EXPECT_TRUE(holds(cat, before));
  }
}

// ---- disk full, failing fsync / close / rename
// ----------------------------------------------------

TEST(OutputsAndFaults, DiskFullWhileWritingFluxPointsKeepsThePreviousFile) {
  REQUIRE_SHIM();
  TempDir dir;
  for (const std::string name : {"fp.fits", "fp.fits.gz", "fp.ecsv"}) {
    const std::string out = dir.file(name);
    ASSERT_EQ(run(estimate_args(out)).status, 0);
    const std::string good = slurp(out);
    // The disk fills up before the first byte, half-way, and one byte before the end.
    const long long size = static_cast<long long>(good.size());
    for (long long after : {0LL, size / 2, size - 1}) {
      const ProgramRun r =
          run(estimate_args(out, {"--overwrite"}), fault(dir.file(""), "write", after));
      EXPECT_EQ(r.status, 1) << name << " after " << after << " bytes\n" << describe(r);
      EXPECT_TRUE(contains(r.err, out) && contains(r.err, std::strerror(ENOSPC))) << r.err;
      EXPECT_FALSE(contains(r.out, "written")) << r.out;
      EXPECT_TRUE(holds(out, good)) << name << ": the previous output was changed";
      EXPECT_EQ(temporaries(dir.file("")), std::vector<std::string>{});
    }
  }
}

TEST(OutputsAndFaults, FailingFsyncCloseOrRenameKeepsThePreviousFile) {
  REQUIRE_SHIM();
  TempDir dir;
  const std::string out = dir.file("fp.fits");
  ASSERT_EQ(run(estimate_args(out)).status, 0);
  const std::string good = slurp(out);
  for (const std::string op : {"fsync", "close", "rename"}) {
    const ProgramRun r = run(estimate_args(out, {"--overwrite"}), fault(dir.file(""), op, 0, EIO));
    EXPECT_EQ(r.status, 1) << op << "\n" << describe(r);
    EXPECT_TRUE(contains(r.err, out) && contains(r.err, std::strerror(EIO))) << op << ": " << r.err;
    EXPECT_TRUE(holds(out, good)) << op;
    EXPECT_EQ(temporaries(dir.file("")), std::vector<std::string>{}) << op;
  }
}

// simulate --catalog, convert and batch (chunk files, then the merged file) write HDF5. A write
// error inside HDF5 used to leave a broken file id that HDF5's exit handler closed again:
// exit 139 and a temporary left behind.
TEST(OutputsAndFaults, EveryHdf5WriterFailsCleanlyWhenTheDiskFills) {
  REQUIRE_SHIM();
  TempDir dir;
  const fs::path out_dir = dir.file("out");
  fs::create_directories(out_dir);
  const std::string cat = (out_dir / "cat.h5").string();
  const std::string converted = (out_dir / "converted.h5").string();
  const std::string results = (out_dir / "results.h5").string();
  std::vector<std::string> convert = {"convert", "--models",    kModel,      "-o",
                                      converted, "--overwrite", "--datasets"};
  for (const auto& p : inputs().phas) convert.push_back(p);
  const std::vector<std::vector<std::string>> commands = {
      {"simulate", "--catalog", "40", "--seed", "7", "-o", cat, "--overwrite"},
      convert,
      batch_args(inputs().catalog, results, {"--overwrite"})};
  const std::vector<std::string> targets = {cat, converted, results};
  for (std::size_t c = 0; c < commands.size(); ++c) {
    ASSERT_EQ(run(commands[c]).status, 0) << commands[c][0];
    const std::string good = slurp(targets[c]);
    // 0: the first write fails; then budgets that end inside the data, the chunk files or the
    // merged file.
    for (long long after : {0LL, 3000LL, 60000LL, 400000LL}) {
      const ProgramRun r = run(commands[c], fault(out_dir.string() + "/", "write", after));
      SCOPED_TRACE(commands[c][0] + " with " + std::to_string(after) +
                   " bytes before the disk is full");
      if (r.status == 0) {
        // The budget sufficed: the file must be whole.
        EXPECT_GT(fs::file_size(targets[c]), static_cast<std::uintmax_t>(after) / 2) << describe(r);
        continue;
      }
      EXPECT_EQ(r.status, 1) << describe(r);
      EXPECT_TRUE(contains(r.err, fs::path(targets[c]).filename().string())) << r.err;
      EXPECT_TRUE(contains(r.err, std::strerror(ENOSPC))) << r.err;
      EXPECT_TRUE(holds(targets[c], good)) << "the previous file was changed";
      EXPECT_EQ(temporaries(out_dir), std::vector<std::string>{});
    }
  }
}

TEST(OutputsAndFaults, FitsDirDiskFullAbortsTheBatchAndKeepsEarlierFiles) {
  REQUIRE_SHIM();
  TempDir dir;
  const std::string results = dir.file("results.h5");
  const std::string fits_dir = dir.file("sed");
  ProgramRun r = run(batch_args(inputs().catalog, results, {"--fits-dir", fits_dir}));
  ASSERT_EQ(r.status, 0) << describe(r);
  const std::string first_file = (fs::path(fits_dir) / "000000_src0.fits").string();
  ASSERT_TRUE(fs::exists(first_file));
  const std::string good = slurp(first_file);
  r = run(batch_args(inputs().catalog, results, {"--fits-dir", fits_dir, "--overwrite"}),
          fault(fits_dir + "/", "write", 30000));
  EXPECT_EQ(r.status, 1) << describe(r);
  EXPECT_TRUE(contains(r.err, std::strerror(ENOSPC)) && contains(r.err, fits_dir)) << r.err;
  EXPECT_TRUE(holds(first_file, good));
  EXPECT_EQ(temporaries(fits_dir), std::vector<std::string>{});
}

// A real file system that fills up (tmpfs of a few hundred KiB). Needs the right to mount
// (root or CAP_SYS_ADMIN): skipped otherwise, saying why.
class SmallFileSystem {
 public:
  SmallFileSystem(const fs::path& where, const std::string& size) : path_(where) {
    fs::create_directories(path_);
    if (::mount("tmpfs", path_.c_str(), "tmpfs", 0, ("size=" + size).c_str()) != 0)
      why_not_ = std::string("cannot mount a tmpfs here: ") + std::strerror(errno);
    else
      mounted_ = true;
  }
  ~SmallFileSystem() {
    if (mounted_) ::umount2(path_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }
  const std::string& why_not() const { return why_not_; }
  // Leaves `free_bytes` free (about: tmpfs counts pages) by growing a filler file.
  void leave_free(std::uint64_t free_bytes) {
    const fs::path filler = path_ / "filler";
    fs::remove(filler);
    struct statvfs s {};
    statvfs(path_.c_str(), &s);
    const std::uint64_t avail = static_cast<std::uint64_t>(s.f_bavail) * s.f_frsize;
    if (avail <= free_bytes) return;
    std::ofstream(filler, std::ios::binary) << std::string(avail - free_bytes, '\0');
  }

 private:
  fs::path path_;
  bool mounted_ = false;
  std::string why_not_;
};

TEST(OutputsAndFaults, RealSmallFileSystemFillsUp) {
  TempDir dir;
  SmallFileSystem small(dir.file("small"), "512k");
  if (!small.mounted()) FLUXPOINTS_SKIP_OR_FAIL(small.why_not());
  const std::string reference = dir.file("reference.fits");
  ASSERT_EQ(run(estimate_args(reference)).status, 0);
  const std::string out = dir.file("small/fp.fits");
  ASSERT_EQ(run(estimate_args(out)).status, 0);
  const std::string good = slurp(out);
  ASSERT_TRUE(holds(reference, good));
  int failed = 0;
  for (std::uint64_t free_kib : {0, 4, 8, 12, 16, 20, 24, 28, 32, 64}) {
    small.leave_free(free_kib * 1024);
    const ProgramRun r = run(estimate_args(out, {"--overwrite"}));
    SCOPED_TRACE(std::to_string(free_kib) + " KiB free");
    if (r.status == 0) {
      EXPECT_TRUE(holds(out, good))
          << "exit 0 with a different file: " << fs::file_size(out) << " bytes";
    } else {
      ++failed;
      EXPECT_EQ(r.status, 1) << describe(r);
      EXPECT_TRUE(contains(r.err, std::strerror(ENOSPC))) << r.err;
      EXPECT_TRUE(holds(out, good)) << "the previous output was changed";
    }
    EXPECT_EQ(temporaries(dir.file("small")), std::vector<std::string>{});
  }
  EXPECT_GT(failed, 0) << "the file system never filled up: nothing was tested";

  // An HDF5 writer on the full file system: a clear error, not a crash.
  small.leave_free(16 * 1024);
  const ProgramRun r =
      run({"simulate", "--catalog", "200", "--seed", "1", "-o", dir.file("small/cat.h5")});
  EXPECT_EQ(r.status, 1) << describe(r);
  EXPECT_TRUE(contains(r.err, std::strerror(ENOSPC))) << r.err;
  EXPECT_FALSE(fs::exists(dir.file("small/cat.h5")));
  EXPECT_EQ(temporaries(dir.file("small")), std::vector<std::string>{});
}

// ---- killed in the middle of a write ------------------------------------------------------------

TEST(OutputsAndFaults, KilledEstimateLeavesATemporaryTheNextRunRemoves) {
  REQUIRE_SHIM();
  TempDir dir;
  const std::string out = dir.file("fp.fits");
  ASSERT_EQ(run(estimate_args(out)).status, 0);
  const std::string good = slurp(out);
  const ProgramRun killed =
      run(estimate_args(out, {"--overwrite"}), fault(dir.file(""), "kill", 1000));
  ASSERT_EQ(killed.status, 128 + SIGKILL) << describe(killed);
  EXPECT_TRUE(holds(out, good));
  EXPECT_EQ(temporaries(dir.file("")).size(), 1u) << "a SIGKILL cannot be cleaned up after";
  // The next command that writes into this folder removes the dead process's temporary.
  const ProgramRun next = run(estimate_args(dir.file("other.fits")));
  EXPECT_EQ(next.status, 0) << describe(next);
  EXPECT_EQ(temporaries(dir.file("")), std::vector<std::string>{});
  EXPECT_TRUE(holds(out, good));
}

// ---- two batch runs on one output ---------------------------------------------------------------

std::size_t chunk_files(const std::string& folder) {
  std::size_t n = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(folder, ec))
    n += e.path().extension() == ".h5" ? 1 : 0;
  return n;
}

void wait_for_chunks(const std::string& parts, std::size_t n) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (chunk_files(parts) < n && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
}

using ::fluxpoints::testing::expect_same_result_files;

TEST(OutputsAndFaults, TwoBatchRunsCannotWriteOneOutput) {
  TempDir dir;
  const std::string reference = dir.file("reference.h5");
  ASSERT_EQ(run(batch_args(inputs().catalog, reference)).status, 0);
  const std::string out = dir.file("results.h5");
  // A slow run (4 chunks x 1 s, so that it still runs while the others are tried) ...
  Program first(batch_args(inputs().catalog, out), {"FLUXPOINTS_BATCH_TEST_DELAY_MS=1000"});
  wait_for_chunks(out + ".parts", 1);
  // ... and a second one on the same output, as a requeued job would start it: refused at once,
  // naming the first, with or without --resume or --overwrite.
  for (const std::vector<std::string>& extra : std::vector<std::vector<std::string>>{
           {}, {"--resume"}, {"--overwrite"}, {"--resume", "--overwrite"}}) {
    const auto t0 = std::chrono::steady_clock::now();
    ASSERT_EQ(waitpid(first.pid(), nullptr, WNOHANG), 0)
        << "the first run ended too early: nothing tested";
    const ProgramRun second = run(batch_args(inputs().catalog, out, extra));
    EXPECT_EQ(second.status, 1) << describe(second);
    EXPECT_TRUE(contains(second.err, "pid " + std::to_string(first.pid()))) << second.err;
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5))
        << "not refused at once";
  }
  const ProgramRun r = first.wait();
  ASSERT_EQ(r.status, 0) << describe(r);
  expect_same_result_files(reference, out);
  EXPECT_FALSE(fs::exists(out + ".lock"));
  EXPECT_EQ(temporaries(dir.file("")), std::vector<std::string>{});
}

TEST(OutputsAndFaults, KilledBatchDoesNotBlockItsResume) {
  TempDir dir;
  const std::string reference = dir.file("reference.h5");
  ASSERT_EQ(run(batch_args(inputs().catalog, reference)).status, 0);
  const std::string out = dir.file("results.h5");
  Program first(batch_args(inputs().catalog, out), {"FLUXPOINTS_BATCH_TEST_DELAY_MS=300"});
  wait_for_chunks(out + ".parts", 1);
  ASSERT_EQ(kill(first.pid(), SIGKILL), 0);
  EXPECT_EQ(first.wait().status, 128 + SIGKILL);
  const ProgramRun resumed = run(batch_args(inputs().catalog, out, {"--resume"}));
  ASSERT_EQ(resumed.status, 0) << describe(resumed);
  expect_same_result_files(reference, out);
  EXPECT_FALSE(fs::exists(out + ".lock"));
  EXPECT_FALSE(fs::exists(out + ".parts"));
  EXPECT_EQ(temporaries(dir.file("")), std::vector<std::string>{});
}

// ---- --fits-dir names, .fits.gz -----------------------------------------------------------------

TEST(OutputsAndFaults, AnySourceNameGetsASafeBoundedFitsFileName) {
  TempDir dir;
  const std::string odd = dir.file("odd_names.h5");
  const std::vector<std::string> names = {std::string(300, 'x'),
                                          "a/b/../c",
                                          "\xc3\xbcn\xc3\xaf c\xc3\xb4"
                                          "d\xc3\xa9",
                                          "dup",
                                          "dup",
                                          "",
                                          ".hidden",
                                          std::string(254, 'y') + "/"};
  {
    catalog::CatalogReader source(inputs().catalog);
    catalog::CatalogWriter w(odd);
    EstimatorOptions o;
    source.apply_options(o);
    w.set_options(o);
    const auto sources = source.read_sources(0, static_cast<std::int64_t>(names.size()));
    for (std::size_t k = 0; k < names.size(); ++k) {
      catalog::Source s = sources[k];
      s.datasets.clear();
      for (const auto& read : source.read_datasets(sources[k].datasets))
        s.datasets.push_back(w.add_dataset(*read.dataset));
      s.name = names[k];
      w.add_source(s);
    }
    w.close();
  }
  const std::string fits_dir = dir.file("sed");
  const ProgramRun r = run(batch_args(odd, dir.file("results.h5"), {"--fits-dir", fits_dir}));
  ASSERT_EQ(r.status, 0) << describe(r);
  std::size_t n = 0;
  for (const auto& e : fs::directory_iterator(fits_dir)) {
    const std::string name = e.path().filename().string();
    EXPECT_LE(name.size(), 255u);
    EXPECT_NE(name[0], '.') << name;
    EXPECT_NO_THROW(io::read_flux_points(e.path().string())) << name;
    ++n;
  }
  EXPECT_EQ(n, names.size()) << "one file per source, none overwritten by another";
}

TEST(OutputsAndFaults, FitsGzIsARealGzipFile) {
  TempDir dir;
  const std::string plain = dir.file("fp.fits"), packed = dir.file("fp.fits.gz");
  ASSERT_EQ(run(estimate_args(plain)).status, 0);
  ASSERT_EQ(run(estimate_args(packed)).status, 0);
  const std::string bytes = slurp(packed);
  ASSERT_GE(bytes.size(), 2u);
  EXPECT_EQ(static_cast<unsigned char>(bytes[0]), 0x1f);
  EXPECT_EQ(static_cast<unsigned char>(bytes[1]), 0x8b);
  EXPECT_LT(bytes.size(), fs::file_size(plain));
  const io::FluxPointsTable a = io::read_flux_points(plain), b = io::read_flux_points(packed);
  ASSERT_EQ(a.n_rows, b.n_rows);
  for (const auto& c : a.columns) {
    ASSERT_NE(b.find(c.name), nullptr) << c.name;
    for (std::size_t i = 0; i < c.data.size(); ++i)
      EXPECT_TRUE(c.data[i] == b.find(c.name)->data[i] ||
                  (std::isnan(c.data[i]) && std::isnan(b.find(c.name)->data[i])));
  }
}

TEST(OutputsAndFaults, GammapyReadsFitsGz) {
  std::string python;
  FLUXPOINTS_NEEDS_GAMMAPY(python);
  TempDir dir;
  const std::string packed = dir.file("fp.fits.gz");
  ASSERT_EQ(run(estimate_args(packed)).status, 0);
  const std::size_t rows = io::read_flux_points(packed).n_rows;
  const std::string script = dir.file("read.py");
  std::ofstream(script) << "import sys\nfrom gammapy.estimators import FluxPoints\n"
                           "fp = FluxPoints.read(sys.argv[1], sed_type='likelihood')\n"
                           "print(len(fp.energy_ref))\n";
  const std::string cmd =
      python + " " + script + " " + packed + " > " + dir.file("py.out") + " 2>&1";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << slurp(dir.file("py.out"));
  EXPECT_EQ(std::stoul(slurp(dir.file("py.out"))), rows) << slurp(dir.file("py.out"));
}

// ---- batch exit status, --quiet, --verbose
// --------------------------------------------------------

TEST(OutputsAndFaults, BatchExitStatusSaysWhetherSourcesFailed) {
  TempDir dir;
  const std::string planted = dir.file("planted.h5");
  {
    catalog::CatalogReader source(inputs().catalog);
    catalog::CatalogWriter w(planted);
    EstimatorOptions o;
    source.apply_options(o);
    w.set_options(o);
    for (const catalog::Source& s : source.read_sources(0, 10)) {
      catalog::Source copy = s;
      copy.datasets.clear();
      for (const auto& read : source.read_datasets(s.datasets)) {
        datasets::SpectrumDataset ds = *read.dataset;
        if (s.name == "src4") ds.exposure[3] = std::nan("");
        copy.datasets.push_back(w.add_dataset(ds));
      }
      w.add_source(copy);
    }
    w.close();
  }
  ProgramRun r = run(batch_args(planted, dir.file("r.h5")));
  EXPECT_EQ(r.status, 2) << describe(r);
  EXPECT_TRUE(contains(r.err, "1 of 10 sources failed") && contains(r.err, "src4")) << r.err;
  EXPECT_TRUE(fs::exists(dir.file("r.h5"))) << "the results of the other sources are written";
  r = run(batch_args(planted, dir.file("r2.h5"), {"--allow-failures"}));
  EXPECT_EQ(r.status, 0) << describe(r);
  EXPECT_TRUE(contains(r.err, "1 of 10 sources failed")) << r.err;
}

TEST(OutputsAndFaults, QuietPrintsOnlyErrorsAndVerboseMore) {
  TempDir dir;
  const ProgramRun normal = run(estimate_args(dir.file("a.fits")));
  const ProgramRun quiet = run(estimate_args(dir.file("b.fits"), {"--quiet"}));
  const ProgramRun verbose = run(estimate_args(dir.file("c.fits"), {"--verbose"}));
  ASSERT_EQ(normal.status, 0);
  EXPECT_EQ(quiet.status, 0) << describe(quiet);
  EXPECT_EQ(quiet.out + quiet.err, "");
  EXPECT_TRUE(fs::exists(dir.file("b.fits")));
  EXPECT_EQ(verbose.status, 0) << describe(verbose);
  EXPECT_GT(verbose.err.size(), normal.err.size()) << verbose.err;
  const ProgramRun refused = run(estimate_args(dir.file("b.fits"), {"--quiet"}));
  EXPECT_EQ(refused.status, 1);
  EXPECT_TRUE(contains(refused.err, "--overwrite")) << "errors are printed with --quiet too";

  const ProgramRun batch =
      run({"batch", inputs().catalog, "-o", dir.file("r.h5"), "--backend", "cpu", "--quiet"});
  EXPECT_EQ(batch.status, 0) << describe(batch);
  EXPECT_EQ(batch.out + batch.err, "");
  const ProgramRun sim = run({"simulate", "--catalog", "3", "-o", dir.file("c.h5"), "--quiet"});
  EXPECT_EQ(sim.status, 0) << describe(sim);
  EXPECT_EQ(sim.out + sim.err, "");
}

}  // namespace
}  // namespace fluxpoints
