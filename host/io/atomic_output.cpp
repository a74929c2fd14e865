// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#include "host/io/atomic_output.hpp"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>

namespace fluxpoints::io {

namespace fs = std::filesystem;

AtomicOutput::AtomicOutput(std::string path) : path_(std::move(path)) {
  if (path_.empty()) throw std::runtime_error("output file name is empty");
  const fs::path p(path_);
  const fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw std::runtime_error(path_ + ": cannot write: folder '" + dir.string() +
                             "' does not exist");
  if (fs::is_directory(p, ec)) throw std::runtime_error(path_ + ": cannot write: it is a folder");
  static std::atomic<int> counter{0};
  // Same folder as the target so that the final rename stays on one file system. The extension is
  // kept so that libraries that look at it (cfitsio's compression by ".gz") behave the same.
  temp_ = (dir / ("." + p.filename().string() + ".tmp" + std::to_string(::getpid()) + "-" +
                  std::to_string(counter++) + p.extension().string()))
              .string();
}

AtomicOutput::~AtomicOutput() {
  if (!committed_) std::remove(temp_.c_str());
}

void AtomicOutput::commit() {
  if (std::rename(temp_.c_str(), path_.c_str()) != 0)
    throw std::runtime_error(path_ + ": cannot write: " + std::strerror(errno));
  committed_ = true;
}

}  // namespace fluxpoints::io
