# Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
"""gammapy datasets simulated with synthetic IRFs, for the tests, the benchmark and the tutorial.

Every dataset is built with gammapy itself: a constant exposure (in m2 s, the unit gammapy's
`create` gives the exposure map), a Gaussian energy dispersion, a Gaussian PSF, a flat
background, then Poisson counts with a fixed seed. After the simulation each
source's reference spectrum is moved away from the truth (amplitude x 0.8 .. 1.2) so that the
fitted norms are not 1.
"""

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord
from gammapy.datasets import MapDataset, MapDatasetOnOff, SpectrumDataset, SpectrumDatasetOnOff
from gammapy.irf import EDispKernelMap, PSFMap
from gammapy.maps import Map, MapAxis, RegionGeom, WcsGeom
from gammapy.modeling.models import (
    FoVBackgroundModel,
    GaussianSpatialModel,
    LogParabolaSpectralModel,
    Models,
    PointSpatialModel,
    PowerLawSpectralModel,
    SkyModel,
)
from regions import CircleSkyRegion

ENERGY_RANGE = ("0.1 TeV", "100 TeV")


def reco_axis(nbin):
    return MapAxis.from_energy_bounds(*ENERGY_RANGE, nbin=nbin, name="energy")


def true_axis(nbin):
    return MapAxis.from_energy_bounds("0.05 TeV", "200 TeV", nbin=nbin, name="energy_true")


def _detune(models, seed):
    """Move each sky model's amplitude by a factor in [0.8, 1.2] (deterministic)."""
    rng = np.random.RandomState(seed + 1000)
    for m in models:
        if isinstance(m, SkyModel):
            m.spectral_model.amplitude.value *= rng.uniform(0.8, 1.2)


def spectrum_dataset(
    name="spec",
    seed=1,
    n_energy=12,
    exposure=3e9,
    on_off=False,
    amplitude="2e-12 cm-2 s-1 TeV-1",
    index=2.4,
    background=(20.0, 0.5),
):
    """A SpectrumDataset (Cash, with a background spectrum) or, with on_off, a
    SpectrumDatasetOnOff (WStat, alpha = 0.2), one point-like source named "src"."""
    energy = reco_axis(n_energy)
    region = CircleSkyRegion(SkyCoord(83.63, 22.01, unit="deg", frame="icrs"), radius=0.1 * u.deg)
    geom = RegionGeom.create(region=region, axes=[energy])
    ds = SpectrumDataset.create(geom=geom, energy_axis_true=true_axis(2 * n_energy), name=name)
    ds.exposure.data[...] = exposure
    ds.edisp = EDispKernelMap.from_gauss(
        energy_axis=energy,
        energy_axis_true=ds.exposure.geom.axes["energy_true"],
        sigma=0.15,
        bias=0.0,
        geom=geom,
    )
    ds.background.data[...] = np.geomspace(*background, n_energy)[:, None, None]
    ds.mask_safe = Map.from_geom(geom, data=True, dtype=bool)
    models = Models([SkyModel(PowerLawSpectralModel(index=index, amplitude=amplitude), name="src")])
    ds.models = models
    rng = np.random.RandomState(seed)
    if on_off:
        out = SpectrumDatasetOnOff.from_spectrum_dataset(dataset=ds, acceptance=1, acceptance_off=5)
        out.fake(npred_background=ds.npred_background(), random_state=rng)
    else:
        ds.fake(random_state=rng)
        out = ds
    models = models.copy()
    _detune(models, seed)
    out.models = models
    return out


def map_sources(n_sources=3, seed=2, spread=0.15, kinds=("point", "gauss", "lp")):
    """Sky models near the centre of the map (galactic 0, 0): point sources with power laws,
    Gaussians, log-parabolas, in turn, `spread` degrees apart at most (their PSFs overlap)."""
    rng = np.random.RandomState(seed)
    models = []
    for i in range(n_sources):
        lon, lat = rng.uniform(-spread, spread, size=2)
        kind = kinds[i % len(kinds)]
        amplitude = f"{rng.uniform(0.5, 2.0):.3g}e-12 cm-2 s-1 TeV-1"
        if kind == "lp":
            spectral = LogParabolaSpectralModel(
                alpha=2.2, beta=0.15, amplitude=amplitude, reference="1 TeV"
            )
        else:
            spectral = PowerLawSpectralModel(index=rng.uniform(2.0, 2.8), amplitude=amplitude)
        if kind == "gauss":
            spatial = GaussianSpatialModel(
                lon_0=f"{lon} deg", lat_0=f"{lat} deg", sigma="0.08 deg", frame="galactic"
            )
        else:
            spatial = PointSpatialModel(lon_0=f"{lon} deg", lat_0=f"{lat} deg", frame="galactic")
        models.append(SkyModel(spectral_model=spectral, spatial_model=spatial, name=f"src{i}"))
    return models


def map_dataset(
    name="map",
    seed=3,
    n_sources=1,
    npix=24,
    binsz=0.05,
    n_energy=6,
    exposure=2e9,
    background=0.2,
    psf_sigma=0.1,
    on_off=False,
    sources=None,
):
    """A MapDataset (Cash, background map with a FoVBackgroundModel) or, with on_off, a
    MapDatasetOnOff (WStat, alpha = 0.25), with `n_sources` sources (map_sources) or `sources`
    (a list of SkyModels)."""
    energy = reco_axis(n_energy)
    energy_true = true_axis(2 * n_energy)
    geom = WcsGeom.create(skydir=(0, 0), binsz=binsz, npix=npix, frame="galactic", axes=[energy])
    ds = MapDataset.create(geom, energy_axis_true=energy_true, name=name, binsz_irf=0.5)
    ds.exposure.data[...] = exposure
    irf_geom = ds.exposure.geom.to_image().to_binsz(0.5)
    ds.psf = PSFMap.from_gauss(energy_axis_true=energy_true, sigma=psf_sigma * u.deg, geom=irf_geom)
    ds.edisp = EDispKernelMap.from_gauss(
        energy_axis=energy, energy_axis_true=energy_true, sigma=0.15, bias=0.0, geom=irf_geom
    )
    ds.background.data[...] = background * np.geomspace(1, 0.05, n_energy)[:, None, None]
    ds.mask_safe = Map.from_geom(geom, data=True, dtype=bool)
    sky = map_sources(n_sources, seed) if sources is None else sources
    models = Models(sky + [FoVBackgroundModel(dataset_name=name)])
    ds.models = models
    rng = np.random.RandomState(seed)
    ds.fake(random_state=rng)  # ON counts: sources and background
    if on_off:
        # OFF counts from the same background in a region 4 times larger. (gammapy's
        # MapDatasetOnOff.fake draws from the unclipped signal, which the PSF convolution leaves
        # slightly negative in places.)
        alpha = 0.25
        counts_off = Map.from_geom(geom, data=rng.poisson(ds.npred_background().data / alpha))
        out = MapDatasetOnOff.from_map_dataset(
            ds,
            acceptance=Map.from_geom(geom, data=1.0),
            acceptance_off=Map.from_geom(geom, data=1.0 / alpha),
            counts_off=counts_off,
            name=name,
        )
        models = Models([m for m in models if isinstance(m, SkyModel)]).copy()
    else:
        out = ds
        models = models.copy()
    _detune(models, seed)
    out.models = models
    return out
