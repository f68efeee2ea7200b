"""Recipes: EXP_TYPE -> stage pipelines -> ordered step lists, as data.

The routing table (which stage 1/2/3 pipeline runs for each EXP_TYPE) is the
one in the seed documents (jwst "Pipeline Modules" table). Step orders are
those of the reference implementation, jwst 3.0.0, which has grown since the
seed's Build 7.1 tables (e.g. charge_migration, picture_frame and
clean_flicker_noise in Detector1; ami_average folded into ami_analyze).
Where the two disagree the README's "Recipes" section says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import InputError

__all__ = [
    "PipelineDef",
    "PIPELINES",
    "EXP_TYPE_ROUTING",
    "TSO_EXP_TYPES",
    "pipeline_def",
    "stage_pipelines",
    "STAGE_ALIASES",
]


@dataclass(frozen=True)
class PipelineDef:
    """One configured pipeline (a jwst ``.cfg``): its steps in order.

    Parameters
    ----------
    name : str
        The configuration name used by the seeds and jwst, e.g. ``"calwebb_detector1"``.
    jwst_class : str
        The jwst pipeline class implementing it.
    stage : int
        1, 2 or 3.
    steps : tuple of str
        Step aliases, in run order.
    skip : frozenset of str
        Steps this configuration skips in addition to the steps' own defaults
        (e.g. calwebb_tso1 skips ipc, lastframe and persistence).
    suffix : str
        Product type of the pipeline's main output (``rate``, ``cal``...).
    """

    name: str
    jwst_class: str
    stage: int
    steps: tuple[str, ...]
    skip: frozenset[str] = frozenset()
    suffix: str = ""
    description: str = ""


_DET1_TAIL = ("charge_migration", "jump", "picture_frame", "clean_flicker_noise", "persistence",
              "ramp_fit", "gain_scale")  # fmt: skip
_DET1_NIR = ("group_scale", "dq_init", "saturation", "ipc", "superbias", "refpix", "linearity",
             "dark_current") + _DET1_TAIL  # fmt: skip
_DET1_MIRI = ("group_scale", "dq_init", "emicorr", "saturation", "ipc", "firstframe", "lastframe",
              "reset", "linearity", "rscd", "dark_current", "refpix") + _DET1_TAIL  # fmt: skip
_DARK_NIR = ("group_scale", "dq_init", "saturation", "ipc", "superbias", "refpix", "linearity")
_DARK_MIRI = ("group_scale", "dq_init", "emicorr", "saturation", "ipc", "firstframe", "lastframe",
              "reset", "linearity", "rscd")  # fmt: skip
_TSO1_SKIP = frozenset({"ipc", "lastframe", "persistence"})

_SPEC2 = ("assign_wcs", "badpix_selfcal", "msa_flagging", "clean_flicker_noise", "bkg_subtract",
          "imprint_subtract", "extract_2d", "master_background_mos", "targ_centroid", "wavecorr",
          "flat_field", "srctype", "straylight", "fringe", "residual_fringe", "pathloss",
          "barshadow", "wfss_contam", "photom", "adaptive_trace_model", "pixel_replace",
          "resample_spec", "cube_build", "extract_1d")  # fmt: skip

#: Every pipeline configuration, keyed by (name, detector family). The family is
#: "MIRI" or "NIR"; pipelines that do not depend on it use "*".
PIPELINES: dict[tuple[str, str], PipelineDef] = {}


def _add(pdef: PipelineDef, family: str = "*") -> None:
    PIPELINES[(pdef.name, family)] = pdef


_D1 = "jwst.pipeline.Detector1Pipeline"
_add(PipelineDef("calwebb_detector1", _D1, 1, _DET1_NIR, suffix="rate",
                 description="ramps to slopes (near-IR detectors)"), "NIR")  # fmt: skip
_add(PipelineDef("calwebb_detector1", _D1, 1, _DET1_MIRI, suffix="rate",
                 description="ramps to slopes (MIRI)"), "MIRI")  # fmt: skip
_add(PipelineDef("calwebb_tso1", _D1, 1, _DET1_NIR, _TSO1_SKIP, suffix="rateints",
                 description="ramps to slopes for time series (near-IR)"), "NIR")  # fmt: skip
_add(PipelineDef("calwebb_tso1", _D1, 1, _DET1_MIRI, _TSO1_SKIP, suffix="rateints",
                 description="ramps to slopes for time series (MIRI)"), "MIRI")  # fmt: skip
_add(PipelineDef("calwebb_dark", "jwst.pipeline.DarkPipeline", 1, _DARK_NIR, suffix="dark",
                 description="dark exposures, stops before dark_current"), "NIR")  # fmt: skip
_add(PipelineDef("calwebb_dark", "jwst.pipeline.DarkPipeline", 1, _DARK_MIRI, suffix="dark",
                 description="dark exposures, stops before dark_current"), "MIRI")  # fmt: skip
_add(PipelineDef("calwebb_guider", "jwst.pipeline.GuiderPipeline", 1,
                 ("dq_init", "guider_cds", "flat_field"), suffix="cal",
                 description="FGS guide-mode data"))  # fmt: skip
_add(PipelineDef("calwebb_image2", "jwst.pipeline.Image2Pipeline", 2,
                 ("bkg_subtract", "assign_wcs", "flat_field", "photom", "resample"), suffix="cal",
                 description="calibrated images"))  # fmt: skip
_add(PipelineDef("calwebb_spec2", "jwst.pipeline.Spec2Pipeline", 2, _SPEC2, suffix="cal",
                 description="calibrated spectra"))  # fmt: skip
_add(PipelineDef("calwebb_image3", "jwst.pipeline.Image3Pipeline", 3,
                 ("assign_mtwcs", "tweakreg", "skymatch", "outlier_detection", "resample",
                  "source_catalog"), suffix="i2d", description="mosaics and catalogs"))  # fmt: skip
_add(PipelineDef("calwebb_spec3", "jwst.pipeline.Spec3Pipeline", 3,
                 ("assign_mtwcs", "master_background", "outlier_detection", "adaptive_trace_model",
                  "pixel_replace", "resample_spec", "cube_build", "extract_1d", "photom",
                  "combine_1d", "spectral_leak"), suffix="x1d",
                 description="combined spectra and cubes"))  # fmt: skip
_add(PipelineDef("calwebb_tso3", "jwst.pipeline.Tso3Pipeline", 3,
                 ("outlier_detection", "tso_photometry", "adaptive_trace_model", "pixel_replace",
                  "extract_1d", "photom", "white_light"), suffix="x1dints",
                 description="time-series photometry and spectra"))  # fmt: skip
_add(PipelineDef("calwebb_coron3", "jwst.pipeline.Coron3Pipeline", 3,
                 ("stack_refs", "align_refs", "klip", "outlier_detection", "resample"),
                 suffix="i2d", description="PSF-subtracted coronagraphy"))  # fmt: skip
_add(PipelineDef("calwebb_ami3", "jwst.pipeline.Ami3Pipeline", 3,
                 ("ami_analyze", "ami_normalize"), suffix="aminorm",
                 description="aperture-masking interferometry"))  # fmt: skip

_I2, _S2 = "calwebb_image2", "calwebb_spec2"
_D, _T1, _DK = "calwebb_detector1", "calwebb_tso1", "calwebb_dark"


def _route(exp_types: str, s1: str | None, s2: str | None, s3: str | None) -> dict:
    return {e: (s1, s2, s3) for e in exp_types.split()}


#: EXP_TYPE -> (stage 1, stage 2, stage 3) configuration names; None is N/A.
#: Transcribed from the seed's routing table.
EXP_TYPE_ROUTING: dict[str, tuple[str | None, str | None, str | None]] = {
    **_route("FGS_IMAGE", _D, _I2, "calwebb_image3"),
    **_route("FGS_FOCUS", _D, _I2, None),
    **_route("FGS_DARK", _DK, None, None),
    **_route("FGS_SKYFLAT FGS_INTFLAT", _D, None, None),
    **_route(
        "FGS_ID-IMAGE FGS_ID-STACK FGS_ACQ1 FGS_ACQ2 FGS_TRACK FGS_FINEGUIDE",
        "calwebb_guider",
        None,
        None,
    ),  # fmt: skip
    **_route("MIR_IMAGE", _D, _I2, "calwebb_image3"),
    **_route("MIR_MRS MIR_LRS-FIXEDSLIT", _D, _S2, "calwebb_spec3"),
    **_route("MIR_LRS-SLITLESS", _T1, _S2, "calwebb_tso3"),
    **_route("MIR_LYOT MIR_4QPM", _D, _I2, "calwebb_coron3"),
    **_route("MIR_TACQ", _D, _I2, None),
    **_route("MIR_DARKIMG MIR_DARKMRS MIR_DARK", _DK, None, None),
    **_route("MIR_FLATIMAGE MIR_FLATMRS", _D, None, None),
    **_route("NRC_IMAGE", _D, _I2, "calwebb_image3"),
    **_route("NRC_CORON", _D, _I2, "calwebb_coron3"),
    **_route("NRC_WFSS", _D, _S2, "calwebb_spec3"),
    **_route("NRC_TSIMAGE", _T1, _I2, "calwebb_tso3"),
    **_route("NRC_TSGRISM", _T1, _S2, "calwebb_tso3"),
    **_route("NRC_TACQ NRC_TACONFIRM NRC_FOCUS", _D, _I2, None),
    **_route("NRC_DARK", _DK, None, None),
    **_route("NRC_FLAT NRC_LED", _D, None, None),
    **_route("NIS_IMAGE", _D, _I2, "calwebb_image3"),
    **_route("NIS_WFSS", _D, _S2, "calwebb_spec3"),
    **_route("NIS_SOSS", _T1, _S2, "calwebb_tso3"),
    **_route("NIS_AMI", _D, _I2, "calwebb_ami3"),
    **_route("NIS_TACQ NIS_TACONFIRM NIS_FOCUS", _D, _I2, None),
    **_route("NIS_DARK", _DK, None, None),
    **_route("NIS_LAMP", _D, None, None),
    **_route("NRS_FIXEDSLIT NRS_IFU NRS_MSASPEC", _D, _S2, "calwebb_spec3"),
    **_route("NRS_BRIGHTOBJ", _T1, _S2, "calwebb_tso3"),
    **_route(
        "NRS_IMAGE NRS_TACQ NRS_TACONFIRM NRS_BOTA NRS_TASLIT NRS_CONFIRM NRS_FOCUS NRS_MIMF",
        _D,
        _I2,
        None,
    ),  # fmt: skip
    **_route("NRS_DARK", _DK, None, None),
    **_route("NRS_AUTOWAVE NRS_AUTOFLAT NRS_LAMP", _D, None, None),
}

#: EXP_TYPEs that are time series observations (stage 1 is calwebb_tso1).
TSO_EXP_TYPES = frozenset(e for e, r in EXP_TYPE_ROUTING.items() if r[0] == _T1)

#: Short names a user may type for each stage's pipeline.
STAGE_ALIASES = {
    "detector1": 1, "stage1": 1, "1": 1,
    "image2": 2, "spec2": 2, "stage2": 2, "2": 2,
    "image3": 3, "spec3": 3, "tso3": 3, "coron3": 3, "ami3": 3, "stage3": 3, "3": 3,
    "dark": 1, "guider": 1, "tso1": 1,
}  # fmt: skip


def detector_family(instrument: str | None) -> str:
    return "MIRI" if (instrument or "").upper() == "MIRI" else "NIR"


def pipeline_def(name: str, instrument: str | None = None) -> PipelineDef:
    """The configuration ``name`` (``calwebb_detector1`` or ``detector1``) for an instrument."""
    full = name if name.startswith("calwebb_") else f"calwebb_{name}"
    for key in ((full, detector_family(instrument)), (full, "*")):
        if key in PIPELINES:
            return PIPELINES[key]
    known = sorted({n for n, _ in PIPELINES})
    raise InputError(f"no pipeline named {name!r}; known pipelines: {', '.join(known)}")


def stage_pipelines(exp_type: str, instrument: str | None = None) -> list[PipelineDef | None]:
    """The stage 1, 2 and 3 pipelines for an EXP_TYPE (None where N/A).

    Raises
    ------
    InputError
        For an EXP_TYPE the routing table does not know.
    """
    key = (exp_type or "").upper()
    if key not in EXP_TYPE_ROUTING:
        raise InputError(
            f"EXP_TYPE {exp_type!r} is not in the routing table; check the EXP_TYPE keyword "
            f"of the primary header (known: {', '.join(sorted(EXP_TYPE_ROUTING))})"
        )
    return [pipeline_def(n, instrument) if n else None for n in EXP_TYPE_ROUTING[key]]
