# Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
"""Golden values of gammapy's spectral models for tests/test_models.cpp.

Run with the gammapy venv (gammapy 2.1):

    .venv/bin/python data/golden/make_models_golden.py            # writes models_golden.json
    .venv/bin/python data/golden/make_models_golden.py --check-written FILE OUT_JSON

The first form evaluates every model case with gammapy (dnde at test energies, integral and
energy flux over several vectors of bins, each vector integrated in ONE call so that gammapy's
shared number of integration points applies) and stores the model as gammapy's to_dict writes it,
so the C++ side also exercises its YAML/unit reader. Non-finite numbers are stored as the strings
".nan"/".inf" (the JSON is read with yaml-cpp).

The second form reads a model YAML written by fluxpoints (tests/test_models_yaml.cpp) with
gammapy's Models.read, checks that every sky model named like a golden case evaluates like it
(exit status 0 when they agree) and writes gammapy's view of every parameter to OUT_JSON.
"""
import json
import math
import operator
import sys
from pathlib import Path

import astropy.units as u
import numpy as np
from scipy.integrate import quad

from gammapy.maps import MapAxis
from astropy.io import fits
from astropy.table import Table

from gammapy.modeling.models import (
    BrokenPowerLawSpectralModel,
    CompoundSpectralModel,
    EBLAbsorptionNormSpectralModel,
    FoVBackgroundModel,
    SkyModel,
    ConstantSpectralModel,
    ExpCutoffPowerLaw3FGLSpectralModel,
    ExpCutoffPowerLawSpectralModel,
    LogParabolaSpectralModel,
    Models,
    PowerLaw2SpectralModel,
    PowerLawNormSpectralModel,
    PowerLawSpectralModel,
    SmoothBrokenPowerLawSpectralModel,
    SuperExpCutoffPowerLaw3FGLSpectralModel,
    SuperExpCutoffPowerLaw4FGLDR3SpectralModel,
    SuperExpCutoffPowerLaw4FGLSpectralModel,
    TemplateSpectralModel,
)

OUT = Path(__file__).with_name("models_golden.json")
# A small synthetic XSPEC-style EBL table (same layout as gammapy-data's ebl/*.fits.gz).
EBL_FITS = Path(__file__).with_name("ebl_synthetic_xspec.fits")
# Every golden case as a gammapy-written Models file (full_output=True: every field, units as
# astropy prints them, a FoV background model, metadata), for the C++ reader.
GAMMAPY_WRITTEN = Path(__file__).with_name("models_gammapy_written.yaml")


def ebl_table():
    """(energies TeV, redshifts, absorption factors [z, E]) of a made-up smooth EBL model."""
    energy = np.geomspace(0.01, 100.0, 20)
    z = np.array([0.0, 0.1, 0.2, 0.5, 1.0])
    tau = 2.0 * z[:, None] * (energy[None, :] / 1.0) ** 1.2
    values = np.exp(-tau)
    values[-1, -3:] = 0.0  # fully absorbed: log-interpolation of zeros
    return energy, z, values


def write_ebl_fits():
    """Writes EBL_FITS: PARAMETERS (VALUE row with a duplicated redshift, as real tables have),
    ENERGIES (keV, no unit in the file) and SPECTRA (PARAMVAL, INTPSPEC)."""
    energy, z, values = ebl_table()
    zz = np.concatenate([[z[0]], z])          # duplicate the first redshift
    vv = np.concatenate([values[:1], values])
    edges = np.sqrt(energy[:-1] * energy[1:])
    lo = np.concatenate([[energy[0] ** 2 / edges[0]], edges])  # sqrt(lo * hi) = energy
    hi = energy ** 2 / lo
    kev = 1e9
    params = Table({"NAME": ["z"], "VALUE": [zz]})
    energies = Table({"ENERG_LO": lo * kev, "ENERG_HI": hi * kev})
    spectra = Table({"PARAMVAL": zz, "INTPSPEC": vv})
    hdus = [fits.PrimaryHDU()]
    for name, table in [("PARAMETERS", params), ("ENERGIES", energies), ("SPECTRA", spectra)]:
        hdu = fits.table_to_hdu(table)
        hdu.name = name
        hdus.append(hdu)
    fits.HDUList(hdus).writeto(EBL_FITS, overwrite=True)
DNDE = u.Unit("cm-2 s-1 TeV-1")


