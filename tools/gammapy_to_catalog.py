#!/usr/bin/env python
# Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
"""Write a fluxpoints HDF5 catalog (docs/catalog-format.md, format version 2) from gammapy files.

    python tools/gammapy_to_catalog.py --datasets datasets.yaml [--models models.yaml] -o cat.h5
    python tools/gammapy_to_catalog.py --ogip pha1.fits pha2.fits --models models.yaml -o cat.h5

Datasets: a gammapy Datasets file (``Datasets.read``: spectrum and map datasets) or OGIP PHA files
(``SpectrumDatasetOnOff.read``). Models: a gammapy model YAML (default: the models the Datasets
file refers to). Every SkyModel (or only those of ``--source``) becomes a source; every model
enters the problems of the sources sharing its datasets. Options: ``--energy-edges`` (TeV),
``--selection``, ``--reoptimize``, ``--sum-over-energy-groups``, ``--overwrite``.

A thin command line over ``fluxpoints.write_catalog`` (the Python package must be installed).
"""
import argparse
import sys


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--datasets", help="gammapy Datasets YAML (Datasets.read)")
    group.add_argument("--ogip", nargs="+", help="OGIP PHA files (SpectrumDatasetOnOff.read)")
    parser.add_argument("--models", help="gammapy model YAML (Models.read)")
    parser.add_argument("--source", action="append", help="only this source (repeatable)")
    parser.add_argument("--energy-edges", help="group edges, e.g. 0.7,1,2,5,10 (TeV)")
    parser.add_argument("--selection", help="selection_optional, e.g. all or errn-errp,ul")
    parser.add_argument("--reoptimize", action="store_true",
                        help="re-fit the other models' free amplitudes and norms in each group")
    parser.add_argument("--sum-over-energy-groups", action="store_true",
                        help="sum each group of each dataset into one bin per pixel before the fit")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
    parser.add_argument("-o", "--output", required=True)
    args = parser.parse_args()

    from gammapy.datasets import Datasets, SpectrumDatasetOnOff
    from gammapy.modeling.models import Models

    import fluxpoints

    if args.datasets:
        datasets = Datasets.read(args.datasets)
    else:
        datasets = Datasets([SpectrumDatasetOnOff.read(p) for p in args.ogip])
    if args.models:
        models = Models.read(args.models)
    elif args.datasets:
        models = None
    else:
        parser.error("--ogip needs --models")
    edges = [float(x) for x in args.energy_edges.split(",")] if args.energy_edges else None
    try:
        fluxpoints.write_catalog(args.output, datasets, models=models, sources=args.source,
                                 energy_edges=edges, selection_optional=args.selection,
                                 reoptimize=args.reoptimize,
                                 sum_over_energy_groups=args.sum_over_energy_groups,
                                 overwrite=args.overwrite)
    except (ValueError, FileExistsError) as error:
        sys.exit(f"gammapy_to_catalog: {error}")
    print(f"written: {args.output} ({len(datasets)} datasets)")


if __name__ == "__main__":
    main()
