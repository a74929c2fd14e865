// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
// The output module (host/io/output_file.hpp) on its own: the output rule, commit and abandon,
// a target that appears while the temporary is written, permissions of a replaced file, stale
// temporaries of dead processes, gzip, and the run lock. The same behaviour seen through the
// program, with injected faults, is in test_outputs_and_faults.cpp.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "host/io/output_file.hpp"
#include "scratch_files.hpp"
#include "test_io_helpers.hpp"

namespace fluxpoints::io {
namespace {

namespace fs = std::filesystem;
using ::fluxpoints::testing::message_of;
using ::fluxpoints::testing::slurp;
using ::fluxpoints::testing::TempDir;


std::size_t entries(const std::string& folder) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(folder)) ++n;
  return n;
}


TEST(OutputFile, RuleRefusesExistingFilesFoldersMissingFoldersAndInputs) {
  TempDir dir;
  const std::string input = dir.file("input.fits");
  std::ofstream(input) << "input";
  fs::create_symlink(input, dir.file("link.fits"));
  fs::create_hard_link(input, dir.file("hard.fits"));
  EXPECT_NE(message_of<OutputError>([&] { check_output(input, {}); }).find("--overwrite"), std::string::npos);
  for (const std::string& alias : {input, dir.file("link.fits"), dir.file("hard.fits")}) {
    const std::string why = message_of<OutputError>([&] { check_output(alias, OutputRule{true, {input}}); });
    EXPECT_NE(why.find("inputs"), std::string::npos) << why;
    EXPECT_NE(why.find(alias), std::string::npos) << why;
  }
  EXPECT_NE(message_of<OutputError>([&] { check_output(dir.file("no/such/out.fits"), {}); }).find("does not exist"),
            std::string::npos);
  EXPECT_NE(message_of<OutputError>([&] {
              check_output(dir.file(""), OutputRule{true, {}});
            }).find("folder"),
            std::string::npos);
  EXPECT_NO_THROW(check_output(dir.file("new.fits"), OutputRule{false, {input}}));
  EXPECT_NO_THROW(check_output(dir.file("link.fits"), OutputRule{true, {}}));
  EXPECT_EQ(slurp(input), "input");
}

TEST(OutputFile, CommitWritesAbandonLeavesNothing) {
  TempDir dir;
  const std::string path = dir.file("out.txt");
  {
    OutputFile out(path, {});
    out.write("hello ");
    EXPECT_TRUE(fs::exists(out.temp_path()));
    EXPECT_FALSE(fs::exists(path));
  }
  EXPECT_FALSE(fs::exists(path));
  EXPECT_EQ(entries(dir.file("")), 0u) << "an abandoned output leaves no temporary";
  {
    OutputFile out(path, {});
    out.write("hello ");
    out.write("world");
    out.commit();
  }
  EXPECT_EQ(slurp(path), "hello world");
  EXPECT_EQ(entries(dir.file("")), 1u);
  // Replacing keeps the file's permissions; an abandoned replacement keeps the file.
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write);
  {
    OutputFile out(path, OutputRule{true, {}});
    out.write("other");
  }
  EXPECT_EQ(slurp(path), "hello world");
  {
    OutputFile out(path, OutputRule{true, {}});
    out.write("other");
    out.commit();
  }
  EXPECT_EQ(slurp(path), "other");
  EXPECT_EQ(fs::status(path).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
}

TEST(OutputFile, TargetThatAppearsWhileWritingIsNotReplaced) {
  TempDir dir;
  const std::string path = dir.file("out.txt");
  OutputFile out(path, {});
  out.write("mine");
  std::ofstream(path) << "theirs";  // another process finished first
  const std::string why = message_of<OutputError>([&] { out.commit(); });
  EXPECT_NE(why.find("appeared"), std::string::npos) << why;
  EXPECT_EQ(slurp(path), "theirs");
}

std::string this_host() {
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  std::string h(host);
  for (char& c : h)
    if (c == '/' || c == '@') c = '_';
  return h.substr(0, 64);
}

