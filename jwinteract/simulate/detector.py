"""Simulated detector properties and the reference files that describe them.

The properties of a detector (gain, read noise, bias, dark current, bad
pixels, non-linearity, full well) are a deterministic function of the
detector name: every exposure on NRCA1 sees the same detector and therefore
uses the same reference files, whatever the exposure's seed. They are drawn
in blocks of full-width rows, each block from its own seed derived from the
detector name, so a subarray computes only the rows it covers and gets
exactly the values of the full frame (a subarray reference is a cut of the
full-frame one).

Units: gain in e-/DN; read noise, bias, full well and non-linear signal in
DN; dark current and QE-weighted flux in e-/s.

Non-linearity
-------------
The reference polynomial is the *correction*: a linear signal ``q`` (DN above
bias) is read as ``m`` where ``q = m + a m^2 + b m^3`` (``a, b > 0``: the
detector responds less than linearly). The forward model solves that cubic
for ``m`` (Newton's method, converged to ~1e-4 DN), so the LINEARITY
reference coefficients ``(0, 1, a, b)`` undo it exactly up to saturation, as
a perfect calibration would. Charge stops accumulating at the full well
``q_fw``; the SATURATION threshold (raw DN incl. bias) is the bias plus 95% of
the response at full well.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np
from stdatamodels.jwst import datamodels

from ..models import PIXEL
from .readout import DETECTORS, FULL_SIZE, Readout, Window

__all__ = [
    "SIM_MODEL_VERSION",
    "DetectorProperties",
    "detector_properties",
    "nonlinear_response",
    "linearity_correction",
    "reference_models",
    "dark_model",
    "REFERENCE_SELECTORS",
    "NOT_SIMULATED_REFTYPES",
]

#: Bumped whenever the detector model changes, so old reference files are
#: never mistaken for current ones (it is part of every seed and file).
SIM_MODEL_VERSION = "1"

#: Reftypes jwst's Detector1Pipeline asks CRDS for on NIRCam that the
#: simulator does not model; the offline context maps them to N/A, so jwst
#: skips the step (ipc, persistence, picture_frame...) or runs it without the
#: optional file (refpix without sirskernel).
NOT_SIMULATED_REFTYPES = (
    "ipc",
    "refpix",
    "sirskernel",
    "persat",
    "trapdensity",
    "trappars",
    "pictureframe",
    "pastasoss",
    "flat",
    "emicorr",
    "rscd",
    "reset",
)

#: CRDS parameter keys each simulated reference is selected by.
REFERENCE_SELECTORS = {
    "gain": ("META.INSTRUMENT.DETECTOR", "META.SUBARRAY.NAME"),
    "readnoise": ("META.INSTRUMENT.DETECTOR", "META.SUBARRAY.NAME"),
    "mask": ("META.INSTRUMENT.DETECTOR", "META.SUBARRAY.NAME"),
    "saturation": ("META.INSTRUMENT.DETECTOR", "META.SUBARRAY.NAME"),
    "superbias": ("META.INSTRUMENT.DETECTOR", "META.SUBARRAY.NAME"),
    "linearity": ("META.INSTRUMENT.DETECTOR", "META.SUBARRAY.NAME"),
    "dark": ("META.INSTRUMENT.DETECTOR", "META.SUBARRAY.NAME", "META.EXPOSURE.READPATT"),
}

# Typical NIRCam values per channel (JDox detector performance pages, rounded).
_CHANNEL = {
    "SHORT": {
        "gain": 2.05,
        "read_noise": 4.6,  # single read, DN (CDS ~6.5 DN ~ 13 e-)
        "bias": 12500.0,
        "full_well": 48000.0,  # linear DN
        "dark": 0.002,  # e-/s
        "nl_a": 1.2e-6,
        "nl_b": 1.5e-11,
    },
    "LONG": {
        "gain": 1.82,
        "read_noise": 4.2,
        "bias": 13500.0,
        "full_well": 52000.0,
        "dark": 0.03,
        "nl_a": 1.0e-6,
        "nl_b": 1.2e-11,
    },
}
_P_HOT, _P_WARM, _P_DEAD = 1.0e-3, 4.0e-3, 5.0e-4
_DEAD_QE = 0.02
_BLOCK_ROWS = 64
_SATURATION_FRACTION = 0.95


class PixelFlags:
    """Boolean maps of the MASK flags, for classes with a ``pixeldq`` array."""

    pixeldq: np.ndarray

    @property
    def dead(self) -> np.ndarray:
        return (self.pixeldq & PIXEL["DEAD"]) > 0

    @property
    def hot(self) -> np.ndarray:
        return (self.pixeldq & PIXEL["HOT"]) > 0

    @property
    def warm(self) -> np.ndarray:
        return (self.pixeldq & PIXEL["WARM"]) > 0


@dataclass
class DetectorProperties(PixelFlags):
    """The pixels of one detector inside a window (arrays ``[ysize, xsize]``).

    ``nl_coeffs`` are the LINEARITY reference coefficients ``[4, ny, nx]``.
    ``pixeldq`` holds the MASK reference flags (DEAD and DO_NOT_USE, HOT,
    WARM, REFERENCE_PIXEL).
    """

    detector: str
    channel: str
    window: Window
    gain: np.ndarray
    read_noise: np.ndarray
    superbias: np.ndarray
    dark_rate: np.ndarray
    qe: np.ndarray
    nl_coeffs: np.ndarray
    full_well: np.ndarray
    saturation: np.ndarray
    pixeldq: np.ndarray
    reference_pixels: np.ndarray = field(repr=False)


def _seed(detector: str, stream: str, block: int = 0) -> np.random.Generator:
    key = zlib.crc32(f"jwinteract-sim-{SIM_MODEL_VERSION}:{detector}:{stream}".encode())
    return np.random.default_rng(np.random.SeedSequence([key, block]))


def nonlinear_response(q: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The measured signal ``m`` of a linear signal ``q`` (DN, float32).

    Solves ``m + a m^2 + b m^3 = q`` for ``m >= 0``: a series start and two
    Newton steps (quadratic convergence: < 1e-3 DN at full well).
    """
    q = np.asarray(q, dtype=np.float32)
    m = q * (1.0 - a * q + (2.0 * a * a - b) * q * q)
    for _ in range(2):
        resid = m * (1.0 + m * (a + b * m)) - q
        slope = 1.0 + m * (2.0 * a + 3.0 * b * m)
        m -= resid / slope
    return m


