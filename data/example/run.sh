#!/usr/bin/env bash
# Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
# The bundled example, end to end: simulate three On/Off observations of a Crab-like source
# (OGIP files, Poisson-sampled, fixed seed), then estimate its flux points jointly from them with
# selection_optional = all, writing a gadf SED FITS file that gammapy's FluxPoints.read loads.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=build/example
mkdir -p "$out"
./build/fluxpoints simulate --models data/example/model.yaml --source example-source \
  --n-obs 3 --seed 1 --name obs -o "$out" --overwrite
./build/fluxpoints estimate --datasets "$out"/obs_000{1,2,3}.fits \
  --models data/example/model.yaml --source example-source \
  --energy-edges 0.2,0.5,1,2,5,10,20,50 --energy-unit TeV --selection all \
  -o "$out/flux_points.fits" --overwrite
echo "flux points written to $out/flux_points.fits"