TEST(OutputFile, TemporaryNamesAreRecognised) {
  TemporaryOwner owner;
  ASSERT_TRUE(parse_temporary_name(".fp.fits.tmp.fluxpoints.1234.7@node-7.cluster", &owner));
  EXPECT_EQ(owner.pid, 1234);
  EXPECT_EQ(owner.host, "node-7.cluster");
  for (const char* other :
       {"fp.fits.tmp.fluxpoints.1234.7@node", ".fp.fits.tmp", ".x.tmp.fluxpoints.12a.7@h",
        ".x.tmp.fluxpoints.12.7@", ".x.tmp.fluxpoints.12@h", ".fp.fits.tmp1234-0.fits"})
    EXPECT_FALSE(parse_temporary_name(other, &owner)) << other;
  TempDir dir;
  OutputFile out(dir.file("a.h5"), {});
  ASSERT_TRUE(parse_temporary_name(fs::path(out.temp_path()).filename().string(), &owner));
  EXPECT_EQ(owner.pid, ::getpid());
  EXPECT_EQ(owner.host, this_host());
}

TEST(OutputFile, StaleTemporariesOfDeadProcessesAreRemoved) {
  TempDir dir;
  const pid_t child = fork();
  if (child == 0) _exit(0);
  waitpid(child, nullptr, 0);  // a process that no longer runs
  const std::string host = this_host();
  const auto make = [&](const std::string& name) {
    std::ofstream(dir.file(name)) << "x";
    return dir.file(name);
  };
  const std::string dead = make(".a.fits.tmp.fluxpoints." + std::to_string(child) + ".0@" + host);
  const std::string alive =
      make(".b.fits.tmp.fluxpoints." + std::to_string(getppid()) + ".0@" + host);
  const std::string foreign_old = make(".c.fits.tmp.fluxpoints.1.0@another-host");
  const std::string foreign_new = make(".d.fits.tmp.fluxpoints.1.0@another-host");
  const std::string unrelated = make(".e.fits.tmp");
  fs::last_write_time(foreign_old, fs::file_time_type::clock::now() - std::chrono::hours(48));
  remove_stale_temporaries(dir.file(""));
  EXPECT_FALSE(fs::exists(dead));
  EXPECT_FALSE(fs::exists(foreign_old));
  EXPECT_TRUE(fs::exists(alive));
  EXPECT_TRUE(fs::exists(foreign_new));
  EXPECT_TRUE(fs::exists(unrelated));
}

std::string gunzip(const std::string& packed) {
  z_stream z{};
  EXPECT_EQ(inflateInit2(&z, 15 + 16), Z_OK);
  std::string out(1 << 20, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(packed.data()));
  z.avail_in = static_cast<uInt>(packed.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(inflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  inflateEnd(&z);
  return out;
}

TEST(OutputFile, GzNamesAreGzipFiles) {
  TempDir dir;
  std::string text;
  for (int i = 0; i < 1000; ++i)
    text += "SIMPLE  =                    T / line " + std::to_string(i) + "\n";
  write_output_file(dir.file("x.fits.gz"), text, {});
  write_output_file(dir.file("x.fits"), text, {});
  const std::string packed = slurp(dir.file("x.fits.gz"));
  ASSERT_GT(packed.size(), 2u);
  EXPECT_EQ(static_cast<unsigned char>(packed[0]), 0x1f);
  EXPECT_EQ(static_cast<unsigned char>(packed[1]), 0x8b);
  EXPECT_LT(packed.size(), text.size() / 4);
  EXPECT_EQ(gunzip(packed), text);
  EXPECT_EQ(slurp(dir.file("x.fits")), text);
  EXPECT_TRUE(has_gz_suffix("a.FITS.GZ"));
  EXPECT_FALSE(has_gz_suffix("a.fits"));
}

TEST(OutputFile, RunLockIsExclusiveNamesItsHolderAndIsRemoved) {
  TempDir dir;
  const std::string lock_path = dir.file("results.h5.lock");
  {
    RunLock first(lock_path, "results.h5");
    EXPECT_TRUE(first.held());
    EXPECT_TRUE(first.warning().empty());
    // flock conflicts between two open files, also within one process.
    const std::string why = message_of<OutputError>([&] { RunLock second(lock_path, "results.h5"); });
    EXPECT_NE(why.find("pid " + std::to_string(::getpid())), std::string::npos) << why;
    EXPECT_NE(why.find("another run"), std::string::npos) << why;
  }
  EXPECT_FALSE(fs::exists(lock_path));
  // A lock file left by a killed run (no process holds it) does not block.
  std::ofstream(lock_path) << "pid 1 on host gone, started long ago\n";
  RunLock again(lock_path, "results.h5");
  EXPECT_TRUE(again.held());
}

}  // namespace
}  // namespace fluxpoints::io
