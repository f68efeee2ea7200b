"""simulate_exposure: a NIRCam imaging exposure with its references and truth."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from astropy.table import Table
from astropy.time import Time, TimeDelta
from stdatamodels.jwst import datamodels

from ..errors import InputError
from ..models import PIXEL, save_atomic
from ..references.offline import OfflineContext
from .detector import (
    NOT_SIMULATED_REFTYPES,
    REFERENCE_SELECTORS,
    SIM_MODEL_VERSION,
    DetectorProperties,
    PixelFlags,
    detector_properties,
    reference_models,
)
from .ramp import DEFAULT_COSMIC_RAY_RATE, draw_cosmic_rays, simulate_ramp
from .readout import DETECTORS, Readout, make_readout, subarray_window
from .scene import Scene, default_scene

__all__ = ["simulate_exposure", "SimulatedExposure", "Truth", "SKY_RATE"]

#: Default sky (zodiacal + thermal) in e-/s per pixel, per channel.
SKY_RATE = {"SHORT": 1.0, "LONG": 2.5}
#: Per-exposure offset of each output's bias from the superbias, DN (1 sigma).
BIAS_OFFSET_SIGMA = 15.0

_OBS_DATE, _OBS_TIME = "2024-03-15", "12:00:00.000"
_PROGRAM = "01234"
_TARGET_RA, _TARGET_DEC, _V3PA = 53.16, -27.78, 45.0


@dataclass
class Truth(PixelFlags):
    """What a perfect calibration would recover, and what the simulator used.

    Attributes
    ----------
    rate : ndarray float32 [ny, nx]
        The slope a perfect Detector1 measures, DN/s: (scene + sky) x QE /
        gain. Dark current is *not* included (the pipeline subtracts it);
        reference pixels are 0.
    flux : ndarray float32 [ny, nx]
        Incident scene + sky, e-/s (before QE).
    dark_rate : ndarray float32 [ny, nx]
        Dark current, e-/s (what the DARK reference removes).
    jumps : astropy.table.Table
        One row per pixel that received cosmic-ray charge: ``integration``,
        ``group`` (first group showing the jump; 0 means before the first
        read, undetectable), ``frame``, ``y``, ``x``, ``amplitude_e``,
        ``amplitude_dn`` (linear DN; the measured jump is smaller near full
        well), ``primary`` (False for charge spread to a neighbour), ``event``.
    first_saturated_group : ndarray int16 [nints, ny, nx]
        First group whose raw value reaches the SATURATION threshold, or
        ``ngroups``. jwst also flags the neighbours (``n_pix_grow_sat``).
    pixeldq : ndarray uint32 [ny, nx]
        The MASK reference flags (DEAD, HOT, WARM, REFERENCE_PIXEL, DO_NOT_USE).
    gain : ndarray float32 [ny, nx]
        e-/DN.
    read_noise : ndarray float32 [ny, nx]
        Single-read noise, DN. The READNOISE reference holds the CDS noise,
        ``read_noise_cds`` = sqrt(2) x this.
    superbias : ndarray float32 [ny, nx]
    bias_offsets : ndarray float32 [nints, noutputs]
        Offset of each output's bias from the superbias in each integration.
    group_times : ndarray float64 [ngroups]
        Mean time since reset of each group's frames, s.
    sources : astropy.table.Table
        The stars and galaxies of the scene (empty for a user-given image).
    info : dict
        Detector, subarray, readout, seed, simulator version.
    """

    rate: np.ndarray
    flux: np.ndarray
    dark_rate: np.ndarray
    jumps: Table
    first_saturated_group: np.ndarray
    pixeldq: np.ndarray
    gain: np.ndarray
    read_noise: np.ndarray
    superbias: np.ndarray
    bias_offsets: np.ndarray
    group_times: np.ndarray
    sources: Table
    info: dict = field(default_factory=dict)

    @property
    def read_noise_cds(self) -> np.ndarray:
        """CDS read noise in DN (what the READNOISE reference holds)."""
        return (np.sqrt(2.0) * self.read_noise).astype(np.float32)

    @property
    def saturated(self) -> np.ndarray:
        """Boolean [nints, ngroups, ny, nx]: group at or above the saturation threshold."""
        ngroups = len(self.group_times)
        groups = np.arange(ngroups, dtype=np.int16)[None, :, None, None]
        return groups >= self.first_saturated_group[:, None, :, :]

    @property
    def reference_pixels(self) -> np.ndarray:
        return (self.pixeldq & PIXEL["REFERENCE_PIXEL"]) > 0

    _ARRAYS = (
        "rate", "flux", "dark_rate", "first_saturated_group", "pixeldq", "gain",
        "read_noise", "superbias", "bias_offsets", "group_times",
    )  # fmt: skip

    def write(self, path: str | os.PathLike) -> Path:
        """Write the truth to an ASDF file (atomically)."""
        import asdf

        path = Path(path)
        tree = {name: getattr(self, name) for name in self._ARRAYS}
        tree.update(jumps=self.jumps, sources=self.sources, info=dict(self.info))
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".asdf", dir=path.parent)
        os.close(fd)
        try:
            asdf.AsdfFile({"jwinteract_truth": tree}).write_to(tmp)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return path

    @classmethod
    def read(cls, path: str | os.PathLike) -> Truth:
        """Read a truth file written by :meth:`write`."""
        import asdf

        with asdf.open(path, memmap=False, lazy_load=False) as af:
            tree = af.tree["jwinteract_truth"]
            values = {name: np.asarray(tree[name]) for name in cls._ARRAYS}
            return cls(
                jumps=Table(tree["jumps"]),
                sources=Table(tree["sources"]),
                info=dict(tree["info"]),
                **values,
            )


@dataclass
class SimulatedExposure:
    """A simulated exposure: the raw data, its reference files and its truth.

    Attributes
    ----------
    uncal : Level1bModel
        The raw ramp (uint16 ``[nints, ngroups, ny, nx]``) with JWST metadata.
    truth : Truth
    references : dict of str to Path
        Reference file per reftype in the offline context (empty when the
        exposure was made with ``write_references=False``).
    reference_models : dict of str to DataModel
        The same references in memory (the dark has exactly ``ngroups``
        groups; the file may have more).
    context : OfflineContext or None
        Where the references were registered.
    """

    uncal: datamodels.Level1bModel
    truth: Truth
    references: dict[str, Path]
    reference_models: dict[str, datamodels.JwstDataModel]
    context: OfflineContext | None = None

    @property
    def filename(self) -> str:
        """The JWST-style uncal file name, e.g. ``jw01234001001_01101_00001_nrca1_uncal.fits``."""
        return self.uncal.meta.filename

    def write(self, output_dir: str | os.PathLike) -> dict[str, Path]:
        """Write the uncal file and the truth (ASDF) into ``output_dir``.

        Returns ``{"uncal": path, "truth": path}``.
        """
        output_dir = Path(output_dir)
        output_dir.mkdir(parents=True, exist_ok=True)
        uncal = save_atomic(self.uncal, output_dir / self.filename)
        truth = self.truth.write(output_dir / self.filename.replace("_uncal.fits", "_truth.asdf"))
        return {"uncal": uncal, "truth": truth}


def simulate_exposure(
    instrument: str = "NIRCAM",
    detector: str = "NRCA1",
    subarray: str = "FULL",
    readpatt: str = "RAPID",
    ngroups: int = 10,
    nints: int = 1,
    seed: int = 0,
    context: OfflineContext | None = None,
    write_references: bool = True,
    cosmic_ray_rate: float = DEFAULT_COSMIC_RAY_RATE,
    scene: Scene | np.ndarray | None = None,
    *,
    sky_rate: float | None = None,
    noise: bool = True,
    exposure_number: int = 1,
) -> SimulatedExposure:
    """Simulate a NIRCam imaging (NRC_IMAGE) exposure with known truth.

    Parameters
    ----------
    instrument : {"NIRCAM"}
    detector : str
        NRCA1-4, NRCB1-4, NRCALONG or NRCBLONG.
    subarray : {"FULL", "SUB640", "SUB320", "SUB160"}
    readpatt : str
        RAPID, BRIGHT1, BRIGHT2, SHALLOW2, SHALLOW4, MEDIUM2, MEDIUM8, DEEP2, DEEP8.
    ngroups, nints : int
    seed : int
        Seeds the scene, noise, bias offsets and cosmic rays. The detector
        (and so the reference files) depends on the detector name only.
    context : OfflineContext, optional
        Where to register the reference files (default: the context at
        :func:`~jwinteract.references.offline.default_root`).
    write_references : bool
        Write and register the reference files (and map the reftypes the
        simulator does not model to N/A). With False nothing is written.
    cosmic_ray_rate : float
        Primary cosmic-ray hits per pixel per second.
    scene : Scene or ndarray, optional
        A :class:`~jwinteract.simulate.scene.Scene`, or an image of the
        sources in e-/s per pixel for the subarray; default: a random field
        of stars and galaxies (:func:`~jwinteract.simulate.scene.default_scene`).
    sky_rate : float, optional
        Sky in e-/s per pixel added to an image ``scene`` and to the default
        scene (default :data:`SKY_RATE` of the channel). A :class:`Scene`
        carries its own sky.
    noise : bool
        False for a noiseless ramp (no Poisson or read noise) - for testing.
    exposure_number : int
        The exposure number in the file name and metadata.

    Returns
    -------
    SimulatedExposure
    """
    if str(instrument).upper() != "NIRCAM":
        raise InputError(f"instrument {instrument!r} is not simulated yet; use 'NIRCAM'")
    detector = str(detector).upper()
    if detector not in DETECTORS:
        raise InputError(f"detector {detector!r} is not a NIRCam detector; use {list(DETECTORS)}")
    window = subarray_window(subarray)
    readout = make_readout(readpatt, ngroups, nints, window)
    channel = DETECTORS[detector]["channel"]
    props = detector_properties(detector, window)
    seq = np.random.SeedSequence(int(seed))
    scene_seq, noise_seq = seq.spawn(2)
    rng = np.random.default_rng(scene_seq)

    light = ~props.reference_pixels
    flux, sources = _scene_flux(scene, rng, props, readout, channel, sky_rate, light)
    offsets = (BIAS_OFFSET_SIGMA * rng.standard_normal((nints, window.noutputs))).astype(np.float32)
    crs = draw_cosmic_rays(rng, rate=cosmic_ray_rate, readout=readout, light=light, gain=props.gain)
    data, first_sat = simulate_ramp(
        props, readout, flux, cosmic_rays=crs, bias_offsets=offsets, seed=noise_seq, noise=noise
    )

    uncal = datamodels.Level1bModel(data=data)
    _set_metadata(uncal, props, readout, seed, exposure_number)
    truth = Truth(
        rate=np.where(light, flux * props.qe / props.gain, 0.0).astype(np.float32),
        flux=flux,
        dark_rate=props.dark_rate,
        jumps=crs.table,
        first_saturated_group=first_sat,
        pixeldq=props.pixeldq,
        gain=props.gain,
        read_noise=props.read_noise,
        superbias=props.superbias,
        bias_offsets=offsets,
        group_times=readout.group_times(),
        sources=sources,
        info={
            "instrument": "NIRCAM",
            "detector": detector,
            "subarray": window.name,
            "readpatt": readout.pattern,
            "ngroups": readout.ngroups,
            "nints": readout.nints,
            "seed": int(seed),
            "cosmic_ray_rate": float(cosmic_ray_rate),
            "noise": bool(noise),
            "simulator_model_version": SIM_MODEL_VERSION,
        },
    )
    models = reference_models(props, readout)
    paths: dict[str, Path] = {}
    if write_references:
        context = context if context is not None else OfflineContext()
        paths = _register(context, models, props, readout)
    return SimulatedExposure(uncal, truth, paths, models, context if write_references else None)


def _scene_flux(scene, rng, props, readout: Readout, channel, sky_rate, light):
    """Incident e-/s image (zero on reference pixels) and the sources table."""
    shape = props.window.shape
    sky = SKY_RATE[channel] if sky_rate is None else float(sky_rate)
    if scene is None:
        ys, xs = np.nonzero(light)
        box = (ys.min(), ys.max() + 1, xs.min(), xs.max() + 1)
        full_well_e = float(np.median(props.full_well * props.gain))
        scene = default_scene(
            rng,
            light_box=box,
            channel=channel,
            sky=sky,
            integration_duration=readout.integration_duration,
            full_well_e=full_well_e,
        )
    if isinstance(scene, Scene):
        flux = scene.render(shape)
        sources = _sources_table(scene)
    else:
        flux = np.asarray(scene, dtype=np.float32)
        if flux.shape != shape:
            raise InputError(
                f"scene image has shape {flux.shape} but subarray {props.window.name} is {shape}"
            )
        if not np.all(np.isfinite(flux)) or np.any(flux < 0):
            raise InputError("scene image must be finite and non-negative (e-/s per pixel)")
        flux = flux + np.float32(sky)
        sources = _sources_table(Scene())
    return np.where(light, flux, 0.0).astype(np.float32), sources


def _sources_table(scene: Scene) -> Table:
    rows = [("star", s.x, s.y, s.flux, 0.0, 0.0, 1.0, 0.0) for s in scene.stars]
    rows += [("galaxy", g.x, g.y, g.flux, g.n, g.r_eff, g.q, g.theta) for g in scene.galaxies]
    names = ("kind", "x", "y", "flux", "sersic_n", "r_eff", "axis_ratio", "theta")
    if not rows:
        return Table(names=names, dtype=("U6", "f8", "f8", "f8", "f8", "f8", "f8", "f8"))
    return Table(rows=rows, names=names)


def _selector(reftype: str, props: DetectorProperties, readout: Readout) -> dict[str, str]:
    values = {
        "META.INSTRUMENT.DETECTOR": props.detector,
        "META.SUBARRAY.NAME": props.window.name,
        "META.EXPOSURE.READPATT": readout.pattern,
    }
    return {key: values[key] for key in REFERENCE_SELECTORS[reftype]}


def _register(context, models, props, readout) -> dict[str, Path]:
    """Register the references; reuse a registered simulated dark with enough groups.

    Darks differ by their number of groups only in length, so a dark with at
    least ``ngroups`` groups from the same simulator version serves; replacing
    it with a shorter one would break longer exposures already simulated.
    """
    context.mark_not_applicable("NIRCAM", NOT_SIMULATED_REFTYPES)
    entries = []
    paths: dict[str, Path] = {}
    for reftype, model in models.items():
        selector = _selector(reftype, props, readout)
        if reftype == "dark":
            existing = context.lookup("NIRCAM", "dark", selector)
            if _simulated_dark_groups(existing) >= readout.ngroups:
                paths["dark"] = existing
                continue
        entries.append((reftype, model, selector))
    paths.update(context.add_references(entries))
    return paths


def _simulated_dark_groups(path) -> int:
    """NGROUPS of a dark written by this simulator version, else 0."""
    if not isinstance(path, Path) or not path.exists():
        return 0
    from astropy.io import fits

    try:
        header = fits.getheader(path)
    except OSError:
        return 0
    if not header.get("SIMULATD") or str(header.get("SIMMODEL")) != SIM_MODEL_VERSION:
        return 0
    return int(header.get("NGROUPS", 0))


def _set_metadata(model, props: DetectorProperties, readout: Readout, seed, exposure_number):
    """JWST Level 1b metadata of a NIRCam imaging exposure (marked as simulated)."""
    det = DETECTORS[props.detector]
    w = props.window
    meta = model.meta
    obs, visit, visit_group, seq, act = "001", "001", "01", "1", "01"
    expnum = f"{int(exposure_number):05d}"
    meta.filename = f"jw{_PROGRAM}{obs}{visit}_{visit_group}{seq}{act}_{expnum}_{props.detector.lower()}_uncal.fits"
    meta.telescope = "JWST"
    meta.origin = "JWINTERACT-SIM"
    meta.filetype = "uncalibrated"
    meta.program.pi_name = "jwinteract simulator"
    meta.program.title = "jwinteract SIMULATED exposure (not real data)"
    meta.program.category = "SIM"
    meta.observation.program_number = _PROGRAM
    meta.observation.observation_number = obs
    meta.observation.visit_number = visit
    meta.observation.visit_group = visit_group
    meta.observation.sequence_id = seq
    meta.observation.activity_id = act
    meta.observation.exposure_number = expnum
    meta.observation.visit_id = f"{_PROGRAM}{obs}{visit}"
    meta.observation.obs_id = f"V{_PROGRAM}{obs}{visit}P0000000{visit_group}{seq}{act}"
    meta.observation.observation_label = "jwinteract simulation"
    meta.visit.type = "PRIME_TARGETED_FIXED"
    meta.visit.engineering_quality = "OK"
    meta.visit.tsovisit = False
    meta.target.proposer_name = "SIMULATED-FIELD"
    meta.target.catalog_name = "SIMULATED-FIELD"
    meta.target.type = "FIXED"
    meta.target.ra, meta.target.dec = _TARGET_RA, _TARGET_DEC
    meta.target.source_type = "EXTENDED"
    meta.instrument.name = "NIRCAM"
    meta.instrument.detector = props.detector
    meta.instrument.channel = det["channel"]
    meta.instrument.module = det["module"]
    meta.instrument.filter = "F200W" if det["channel"] == "SHORT" else "F444W"
    meta.instrument.pupil = "CLEAR"

    e = meta.exposure
    e.type = "NRC_IMAGE"
    e.readpatt = readout.pattern
    e.nints, e.ngroups = readout.nints, readout.ngroups
    e.nframes, e.groupgap, e.frame_divisor = readout.nframes, readout.groupgap, readout.nframes
    e.nsamples, e.sample_time = 1, 10
    e.nresets_at_start, e.nresets_between_ints = 1, 1
    e.drop_frames1, e.drop_frames3 = 0, 0
    e.integration_start, e.integration_end = 1, readout.nints
    e.frame_time, e.group_time = readout.frame_time, readout.group_time
    e.integration_time = readout.integration_time
    e.exposure_time = readout.integration_time * readout.nints
    e.measurement_time = (readout.ngroups - 1) * readout.group_time * readout.nints
    e.duration = readout.nints * (readout.frames_per_integration + 1) * readout.frame_time
    e.zero_frame = False
    e.data_problem = False
    e.prime_parallel = "PRIME"
    start = Time(f"{_OBS_DATE}T{_OBS_TIME}", scale="utc")
    end = start + TimeDelta(e.duration, format="sec")
    e.start_time, e.end_time = start.mjd, end.mjd
    e.mid_time = (start.mjd + end.mjd) / 2.0
    meta.observation.date, meta.observation.time = _OBS_DATE, _OBS_TIME
    meta.observation.date_beg = start.isot
    meta.observation.date_end = end.isot

    s = meta.subarray
    s.name, s.xstart, s.ystart, s.xsize, s.ysize = w.name, w.xstart, w.ystart, w.xsize, w.ysize
    s.fastaxis, s.slowaxis = det["axes"]

    v2, v3 = det["v2v3"]
    scale = 0.031 if det["channel"] == "SHORT" else 0.063
    meta.pointing.ra_v1, meta.pointing.dec_v1, meta.pointing.pa_v3 = (
        _TARGET_RA,
        _TARGET_DEC,
        _V3PA,
    )
    wcs = meta.wcsinfo
    wcs.wcsaxes = 2
    wcs.ra_ref, wcs.dec_ref, wcs.roll_ref = _TARGET_RA, _TARGET_DEC, _V3PA
    wcs.v2_ref, wcs.v3_ref = v2, v3
    wcs.v3yangle, wcs.vparity = -0.5, -1
    wcs.siaf_xref_sci, wcs.siaf_yref_sci = (w.xsize + 1) / 2.0, (w.ysize + 1) / 2.0
    wcs.crpix1, wcs.crpix2 = wcs.siaf_xref_sci, wcs.siaf_yref_sci
    wcs.crval1, wcs.crval2 = _TARGET_RA, _TARGET_DEC
    wcs.cdelt1 = wcs.cdelt2 = scale / 3600.0
    wcs.ctype1, wcs.ctype2 = "RA---TAN", "DEC--TAN"
    wcs.cunit1 = wcs.cunit2 = "deg"
    angle = np.deg2rad(_V3PA)
    wcs.pc1_1, wcs.pc1_2 = -np.cos(angle), np.sin(angle)
    wcs.pc2_1, wcs.pc2_2 = np.sin(angle), np.cos(angle)

    model.extra_fits = {
        "PRIMARY": {
            "header": [
                ["SIMULATD", True, "simulated by jwinteract; not real data"],
                ["SIMMODEL", SIM_MODEL_VERSION, "jwinteract detector model version"],
                ["SIMSEED", int(seed), "jwinteract simulation seed"],
            ]
        }
    }
