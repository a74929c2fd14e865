// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// The one place where fluxpoints puts output files on disk (the rule: fluxpoints/io/output.hpp,
// docs/outputs-and-faults.md). Every writer (FITS, ECSV, OGIP, HDF5 catalogs, chunk and result
// files, --fits-dir) goes through OutputFile:
//
//   OutputFile out(path, rule);        // checks the rule, creates the temporary
//   out.write(bytes);                  // ... or a library writes temp_path() by name (HDF5)
//   out.commit();                      // fsync, close, rename onto path; all checked
//
// The temporary lives in the output's folder (so the rename stays on one file system) and is
// named ".NAME.tmp.fluxpoints.PID.N@HOST". A process killed with SIGKILL cannot remove it; the
// next fluxpoints process that writes into the same folder removes the temporaries of processes
// that no longer run on this host (and those of other hosts untouched for a day). Temporaries
// are named rather than unnamed (O_TMPFILE) because cfitsio and HDF5 open files by name and
// because O_TMPFILE is missing on the network file systems clusters use.

#include <cstddef>
#include <string>
#include <string_view>

#include "fluxpoints/io/output.hpp"

namespace fluxpoints::io {

class OutputFile {
 public:
  // Checks `rule` (check_output) and creates the temporary. Throws OutputError.
  OutputFile(std::string path, const OutputRule& rule);
  // Without commit(): removes the temporary; an existing output stays as it was.
  ~OutputFile();
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  const std::string& path() const { return path_; }
  // For libraries that write by name (HDF5): write here, close it, then commit().
  const std::string& temp_path() const { return temp_; }

  // Appends to the temporary; throws OutputError naming the output and the OS error.
  void write(const void* data, std::size_t size);
  void write(std::string_view bytes) { write(bytes.data(), bytes.size()); }

  // Flushes the temporary to disk (fsync), closes it and renames it onto path(): without
  // `overwrite` the rename fails rather than replace a file that appeared meanwhile. Then syncs
  // the folder. Throws OutputError; before the rename nothing at path() has changed.
  void commit();

 private:
  [[noreturn]] void fail(const std::string& what, int error) const;

  std::string path_, temp_;
  bool overwrite_ = false;
  int fd_ = -1;
  bool committed_ = false;
};

// Writes `bytes` to `path` through an OutputFile (gzip-compressed when the name ends in ".gz").
void write_output_file(const std::string& path, std::string_view bytes, const OutputRule& rule);

// gzip format (RFC 1952) of `bytes`, as `gzip` writes it; throws std::runtime_error.
std::string gzip_compress(std::string_view bytes);
bool has_gz_suffix(const std::string& path);

// Whether a file name is one of our temporaries, and whose.
struct TemporaryOwner {
  long pid = 0;
  std::string host;
};
bool parse_temporary_name(const std::string& file_name, TemporaryOwner* owner);

// Removes the temporaries of dead processes in `folder` (see above). Best effort; errors are
// ignored. OutputFile calls it once per folder and process.
void remove_stale_temporaries(const std::string& folder);

// An exclusive lock that says "this run writes OUTPUT": flock(2) on a lock file held for the
// object's lifetime, with the holder's pid, host and start time in the file for the message the
// next run prints. A lock dies with its process (also with kill -9), so a killed run never
// blocks the next. On file systems without flock the run goes on unlocked: held() is false and
// warning() says so.
class RunLock {
 public:
  // Throws OutputError when another process holds the lock, naming it.
  RunLock(const std::string& lock_path, const std::string& output);
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;
  bool held() const { return fd_ >= 0; }
  const std::string& warning() const { return warning_; }

 private:
  std::string path_, warning_;
  int fd_ = -1;
};

}  // namespace fluxpoints::io