def linearity_correction(m: np.ndarray, coeffs: np.ndarray) -> np.ndarray:
    """Apply LINEARITY coefficients ``[ncoeffs, ...]`` to ``m`` (Horner), as jwst does."""
    out = np.zeros_like(m, dtype=np.float32) + coeffs[-1]
    for c in coeffs[-2::-1]:
        out = out * m + c
    return out


def _row_block(detector: str, channel: str, block: int) -> dict[str, np.ndarray]:
    """Full-width properties of rows ``[block*64, block*64+64)``."""
    p = _CHANNEL[channel]
    rng = _seed(detector, "pixels", block)
    shape = (_BLOCK_ROWS, FULL_SIZE)

    def normal() -> np.ndarray:
        return rng.standard_normal(shape, dtype=np.float32)

    gain = p["gain"] * (1.0 + 0.03 * normal())
    read_noise = np.maximum(p["read_noise"] * (1.0 + 0.08 * normal()), 0.5 * p["read_noise"])
    bias_pixel = 150.0 * normal()
    dark = p["dark"] * np.exp(0.3 * normal())
    nl_a = p["nl_a"] * (1.0 + 0.1 * normal())
    nl_b = p["nl_b"] * (1.0 + 0.1 * normal())
    full_well = p["full_well"] * (1.0 + 0.03 * normal())
    u = rng.random(shape)
    hot = u < _P_HOT
    warm = (u >= _P_HOT) & (u < _P_HOT + _P_WARM)
    dead = (u >= _P_HOT + _P_WARM) & (u < _P_HOT + _P_WARM + _P_DEAD)
    level = rng.random(shape, dtype=np.float32)
    dark = np.where(hot, 10.0 ** (2.0 * level), dark)  # 1-100 e-/s
    dark = np.where(warm, 10.0 ** (-1.3 + level), dark)  # 0.05-0.5 e-/s
    return {
        "gain": gain,
        "read_noise": read_noise,
        "bias_pixel": bias_pixel,
        "dark": dark.astype(np.float32),
        "nl_a": nl_a,
        "nl_b": nl_b,
        "full_well": full_well,
        "hot": hot,
        "warm": warm,
        "dead": dead,
    }