def cases():
    """(label, model) pairs; labels are unique and used as sky model names."""
    lp_nodes = np.geomspace(0.1, 30, 8)
    lp = LogParabolaSpectralModel(amplitude="1e-11 cm-2 s-1 TeV-1", reference="1 TeV",
                                  alpha=2.3, beta=0.3)
    tvals = lp(lp_nodes * u.TeV).to_value(DNDE)
    tvals_zero = tvals.copy()
    tvals_zero[4] = 0.0
    yield "pl_crab", PowerLawSpectralModel(index=2.5, amplitude="3e-11 cm-2 s-1 TeV-1",
                                           reference="1 TeV")
    yield "pl_index1", PowerLawSpectralModel(index=1.0, amplitude="1e-12 cm-2 s-1 TeV-1",
                                             reference="2 TeV")
    yield "pl_index2", PowerLawSpectralModel(index=2.0, amplitude="1e-12 cm-2 s-1 TeV-1")
    yield "pl_index_near1", PowerLawSpectralModel(index=1.0 + 5e-9)
    yield "pl2", PowerLaw2SpectralModel(amplitude="2e-11 cm-2 s-1", index=2.3, emin="0.2 TeV",
                                        emax="50 TeV")
    yield "lp_spec", lp
    yield "lp_default_ref", LogParabolaSpectralModel(amplitude="1e-12 cm-2 s-1 TeV-1",
                                                     alpha=2.5, beta=0.1)
    yield "ecpl", ExpCutoffPowerLawSpectralModel(index=2.0, amplitude="1e-11 cm-2 s-1 TeV-1",
                                                 lambda_="0.1 TeV-1")
    yield "ecpl_alpha", ExpCutoffPowerLawSpectralModel(index=1.7, lambda_="0.5 TeV-1", alpha=0.7)
    yield "ecpl_3fgl", ExpCutoffPowerLaw3FGLSpectralModel(index=1.9, ecut="3 TeV")
    yield "secpl_3fgl", SuperExpCutoffPowerLaw3FGLSpectralModel(ecut="5 TeV", index_1=1.8,
                                                                index_2=0.8)
    yield "secpl_4fgl", SuperExpCutoffPowerLaw4FGLSpectralModel(
        amplitude="1e-11 cm-2 s-1 TeV-1", expfactor=1e-4, index_1=1.8, index_2=0.5)
    yield "secpl_4fgl_default", SuperExpCutoffPowerLaw4FGLSpectralModel()
    yield "secpl_4fgl_dr3", SuperExpCutoffPowerLaw4FGLDR3SpectralModel(
        amplitude="1e-11 cm-2 s-1 TeV-1", expfactor=0.5, index_1=1.8, index_2=0.67)
    yield "bpl", BrokenPowerLawSpectralModel(index1=2.0, index2=3.0,
                                             amplitude="1e-11 cm-2 s-1 TeV-1", ebreak="2 TeV")
    yield "sbpl", SmoothBrokenPowerLawSpectralModel(index1=1.5, index2=2.8, ebreak="3 TeV",
                                                    beta=0.5)
    yield "const", ConstantSpectralModel(const="2e-13 cm-2 s-1 TeV-1")
    yield "template", TemplateSpectralModel(energy=lp_nodes * u.TeV, values=tvals * DNDE)
    yield "template_zero", TemplateSpectralModel(energy=lp_nodes * u.TeV,
                                                 values=tvals_zero * DNDE)
    yield "template_single", TemplateSpectralModel(energy=[1.0] * u.TeV, values=[3e-12] * DNDE)
    energy, z, values = ebl_table()
    ebl_inline = EBLAbsorptionNormSpectralModel(energy=energy * u.TeV, param=z * u.one,
                                                data=values, redshift=0.137, alpha_norm=1.3)
    yield "compound_pl_ebl_inline", CompoundSpectralModel(
        PowerLawSpectralModel(index=2.1, amplitude="1e-11 cm-2 s-1 TeV-1"), ebl_inline,
        operator.mul)
    if EBL_FITS.exists():
        ebl_file = EBLAbsorptionNormSpectralModel.read(EBL_FITS, redshift=0.7)
        yield "compound_lp_ebl_file", CompoundSpectralModel(
            LogParabolaSpectralModel(amplitude="1e-11 cm-2 s-1 TeV-1", reference="1 TeV",
                                     alpha=2.0, beta=0.1), ebl_file, operator.mul)
    yield "compound_add", CompoundSpectralModel(
        PowerLawSpectralModel(index=2.7, amplitude="1e-11 cm-2 s-1 TeV-1"),
        ExpCutoffPowerLawSpectralModel(index=1.5, lambda_="0.2 TeV-1"), operator.add)


