# Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
"""Time gammapy's FluxPointsEstimator on one validation case (default: joint H.E.S.S., PL).

Prints min and median seconds of `FluxPointsEstimator.run` over a few repetitions, for
bench/RESULTS.md next to `fluxpoints estimate` on the same case. Reading the PHA files is not
timed (done once); each repetition builds a fresh estimator on the same Datasets.
"""
import argparse
import statistics
import time

import cases as case_defs
from run_gammapy import make_estimator, read_datasets


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    case_defs.data_dir_arg(parser)
    parser.add_argument("--case", default="hess_pl")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--cases", default=str(case_defs.CASES_JSON))
    args = parser.parse_args()
    case_defs.require_data_dir(args.data_dir)

    spec = case_defs.load_cases(args.cases)
    case = next((c for c in spec["cases"] if c["name"] == args.case), None)
    if case is None:
        raise SystemExit(f"no case {args.case!r} in {args.cases}")
    datasets = read_datasets(case, args.data_dir)
    n_groups = len(case["energy_edges_tev"]) - 1

    times = []
    for _ in range(args.repeat):
        estimator = make_estimator(case, spec["options"])
        start = time.perf_counter()
        estimator.run(datasets)
        times.append(time.perf_counter() - start)
    import gammapy

    print(f"gammapy {gammapy.__version__} FluxPointsEstimator, case {case['name']}: "
          f"{len(case['datasets'])} datasets, {n_groups} groups, "
          f"selection_optional={spec['options']['selection_optional']}, {args.repeat} runs")
    print(f"min {min(times):.3f} s  median {statistics.median(times):.3f} s  "
          f"all {' '.join(f'{t:.3f}' for t in times)}")


if __name__ == "__main__":
    main()
