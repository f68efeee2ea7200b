"""The built-in simulator: realistic NIRCam exposures with known truth.

>>> from jwinteract.simulate import simulate_exposure
>>> exp = simulate_exposure(subarray="SUB160", ngroups=5, write_references=False)
>>> exp.uncal.data.shape
(1, 5, 160, 160)

Modules: :mod:`.readout` (detectors, subarrays, readout patterns, timing),
:mod:`.detector` (per-detector properties and the reference files that
describe them), :mod:`.scene` (stars, galaxies, sky), :mod:`.ramp` (the
frame-by-frame readout with noise, non-linearity, saturation and cosmic
rays), :mod:`.exposure` (``simulate_exposure``, metadata, truth, writing).
"""

from .exposure import SKY_RATE, SimulatedExposure, Truth, simulate_exposure
from .ramp import DEFAULT_COSMIC_RAY_RATE
from .scene import Galaxy, Scene, Star

__all__ = [
    "simulate_exposure",
    "SimulatedExposure",
    "Truth",
    "Scene",
    "Star",
    "Galaxy",
    "DEFAULT_COSMIC_RAY_RATE",
    "SKY_RATE",
]
