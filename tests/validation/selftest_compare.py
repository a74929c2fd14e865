# Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
"""Check that compare.py passes what should pass and fails what should fail.

1. gammapy's golden files compared with themselves, with no excused cell: every case must PASS
   (exit 0).
2. Copies of one golden file, changed in ways that must not matter (energies written in TeV
   instead of keV): must PASS.
3. Copies changed beyond tolerance (norm, one stat_scan point, counts, a NaN UL where gammapy's
   scan shows a crossing): compare.py must exit 1 and name each of those columns FAIL.
4. A constant added to stat, stat_null and stat_scan (they are compared as they are, not up to a
   per-row offset): all three FAIL.
5. The real excused_cells.json against gammapy itself: its entries for this case agree, so they
   are stale there and must FAIL.
"""
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from astropy.io import fits

import cases as case_defs

HERE = Path(__file__).resolve().parent
CASE = "hess_pl"
kStatConstant = 0.01  # 10x the stat tolerance: must not pass as "the same up to a constant"
kNormPerturbation = 1e-2  # row 0: 0.13 sigma, beyond both norm rules (1e-3 rel, 0.02 sigma)
kScanPerturbation = 1e-3  # 10x the stat_scan tolerance


def compare(precomputed, only=None, excused=None):
    cmd = [sys.executable, str(HERE / "compare.py"), "--precomputed", str(precomputed)]
    if excused:
        cmd += ["--excused", str(excused)]
    if only:
        cmd += ["--only", *only]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    return proc.returncode, proc.stdout + proc.stderr


def column_verdicts(output):
    verdicts = {}
    for line in output.splitlines():
        parts = line.split()
        if len(parts) >= 5 and parts[4] in ("PASS", "FAIL"):
            verdicts[parts[0]] = parts[4]
    return verdicts


def write_modified(src, dst, modify):
    with fits.open(src) as hdul:
        modify(hdul["FLUXPOINTS"])
        hdul.writeto(dst, overwrite=True)


def harmless(hdu):
    data = hdu.data
    for name in ("e_ref", "e_min", "e_max"):
        data[name] = data[name] * 1e-9  # keV -> TeV
        hdu.columns[name].unit = "TeV"


def harmful(hdu):
    data = hdu.data
    data["norm"][0] *= 1 + kNormPerturbation
    data["stat_scan"][3][4] += kScanPerturbation
    data["counts"][1][0] += 1
    data["norm_ul"][2] = np.nan  # bright row: gammapy's scan crosses stat + 4 above the fit


def stat_constant(hdu):
    data = hdu.data
    for name in ("stat", "stat_null", "stat_scan"):
        data[name] = data[name] + kStatConstant


def main():
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        none_excused = Path(tmp) / "none_excused.json"
        none_excused.write_text('{"cases": {}}\n')
        rc, out = compare(case_defs.GOLDEN_DIR, excused=none_excused)
        if rc != 0 or "ALL PASS" not in out:
            failures.append("golden vs itself did not pass:\n" + out)

        rc, out = compare(case_defs.GOLDEN_DIR, [CASE])
        if rc == 0 or "excused in excused_cells.json but agrees" not in out:
            failures.append("stale excuses (gammapy vs itself) did not fail:\n" + out)

        src = case_defs.GOLDEN_DIR / f"{CASE}.fits"
        write_modified(src, Path(tmp) / f"{CASE}.fits", harmless)
        rc, out = compare(tmp, [CASE], none_excused)
        if rc != 0:
            failures.append("harmless changes failed:\n" + out)

        write_modified(src, Path(tmp) / f"{CASE}.fits", stat_constant)
        rc, out = compare(tmp, [CASE], none_excused)
        verdicts = column_verdicts(out)
        for column in ("stat", "stat_null", "stat_scan"):
            if verdicts.get(column) != "FAIL":
                failures.append(f"{column} + {kStatConstant} not reported FAIL:\n" + out)

        write_modified(src, Path(tmp) / f"{CASE}.fits", harmful)
        rc, out = compare(tmp, [CASE], none_excused)
        verdicts = column_verdicts(out)
        if rc == 0:
            failures.append("harmful changes passed:\n" + out)
        for column in ("norm", "stat_scan", "counts", "norm_ul"):
            if verdicts.get(column) != "FAIL":
                failures.append(f"{column} not reported FAIL:\n" + out)
        for column in ("norm_err", "ts", "stat_null", "npred"):
            if verdicts.get(column) != "PASS":
                failures.append(f"{column} not reported PASS:\n" + out)
        print(out)

    if failures:
        print("\n\n".join(failures))
        print("SELFTEST FAILED")
        return 1
    print("SELFTEST PASSED")
    return 0


if __name__ == "__main__":
    sys.exit(main())
