// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// Write-then-rename for output files: writers fill temp_path() and call commit(), which renames it
// onto the final path. If anything throws before commit(), the destructor removes the temporary,
// so a failed run never leaves a half-written (or a clobbered) output behind.

#include <string>

namespace fluxpoints::io {

class AtomicOutput {
 public:
  // Throws std::runtime_error when the folder of `path` does not exist or `path` is a folder.
  explicit AtomicOutput(std::string path);
  ~AtomicOutput();
  AtomicOutput(const AtomicOutput&) = delete;
  AtomicOutput& operator=(const AtomicOutput&) = delete;

  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return temp_; }
  void commit();

 private:
  std::string path_, temp_;
  bool committed_ = false;
};

}  // namespace fluxpoints::io