def energies():
    e = list(np.geomspace(1e-3, 1e3, 61))
    # Exactly at / next to references and breaks, and inside the DR3 series region.
    e += [1.0, 2.0, 3.0, 0.999, 1.001, 1.0 + 1e-6, 0.2, 50.0, 0.1, 30.0, 1e-2 * 1.0001]
    return e


def bin_sets():
    fine = np.geomspace(0.01, 100, 81)  # 20 bins per decade: npts = int(5.000000000000142) = 5
    coarse = np.array([0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0])
    mixed_lo = np.array([0.5, 1.0, 0.05, 7.0])
    mixed_hi = np.array([1.0, 10.0, 0.07, 7.0 * 1.001])
    # Edges as real datasets carry them: a gammapy MapAxis (differs from geomspace in the last
    # bit) and float32 OGIP columns read as float64 (can move npts across an integer).
    axis = MapAxis.from_energy_bounds(0.01, 100, 80, unit="TeV").edges.to_value("TeV")
    ogip = np.geomspace(0.01, 100, 81).astype(np.float32).astype(np.float64)
    return {
        "fine_20_per_decade": (fine[:-1], fine[1:]),
        "mapaxis_20_per_decade": (axis[:-1], axis[1:]),
        "float32_20_per_decade": (ogip[:-1], ogip[1:]),
        "coarse": (coarse[:-1], coarse[1:]),
        "mixed": (mixed_lo, mixed_hi),
        # Two bins, not one: gammapy's BrokenPowerLaw evaluate squeezes a (1, n) energy array to
        # (n,), which breaks its integral of a single-bin vector.
        "wide": (np.array([0.03, 0.1]), np.array([300.0, 0.2])),
    }


def finite(values):
    out = []
    for v in np.atleast_1d(values):
        v = float(v)
        out.append(v if math.isfinite(v) else (".nan" if math.isnan(v) else
                                                (".inf" if v > 0 else "-.inf")))
    return out


def npts(e_lo, e_hi):
    return int(np.maximum(np.max(100 * np.log10(e_hi / e_lo)), 2))


def is_norm(model):
    return model.is_norm_spectral_model


def axis_of(lo, hi):
    """The gammapy log energy axis of contiguous bins, else None."""
    if not np.all(lo[1:] == hi[:-1]):
        return None
    return MapAxis.from_edges(np.append(lo, hi[-1]), unit="TeV", interp="log", name="energy")


def bin_set_info():
    """Model-independent facts of every bin set: edges, shared npts, gammapy's axis edges/centres."""
    out = {}
    for name, (lo, hi) in bin_sets().items():
        out[name] = {"e_lo": finite(lo), "e_hi": finite(hi), "npts": npts(lo, hi)}
        axis = axis_of(lo, hi)
        if axis is not None:
            out[name]["axis_edges"] = finite(axis.edges.to_value("TeV"))
            out[name]["e_ref"] = finite(axis.center.to_value("TeV"))
    return out


def evaluate(model):
    e = np.array(energies())
    flux_unit = "TeV" if is_norm(model) else "cm-2 s-1"
    eflux_unit = "TeV2" if is_norm(model) else "TeV cm-2 s-1"
    dnde_unit = "" if is_norm(model) else DNDE
    out = {"dnde": finite(model(e * u.TeV).to_value(dnde_unit)), "bins": {}}
    for name, (lo, hi) in bin_sets().items():
        out["bins"][name] = {
            "integral": finite(model.integral(lo * u.TeV, hi * u.TeV).to_value(flux_unit)),
            "energy_flux": finite(model.energy_flux(lo * u.TeV, hi * u.TeV).to_value(eflux_unit)),
        }
        axis = axis_of(lo, hi)
        if axis is not None and not is_norm(model):
            ref = model.reference_fluxes(axis)
            out["bins"][name]["reference_fluxes"] = {
                "ref_dnde": finite(ref["ref_dnde"].to_value(DNDE)),
                "ref_e2dnde": finite(ref["ref_e2dnde"].to_value("TeV cm-2 s-1")),
                "ref_flux": finite(ref["ref_flux"].to_value("cm-2 s-1")),
                "ref_eflux": finite(ref["ref_eflux"].to_value("TeV cm-2 s-1")),
            }
    return out


