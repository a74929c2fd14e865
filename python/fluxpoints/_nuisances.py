# Copyright (c) 2026, the fluxpoints developers. BSD-3-Clause.
"""reoptimize=True: the other models' free parameters as linear nuisance parameters.

gammapy's estimator with ``reoptimize=True`` freezes the source's own parameters and re-fits every
other free parameter in each energy group, together with the norm. The engine does that exactly
for parameters the predicted counts are proportional to: another source's amplitude, the norm of
a background model or of a template model. For such a parameter p with current value p0, a model
predicts p/p0 times its counts at p0, so its template is those counts (computed once per dataset
by gammapy's evaluators, see _templates.py) and the engine fits the ratio p/p0 (start 1, bounds
p.min/p0 and p.max/p0), which keeps every nuisance of order one whatever the parameter's unit.

Any other free parameter (an index, a position, a tilt) would need the model re-evaluated at each
step: it is refused, naming it.
"""

from dataclasses import dataclass, field

import numpy as np
from gammapy.modeling.models import FoVBackgroundModel, SkyModel, TemplateNPredModel

from ._templates import NORM_LIKE_PARAMETERS, WSTAT


@dataclass
class Nuisance:
    """One free linear parameter and the models whose counts scale with it (several when the
    parameter is linked between models)."""

    parameter: object
    label: str  # "model.parameter", for messages
    sky_models: list = field(default_factory=list)  # names of SkyModel / TemplateNPredModel
    background_models: list = field(default_factory=list)  # FoVBackgroundModel names

    @property
    def value(self):
        return float(self.parameter.value)

    def bounds(self):
        """(min, max) of the ratio p/p0 (NaN: unbounded)."""
        p0 = self.value
        lo, hi = float(self.parameter.min) / p0, float(self.parameter.max) / p0
        return (hi, lo) if p0 < 0 else (lo, hi)


def group_template(nuisance, part):
    """Predicted counts at the parameter's current value in GroupTemplates `part` (shape of the
    group's arrays), or None where the parameter predicts nothing there."""
    t = part.templates
    sl = slice(part.i0, part.i1)
    out = None
    for name in nuisance.sky_models:
        m = t.models.get(name)
        if m is None or name in part.not_contributing:
            continue
        if out is None:
            out = np.zeros(part.signal.shape)
        out[(slice(None),) + tuple(m.parent[1:])] += m.data[sl]
    for name in nuisance.background_models:
        bkg = t.dataset.background_model
        if bkg is None or bkg.name != name:
            continue
        if t.kind == WSTAT:
            raise ValueError(
                f"reoptimize: {nuisance.label} is the norm of a background model of the On/Off "
                f"dataset {t.name!r}, whose background is profiled from its OFF counts"
            )
        if out is None:
            out = np.zeros(part.signal.shape)
        out += t.background[sl]
    return out


def linear_parameter(model):
    """The parameter a model's predicted counts are proportional to (a sky model's amplitude, a
    background or template norm), or None (a compound spectral model, no norm-like parameter)."""
    spectral = getattr(model, "spectral_model", None)
    if spectral is None:
        return None
    for parameter in spectral.parameters:
        if _linear_kind(model, parameter) is not None:
            return parameter
    return None


def _linear_kind(model, parameter):
    """'sky' or 'background' when the model's predicted counts are proportional to `parameter`,
    else None."""
    if isinstance(model, (SkyModel, TemplateNPredModel, FoVBackgroundModel)):
        spectral = model.spectral_model
        if spectral is None or not any(p is parameter for p in spectral.parameters):
            return None  # a spatial or temporal parameter
        if hasattr(spectral, "model1") or parameter.name not in NORM_LIKE_PARAMETERS:
            return None  # compound models, shape parameters
        return "background" if isinstance(model, FoVBackgroundModel) else "sky"
    return None


def find_nuisances(models, source):
    """The free parameters of `models` other than the source's own, as Nuisances, in the order of
    ``models.parameters``. Raises ValueError naming a free parameter that is not linear."""
    own = {id(p) for p in source.parameters}
    found = {}
    for model in models:
        if model is source or model.name == source.name:
            continue
        for parameter in model.parameters:
            if parameter.frozen or id(parameter) in own:
                continue
            label = f"{model.name}.{parameter.name}"
            kind = _linear_kind(model, parameter)
            if kind is None:
                raise ValueError(
                    f"reoptimize=True: the free parameter {label!r} "
                    f"({type(model).__name__}) does not enter the predicted counts linearly; "
                    "fluxpoints re-fits only amplitudes and norms (freeze it, or use gammapy)"
                )
            if parameter.value == 0 or not np.isfinite(parameter.value):
                raise ValueError(
                    f"reoptimize=True: the free parameter {label!r} is {parameter.value}: its "
                    "counts per unit value cannot be taken from the model (give it a non-zero "
                    "start value)"
                )
            n = found.get(id(parameter))
            if n is None:
                n = found[id(parameter)] = Nuisance(parameter, label)
            names = n.background_models if kind == "background" else n.sky_models
            if model.name not in names:
                names.append(model.name)
    _refuse_two_per_model(found.values())
    return list(found.values())


def nuisances_for(models, source):
    """reoptimize=True: the Nuisances of `source`'s problems (find_nuisances). Like gammapy's
    fit, a re-fit with nothing else free is an error."""
    found = find_nuisances(models, source)
    if not found:
        raise ValueError(
            f"reoptimize=True with source {source.name!r}: no other model has a free "
            "parameter to re-fit (gammapy stops with 'No free parameters for fitting'); use "
            "reoptimize=False"
        )
    return found


def _refuse_two_per_model(nuisances):
    """Two free linear parameters of one model scale the same counts: the fit is degenerate
    (gammapy's too); refuse it clearly."""
    seen = {}
    for n in nuisances:
        for name in n.sky_models + n.background_models:
            if name in seen:
                raise ValueError(
                    f"reoptimize=True: {seen[name]} and {n.label} both scale the counts of "
                    f"model {name!r}; free at most one of them"
                )
            seen[name] = n.label