def detector_properties(detector: str, window: Window) -> DetectorProperties:
    """The properties of ``detector`` inside ``window`` (deterministic)."""
    detector = detector.upper()
    channel = DETECTORS[detector]["channel"]
    p = _CHANNEL[channel]
    rows, cols = window.rows, window.cols
    first, last = rows.start // _BLOCK_ROWS, (rows.stop - 1) // _BLOCK_ROWS
    blocks = [_row_block(detector, channel, b) for b in range(first, last + 1)]
    offset = rows.start - first * _BLOCK_ROWS

    def cut(name: str) -> np.ndarray:
        full = np.concatenate([b[name] for b in blocks], axis=0)
        return np.ascontiguousarray(full[offset : offset + window.ysize, cols])

    # Column structure and the four amplifiers' levels of the full frame.
    rng = _seed(detector, "columns")
    column_bias = (30.0 * rng.standard_normal(FULL_SIZE)).astype(np.float32)
    amp_bias = (500.0 * rng.standard_normal(4)).astype(np.float32)
    amp_of_column = np.arange(FULL_SIZE) // (FULL_SIZE // 4)
    frame_bias = p["bias"] + amp_bias[amp_of_column] + column_bias

    refpix = window.reference_mask()
    dead = cut("dead") & ~refpix
    hot = cut("hot") & ~refpix
    warm = cut("warm") & ~refpix
    superbias = (frame_bias[cols][None, :] + cut("bias_pixel")).astype(np.float32)
    qe = np.where(dead, _DEAD_QE, 1.0).astype(np.float32)
    qe[refpix] = 0.0  # reference pixels see no light ...
    dark = cut("dark")
    dark[refpix] = 0.0  # ... and no dark current
    a, b = cut("nl_a"), cut("nl_b")
    a[refpix], b[refpix] = 0.0, 0.0
    coeffs = np.stack([np.zeros_like(a), np.ones_like(a), a, b]).astype(np.float32)
    full_well = cut("full_well")
    saturation = superbias + _SATURATION_FRACTION * nonlinear_response(full_well, a, b)
    saturation[refpix] = 65535.0

    pixeldq = np.zeros(window.shape, dtype=np.uint32)
    pixeldq[dead] |= PIXEL["DEAD"] | PIXEL["DO_NOT_USE"]
    pixeldq[hot] |= PIXEL["HOT"]
    pixeldq[warm] |= PIXEL["WARM"]
    # Not DO_NOT_USE: jwst's refpix step uses only reference pixels without it.
    pixeldq[refpix] |= PIXEL["REFERENCE_PIXEL"]
    return DetectorProperties(
        detector=detector,
        channel=channel,
        window=window,
        gain=cut("gain"),
        read_noise=cut("read_noise"),
        superbias=superbias,
        dark_rate=dark,
        qe=qe,
        nl_coeffs=coeffs,
        full_well=full_well,
        saturation=saturation.astype(np.float32),
        pixeldq=pixeldq,
        reference_pixels=refpix,
    )


# ------------------------------------------------------------------ references


def _dq_def(names) -> list[tuple]:
    rows = []
    for name in names:
        value = PIXEL[name]
        rows.append((int(value).bit_length() - 1, value, name, f"{name} (jwinteract simulation)"))
    return rows


def _common_meta(model, props: DetectorProperties, reftype: str, what: str) -> None:
    w = props.window
    meta = model.meta
    meta.telescope = "JWST"
    meta.reftype = reftype.upper()
    meta.instrument.name = "NIRCAM"
    meta.instrument.detector = props.detector
    meta.instrument.channel = props.channel
    meta.instrument.module = DETECTORS[props.detector]["module"]
    meta.subarray.name = w.name
    meta.subarray.xstart, meta.subarray.ystart = w.xstart, w.ystart
    meta.subarray.xsize, meta.subarray.ysize = w.xsize, w.ysize
    fast, slow = DETECTORS[props.detector]["axes"]
    meta.subarray.fastaxis, meta.subarray.slowaxis = fast, slow
    meta.exposure.type = "NRC_IMAGE"
    meta.useafter = "2014-01-01T00:00:00"
    meta.author = "jwinteract simulator"
    meta.pedigree = "DUMMY"
    meta.origin = "JWINTERACT-SIM"
    meta.description = f"Simulated {props.detector} {w.name} {what} (jwinteract; not real data)"
    model.extra_fits = {
        "PRIMARY": {
            "header": [
                ["SIMULATD", True, "simulated by jwinteract; not real data"],
                ["SIMMODEL", SIM_MODEL_VERSION, "jwinteract detector model version"],
            ]
        }
    }