def spec_log_parabola_check():
    """gammapy's log-log trapezoid on LogParabola(2.3, 0.3, 1 TeV), bins [0.5, 1] and [1, 10]
    integrated in one call (the case of tests/test_models.cpp SpecLogParabolaTrapezoidError)."""
    lp = LogParabolaSpectralModel(amplitude="1e-11 cm-2 s-1 TeV-1", reference="1 TeV",
                                  alpha=2.3, beta=0.3)
    lo, hi = np.array([0.5, 1.0]), np.array([1.0, 10.0])
    f = lambda x: lp(x * u.TeV).to_value(DNDE)
    exact = [quad(f, a, b, epsabs=0, epsrel=1e-13, limit=200)[0] for a, b in zip(lo, hi)]
    gp = lp.integral(lo * u.TeV, hi * u.TeV).to_value("cm-2 s-1")
    return {"e_lo": finite(lo), "e_hi": finite(hi), "exact_quad": finite(exact),
            "gammapy": finite(gp), "relative_error": finite(gp / np.array(exact) - 1)}


def make_golden():
    write_ebl_fits()
    head = {"generator": "data/golden/make_models_golden.py", "energies": finite(energies()),
            "bin_sets": bin_set_info(), "spec_log_parabola": spec_log_parabola_check()}
    case_entries = []
    for label, model in cases():
        spectral = model.to_dict()["spectral"]
        if "model2" in spectral and "filename" in spectral["model2"]:
            # Stored relative to data/golden (the C++ test looks it up there).
            spectral["model2"]["filename"] = EBL_FITS.name
        entry = {"label": label, "spectral": spectral}
        entry.update(evaluate(model))
        case_entries.append(entry)
    # Compact, one case per line (the file is read with yaml-cpp: JSON is YAML).
    compact = dict(separators=(",", ":"))
    text = json.dumps(head, **compact)[:-1] + ',\n"cases":[\n'
    text += ",\n".join(json.dumps(c, **compact) for c in case_entries) + "\n]}\n"
    OUT.write_text(text)
    print(f"wrote {OUT} ({len(case_entries)} cases)")
    sky = [SkyModel(spectral_model=m, name=label, datasets_names=["ds1"]) for label, m in cases()
           if label != "compound_lp_ebl_file"]  # its table path would be machine specific
    sky.append(FoVBackgroundModel(dataset_name="ds1"))
    Models(sky).write(GAMMAPY_WRITTEN, overwrite=True, full_output=True, write_covariance=False)
    print(f"wrote {GAMMAPY_WRITTEN}")


def internal_value(quantity):
    """A parameter value in fluxpoints' internal units (TeV, cm-2 s-1 TeV-1, cm-2 s-1, TeV-1)."""
    unit = quantity.unit
    for target in ["TeV", "TeV-1", "cm-2 s-1 TeV-1", "cm-2 s-1", ""]:
        if unit.is_equivalent(target):
            return quantity.to_value(target)
    raise ValueError(f"unexpected unit {unit}")


def check_written(path, out_json):
    """Reads a fluxpoints-written YAML with gammapy: every sky model named like a golden case must
    evaluate like it, and gammapy's view of every parameter (value, frozen, min, max, in internal
    units) goes to out_json for the C++ test to compare with what it wrote."""
    rel_tol = 1e-12  # values written with shortest round-trip digits: identical parameters
    models = Models.read(path)
    reference = dict(cases())
    e = np.array(energies())
    ok = True
    view = {}
    for sky in models:
        params = []  # in order: names repeat in compound models
        for p in sky.spectral_model.parameters:
            params.append({
                "name": p.name,
                "value": finite(internal_value(p.quantity))[0],
                "min": finite(internal_value(p.min * p.unit))[0],
                "max": finite(internal_value(p.max * p.unit))[0],
                "frozen": bool(p.frozen),
            })
        view[sky.name] = {"type": type(sky.spectral_model).__name__, "parameters": params,
                          "datasets_names": list(sky.datasets_names or [])}
        if sky.name not in reference:
            continue
        ref = reference[sky.name]
        unit = "" if is_norm(ref) else DNDE
        got = sky.spectral_model(e * u.TeV).to_value(unit)
        want = ref(e * u.TeV).to_value(unit)
        if type(sky.spectral_model) is not type(ref) or not np.allclose(got, want, rtol=rel_tol,
                                                                         atol=0):
            print(f"MISMATCH {sky.name}: {type(sky.spectral_model).__name__}")
            ok = False
    Path(out_json).write_text(json.dumps(view, indent=1) + "\n")
    print(f"read {len(models)} models, {len(view)} sky models: {'OK' if ok else 'FAILED'}")
    return ok


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--check-written":
        sys.exit(0 if check_written(sys.argv[2], sys.argv[3]) else 1)
    make_golden()
