"""Registers the built-in steps, and a placeholder for every recipe step not implemented yet.

A placeholder makes the Session report ``not implemented`` when the step is
reached, instead of pretending it ran.
"""

from __future__ import annotations

import importlib

from .base import _REGISTRY, not_implemented_step, register

# Modules that declare implemented steps (each registers itself on import).
_IMPLEMENTED = (
    "group_scale", "dq_init", "saturation", "superbias", "linearity", "dark_current", "jump",
    "ramp_fit", "gain_scale",
)  # fmt: skip

# Every step alias in the recipes: (jwst class, meta.cal_step attribute, skipped by default in jwst)
JWST_STEPS: dict[str, tuple[str, str | None, bool]] = {
    "group_scale": ("jwst.group_scale.GroupScaleStep", "group_scale", False),
    "dq_init": ("jwst.dq_init.DQInitStep", "dq_init", False),
    "emicorr": ("jwst.emicorr.EmiCorrStep", "emicorr", True),
    "saturation": ("jwst.saturation.SaturationStep", "saturation", False),
    "ipc": ("jwst.ipc.IPCStep", "ipc", False),
    "superbias": ("jwst.superbias.SuperBiasStep", "superbias", False),
    "refpix": ("jwst.refpix.RefPixStep", "refpix", False),
    "rscd": ("jwst.rscd.RscdStep", "rscd", False),
    "firstframe": ("jwst.firstframe.FirstFrameStep", "firstframe", True),
    "lastframe": ("jwst.lastframe.LastFrameStep", "lastframe", False),
    "linearity": ("jwst.linearity.LinearityStep", "linearity", False),
    "dark_current": ("jwst.dark_current.DarkCurrentStep", "dark_sub", False),
    "reset": ("jwst.reset.ResetStep", "reset", False),
    "persistence": ("jwst.persistence.PersistenceStep", "persistence", True),
    "charge_migration": ("jwst.charge_migration.ChargeMigrationStep", "charge_migration", True),
    "jump": ("jwst.jump.JumpStep", "jump", False),
    "picture_frame": ("jwst.picture_frame.PictureFrameStep", "picture_frame", True),
    "clean_flicker_noise": (
        "jwst.clean_flicker_noise.CleanFlickerNoiseStep",
        "clean_flicker_noise",
        True,
    ),
    "ramp_fit": ("jwst.ramp_fitting.RampFitStep", "ramp_fit", False),
    "gain_scale": ("jwst.gain_scale.GainScaleStep", "gain_scale", False),
    "guider_cds": ("jwst.guider_cds.GuiderCdsStep", "guider_cds", False),
    "flat_field": ("jwst.flatfield.FlatFieldStep", "flat_field", False),
    "bkg_subtract": ("jwst.background.BackgroundStep", "bkg_subtract", False),
    "assign_wcs": ("jwst.assign_wcs.AssignWcsStep", "assign_wcs", False),
    "photom": ("jwst.photom.PhotomStep", "photom", False),
    "resample": ("jwst.resample.ResampleStep", "resample", False),
    "assign_mtwcs": ("jwst.assign_mtwcs.AssignMTWcsStep", "assign_mtwcs", False),
    "tweakreg": ("jwst.tweakreg.TweakRegStep", "tweakreg", False),
    "skymatch": ("jwst.skymatch.SkyMatchStep", "skymatch", False),
    "outlier_detection": (
        "jwst.outlier_detection.OutlierDetectionStep",
        "outlier_detection",
        False,
    ),
    "source_catalog": ("jwst.source_catalog.SourceCatalogStep", "source_catalog", False),
    "badpix_selfcal": ("jwst.badpix_selfcal.BadpixSelfcalStep", "badpix_selfcal", True),
    "msa_flagging": ("jwst.msaflagopen.MSAFlagOpenStep", "msa_flagging", False),
    "imprint_subtract": ("jwst.imprint.ImprintStep", "imprint", False),
    "extract_2d": ("jwst.extract_2d.Extract2dStep", "extract_2d", False),
    "master_background_mos": (
        "jwst.master_background.MasterBackgroundMosStep",
        "master_background",
        False,
    ),
    "targ_centroid": ("jwst.targ_centroid.TargCentroidStep", "targ_centroid", True),
    "wavecorr": ("jwst.wavecorr.WavecorrStep", "wavecorr", False),
    "srctype": ("jwst.srctype.SourceTypeStep", "srctype", False),
    "straylight": ("jwst.straylight.StraylightStep", "straylight", False),
    "fringe": ("jwst.fringe.FringeStep", "fringe", False),
    "residual_fringe": ("jwst.residual_fringe.ResidualFringeStep", "residual_fringe", True),
    "pathloss": ("jwst.pathloss.PathLossStep", "pathloss", False),
    "barshadow": ("jwst.barshadow.BarShadowStep", "barshadow", False),
    "wfss_contam": ("jwst.wfss_contam.WfssContamStep", "wfss_contam", True),
    "adaptive_trace_model": (
        "jwst.adaptive_trace_model.AdaptiveTraceModelStep",
        "adaptive_trace_model",
        True,
    ),
    "pixel_replace": ("jwst.pixel_replace.PixelReplaceStep", "pixel_replace", True),
    "resample_spec": ("jwst.resample.ResampleSpecStep", "resample", False),
    "cube_build": ("jwst.cube_build.CubeBuildStep", "cube_build", False),
    "extract_1d": ("jwst.extract_1d.Extract1dStep", "extract_1d", False),
    "master_background": (
        "jwst.master_background.MasterBackgroundStep",
        "master_background",
        False,
    ),
    "combine_1d": ("jwst.combine_1d.Combine1dStep", "combine_1d", False),
    "spectral_leak": ("jwst.spectral_leak.SpectralLeakStep", "spectral_leak", False),
    "tso_photometry": ("jwst.tso_photometry.TSOPhotometryStep", "tso_photometry", False),
    "white_light": ("jwst.white_light.WhiteLightStep", "white_light", False),
    "stack_refs": ("jwst.coron.StackRefsStep", "stack_psfs", False),
    "align_refs": ("jwst.coron.AlignRefsStep", "align_psfs", False),
    "klip": ("jwst.coron.KlipStep", "klip", False),
    "ami_analyze": ("jwst.ami.AmiAnalyzeStep", "ami_analyze", False),
    "ami_normalize": ("jwst.ami.AmiNormalizeStep", "ami_normalize", False),
}

for _mod in _IMPLEMENTED:
    importlib.import_module(f"{__package__}.{_mod}")

for _name, (_cls, _cal, _skip) in JWST_STEPS.items():
    if _name not in _REGISTRY:
        register(not_implemented_step(_name, cal_step=_cal, jwst_class=_cls, skip_default=_skip))
