# Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
"""fluxpoints: flux points (SEDs) of gamma-ray sources, computed the way gammapy 2.1 computes them.

``fluxpoints.FluxPointsEstimator`` is a drop-in replacement for gammapy's: same constructor,
same `FluxPoints` result, the likelihood solved by the fluxpoints engine (CPU threads or a CUDA
GPU). ``fluxpoints.estimate_sources`` solves many sources of the same datasets in one batch.
``fluxpoints.write_catalog`` writes gammapy datasets and models as a catalog for ``fluxpoints batch``;
``fluxpoints.read_results`` reads one source of a ``fluxpoints batch`` result file as FluxPoints.
"""

from ._catalog import write_catalog
from ._engine import compiled_backends, cuda_device_available
from ._estimator import FluxPointsEstimator, backend_info, estimate_sources
from ._results import read_results
from ._results import source_names as result_source_names

__version__ = "0.1.0"

__all__ = [
    "FluxPointsEstimator",
    "estimate_sources",
    "backend_info",
    "write_catalog",
    "read_results",
    "result_source_names",
    "compiled_backends",
    "cuda_device_available",
]