def dark_model(props: DetectorProperties, readout: Readout, ngroups: int) -> datamodels.DarkModel:
    """The noise-free DARK for ``readout``'s NFRAMES/GROUPGAP with ``ngroups`` groups.

    Group ``g`` holds the mean dark signal (linear DN) of the frames averaged
    into it, so a perfect dark subtraction leaves scene + sky only.
    """
    times = Readout(
        readout.pattern, readout.nframes, readout.groupgap, ngroups, 1, readout.frame_time
    ).group_times()
    rate_dn = props.dark_rate / props.gain
    data = times.astype(np.float32)[:, None, None] * rate_dn[None, :, :]
    model = datamodels.DarkModel(data=data, dq=np.zeros(props.window.shape, np.uint32))
    # Only the scalar: jwst 3.0 compares the 2-D map with an attribute the ramp
    # does not have yet and then ignores it with a warning.
    model.dq_def = _dq_def(["DO_NOT_USE"])
    _common_meta(model, props, "dark", f"{readout.pattern} dark")
    meta = model.meta.exposure
    meta.readpatt = readout.pattern
    meta.nframes, meta.groupgap, meta.ngroups, meta.nints = (
        readout.nframes,
        readout.groupgap,
        ngroups,
        1,
    )
    meta.frame_time, meta.group_time = readout.frame_time, readout.group_time
    meta.average_dark_current = float(np.median(props.dark_rate[~props.reference_pixels]))
    return model


def reference_models(
    props: DetectorProperties, readout: Readout, *, dark_ngroups: int | None = None
) -> dict[str, datamodels.JwstDataModel]:
    """All simulated reference models of a detector window, by reftype.

    The READNOISE reference holds the CDS noise, ``sqrt(2)`` times the
    single-read noise used by the simulation, as CRDS files do.
    """
    shape = props.window.shape
    refs: dict[str, datamodels.JwstDataModel] = {}

    gain = datamodels.GainModel(data=props.gain.astype(np.float32))
    _common_meta(gain, props, "gain", "gain (e-/DN)")
    gain.meta.bunit_data = "electrons/DN"
    refs["gain"] = gain

    rn = datamodels.ReadnoiseModel(data=(np.sqrt(2.0) * props.read_noise).astype(np.float32))
    _common_meta(rn, props, "readnoise", "CDS read noise (DN)")
    rn.meta.bunit_data = "DN"
    refs["readnoise"] = rn

    mask = datamodels.MaskModel(dq=props.pixeldq.copy())
    mask.dq_def = _dq_def(["DO_NOT_USE", "DEAD", "HOT", "WARM", "REFERENCE_PIXEL"])
    _common_meta(mask, props, "mask", "bad pixel mask")
    refs["mask"] = mask

    sat = datamodels.SaturationModel(data=props.saturation.copy(), dq=np.zeros(shape, np.uint32))
    sat.dq_def = _dq_def(["DO_NOT_USE"])
    _common_meta(sat, props, "saturation", "saturation thresholds (raw DN)")
    refs["saturation"] = sat

    bias = datamodels.SuperBiasModel(data=props.superbias.copy(), dq=np.zeros(shape, np.uint32))
    bias.dq_def = _dq_def(["DO_NOT_USE"])
    _common_meta(bias, props, "superbias", "superbias (DN)")
    refs["superbias"] = bias

    lin = datamodels.LinearityModel(coeffs=props.nl_coeffs, dq=np.zeros(shape, np.uint32))
    lin.dq_def = _dq_def(["DO_NOT_USE"])
    _common_meta(lin, props, "linearity", "linearity correction coefficients")
    refs["linearity"] = lin

    refs["dark"] = dark_model(props, readout, dark_ngroups or readout.ngroups)
    return refs
