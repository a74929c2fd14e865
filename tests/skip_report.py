# Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
"""List the tests of the last ctest run that skipped, each with its labels and the reason it gave.

  python3 tests/skip_report.py BUILD_DIR     (after ctest --output-junit ctest-junit.xml)

ctest itself prints only "(Skipped)"; the reasons are in each test's output: a GoogleTest skip
prints "<file>:<line>: Skipped" and the message, the scripts print "Skipped: <reason>".
With FLUXPOINTS_REQUIRE_ALL_TESTS=1 (CI) any skipped test without the label `gpu` is an error
(exit 1): there, only tests that need a CUDA device may skip. Standard library only.
"""
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

LABELS = ("gammapy", "shared-data", "gpu")


def tests_with_label(build_dir, label):
    out = subprocess.run(["ctest", "--test-dir", str(build_dir), "-N", "-L", f"^{label}$"],
                         capture_output=True, text=True, check=True).stdout
    return {m.group(1) for m in re.finditer(r"^\s*Test\s+#\d+: (.*)$", out, re.MULTILINE)}


def skip_reason(output):
    lines = output.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("Skipped: "):
            return line[len("Skipped: "):]
        if re.search(r":\d+: Skipped$", line):
            reason = []
            for follow in lines[i + 1:]:
                if follow.startswith("[  SKIPPED ]"):
                    break
                reason.append(follow)
            return " ".join(reason).strip() or "(no message)"
    return "(no reason printed)"


def main():
    build_dir = Path(sys.argv[1] if len(sys.argv) > 1 else "build")
    junit = build_dir / "ctest-junit.xml"
    if not junit.exists():
        print(f"skip_report: {junit} not found (run ctest with --output-junit ctest-junit.xml)")
        return 1
    skipped = []
    for case in ET.parse(junit).getroot().iter("testcase"):
        if case.get("status") == "notrun" and case.find("skipped") is not None:
            out = case.find("system-out")
            skipped.append((case.get("name"), skip_reason(out.text if out is not None else "")))
    labels = {label: tests_with_label(build_dir, label) for label in LABELS}
    require_all = os.environ.get("FLUXPOINTS_REQUIRE_ALL_TESTS") == "1"
    not_allowed = []
    print(f"== skipped tests: {len(skipped)}" + (", each with its labels and reason" if skipped
                                                 else ""))
    for name, reason in sorted(skipped):
        tags = ",".join(label for label in LABELS if name in labels[label]) or "no label"
        print(f"  {name} [{tags}]: {reason}")
        if name not in labels["gpu"]:
            not_allowed.append(name)
    if require_all and not_allowed:
        print(f"FAIL: FLUXPOINTS_REQUIRE_ALL_TESTS=1 and {len(not_allowed)} tests skipped for a "
              f"reason other than a missing CUDA device: {', '.join(not_allowed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
