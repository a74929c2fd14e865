// Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
#pragma once
// The output rule every writer of fluxpoints follows (docs/outputs-and-faults.md):
//  * an existing output is replaced only when asked (`overwrite`, the commands' --overwrite);
//  * an output that is, or resolves to, one of the command's inputs is always refused;
//  * bytes go to a temporary file in the output's folder; every write, fsync and close is
//    checked, and the temporary is renamed onto the output only when all of it is on disk. On
//    any failure the previous output is untouched and the temporary removed; the error names the
//    output and the operating system's reason.

#include <stdexcept>
#include <string>
#include <vector>

namespace fluxpoints::io {

struct OutputRule {
  bool overwrite = false;           // replace an existing output
  std::vector<std::string> inputs;  // files the command reads: never written over
};

// A refused or failed output. `os_error` is the errno of a failed system call, 0 for a refusal
// by the rule (existing output, an input, a missing folder).
class OutputError : public std::runtime_error {
 public:
  OutputError(const std::string& message, int os_error)
      : std::runtime_error(message), os_error_(os_error) {}
  int os_error() const { return os_error_; }

 private:
  int os_error_;
};

// Throws OutputError when `path` may not be written under `rule`: its folder does not exist, it
// is a folder, it is one of rule.inputs (also through a link), or it exists and
// !rule.overwrite. For commands that check before a long computation; the writers check again.
void check_output(const std::string& path, const OutputRule& rule);

}  // namespace fluxpoints::io
