# Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
"""`fluxpoints estimate` on the files gammapy's Datasets.write makes, against gammapy.

  datasets_index_check.py FLUXPOINTS_EXE --work-dir DIR

Simulates with gammapy (fixed seed, synthetic IRFs) a SpectrumDatasetOnOff and a SpectrumDataset
(Cash with a known background) seen by a source and a second, fixed sky model, writes them with
`Datasets.write` (datasets.yaml, models.yaml and one gadf FITS file per dataset), then runs
`fluxpoints estimate --datasets DIR/datasets.yaml --models DIR/models.yaml` and gammapy's
FluxPointsEstimator on `Datasets.read` of the same files, and compares every column with the
tolerances of compare.py. Also checks that an index listing a MapDataset is refused with a
message naming the dataset and its type. Exit 0: all pass; 1: a failure; 77: skipped (no gammapy).
"""
import argparse
import subprocess
import sys
from pathlib import Path

import compare

SEED = 20261203
ENERGY_EDGES_TEV = [0.3, 1.0, 3.0, 10.0, 30.0]


def make_datasets(out_dir):
    """Writes datasets.yaml, models.yaml and the dataset files into out_dir."""
    import numpy as np
    from gammapy.datasets import Datasets, SpectrumDataset, SpectrumDatasetOnOff
    from gammapy.irf import EDispKernelMap
    from gammapy.maps import MapAxis, RegionGeom
    from gammapy.modeling.models import PowerLawSpectralModel, SkyModel

    rng = np.random.default_rng(SEED)
    e_reco = MapAxis.from_energy_bounds(0.1, 100, 24, unit="TeV", name="energy")
    e_true = MapAxis.from_energy_bounds(0.05, 200, 40, unit="TeV", name="energy_true")
    geom = RegionGeom.create("icrs;circle(83.63, 22.01, 0.11)", axes=[e_reco])
    source = SkyModel(PowerLawSpectralModel(index=2.5, amplitude="3e-11 cm-2 s-1 TeV-1"),
                      name="src")
    # A second source in the same region, fixed: its counts are part of the known background.
    other = SkyModel(PowerLawSpectralModel(index=2.0, amplitude="2e-12 cm-2 s-1 TeV-1"),
                     name="neighbour")
    other.parameters.freeze_all()

    def simulated(name, background_per_bin):
        ds = SpectrumDataset.create(geom=geom, energy_axis_true=e_true, name=name)
        ds.exposure.data += 3e9  # cm2 s
        ds.edisp = EDispKernelMap.from_diagonal_response(e_reco, e_true, geom=geom.to_image())
        ds.background.data += background_per_bin
        ds.models = [source, other]
        ds.counts.data = rng.poisson(ds.npred().data).astype(float)
        ds.mask_safe.data[...] = True  # create() makes an all-False mask
        ds.mask_safe.data[:2] = False  # the lowest bins outside the safe range
        return ds

    cash = simulated("obs_cash", 3.0)
    onoff = SpectrumDatasetOnOff.from_spectrum_dataset(
        dataset=simulated("obs_onoff", 0.0), acceptance=1, acceptance_off=4)
    onoff.counts_off.data = rng.poisson(12.0, size=onoff.counts_off.data.shape).astype(float)
    onoff.counts.data += rng.poisson(3.0, size=onoff.counts.data.shape)
    datasets = Datasets([onoff, cash])
    datasets.models = [source, other]
    datasets.write(out_dir / "datasets.yaml", filename_models=out_dir / "models.yaml",
                   overwrite=True)


def run_gammapy(data_dir, out_path):
    import astropy.units as u
    from gammapy.datasets import Datasets
    from gammapy.estimators import FluxPointsEstimator

    datasets = Datasets.read(data_dir / "datasets.yaml", filename_models=data_dir / "models.yaml")
    estimator = FluxPointsEstimator(energy_edges=ENERGY_EDGES_TEV * u.TeV, source="src",
                                    selection_optional="all", n_sigma=1, n_sigma_ul=2)
    estimator.run(datasets).write(out_path, sed_type="likelihood", format="gadf-sed",
                                  overwrite=True)


def run_fluxpoints(exe, data_dir, out_path):
    cmd = [exe, "estimate", "--datasets", str(data_dir / "datasets.yaml"),
           "--models", str(data_dir / "models.yaml"), "--source", "src",
           "--energy-edges", ",".join(repr(e) for e in ENERGY_EDGES_TEV), "--energy-unit", "TeV",
           "--selection", "all", "--n-sigma", "1", "--n-sigma-ul", "2",
           "-o", str(out_path), "--overwrite"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}\nexit {proc.returncode}\n{proc.stderr}")


def check_map_dataset_refused(exe, data_dir):
    """An index with a MapDataset entry: exit non-zero, naming the dataset and the type."""
    index = data_dir / "with_map.yaml"
    index.write_text("datasets:\n- name: obs_cash\n  type: SpectrumDataset\n"
                     "  filename: obs_cash.fits\n- name: cube\n  type: MapDataset\n"
                     "  filename: cube.fits\n")
    proc = subprocess.run([exe, "estimate", "--datasets", str(index), "--models",
                           str(data_dir / "models.yaml"), "--source", "src"],
                          capture_output=True, text=True)
    wanted = ["with_map.yaml", "cube", "MapDataset"]
    if proc.returncode == 0 or not all(w in proc.stderr for w in wanted):
        print(f"  FAIL MapDataset entry: exit {proc.returncode}, stderr: {proc.stderr.strip()}")
        return False
    print(f"  refused as expected: {proc.stderr.strip().splitlines()[-1]}")
    return True


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("exe")
    parser.add_argument("--work-dir", required=True, type=Path)
    args = parser.parse_args()
    try:
        import gammapy  # noqa: F401
    except ImportError:
        compare.skip_or_fail("gammapy is not importable by this Python")

    data_dir = args.work_dir / "datasets_index"
    data_dir.mkdir(parents=True, exist_ok=True)
    make_datasets(data_dir)
    g_path, o_path = data_dir / "gammapy.fits", data_dir / "fluxpoints.fits"
    run_gammapy(data_dir, g_path)
    run_fluxpoints(args.exe, data_dir, o_path)
    compare.check_gammapy_reads(o_path)
    (g, g_header), (o, o_header) = compare.read_table(g_path), compare.read_table(o_path)
    print("datasets.yaml of Datasets.write (SpectrumDatasetOnOff + SpectrumDataset, gadf files):")
    ok = compare.compare_case("datasets_index", g, o, g_header, o_header, excused={})
    # Not a vacuous comparison: every group has counts in both datasets and a finite best fit.
    import numpy as np
    if not (np.all(np.asarray(g["counts"]) > 0) and np.all(np.isfinite(g["norm"]))):
        print(f"  FAIL the simulated datasets are empty: counts {g['counts'].tolist()}, "
              f"norm {g['norm'].tolist()}")
        ok = False
    ok &= check_map_dataset_refused(args.exe, data_dir)
    print("ALL PASS" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
