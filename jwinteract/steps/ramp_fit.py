"""ramp_fit: slopes from ramps by optimally weighted least squares (jwst RampFitStep, OLS_C)."""

from __future__ import annotations

from stdatamodels.jwst import datamodels

from ..algorithms.ramp_fit import fit_ramps
from ..errors import InputError, ParameterError
from ..models import PIXEL, copy_history
from ..params import Param
from ._common import exposure_number, ref_array, require_ramp
from .base import step

PARAMS = (
    Param("algorithm", "str", "OLS_C", "ramp fitting algorithm", choices=("OLS_C", "LIKELY")),
    Param("int_name", "str", "", "file name of the per-integration product"),
    Param("save_opt", "bool", False, "also return the optional fit products (fitopt)"),
    Param("opt_name", "str", "", "file name of the optional fit products"),
    Param("suppress_one_group", "bool", True, "suppress saturated ramps with good 0th group"),
    Param("firstgroup", "int", None, "ignore groups before this one (zero indexed)", allow_none=True, min=0),
    Param("lastgroup", "int", None, "ignore groups after this one (zero indexed)", allow_none=True, min=0),
    Param("maximum_cores", "str", "1", "cores for multiprocessing: an integer, 'half', 'quarter' or 'all' (jwinteract threads by itself)"),
)  # fmt: skip


def _image(cls, ramp, out, shape_model=None):
    model = cls()
    model.update(ramp)
    copy_history(ramp, model)
    model.data = out.slope
    model.dq = out.dq
    model.var_poisson = out.var_poisson
    model.var_rnoise = out.var_rnoise
    model.err = out.err
    model.meta.bunit_data = "DN/s"
    model.meta.bunit_err = "DN/s"
    return model


@step("ramp_fit", params=PARAMS, reference_types=("readnoise", "gain"), cal_step="ramp_fit",
      builtin=True, jwst_class="jwst.ramp_fitting.RampFitStep", version="1",
      description="fit slopes to ramps: _rate and _rateints")  # fmt: skip
def ramp_fit(model, refs, *, progress, algorithm, save_opt, suppress_one_group, firstgroup,
             lastgroup, **_names):  # fmt: skip
    require_ramp(model, "ramp_fit")
    if algorithm != "OLS_C":
        raise ParameterError(
            "ramp_fit: algorithm='LIKELY' is not implemented in jwinteract yet "
            "(it arrives with the fast-Detector1 work); use 'OLS_C'"
        )
    gain_model = refs["gain"]
    readnoise = ref_array(refs, "readnoise", model)
    gain = ref_array(refs, "gain", model)
    exp = model.meta.exposure
    dark = model.average_dark_current if model.hasattr("average_dark_current") else None
    zeroframe = model.zeroframe if model.hasattr("zeroframe") and exp.zero_frame else None
    rate, rateints, opt = fit_ramps(
        model.data, model.groupdq, model.pixeldq,
        readnoise=readnoise, gain=gain,
        frame_time=exposure_number(model, "frame_time"), group_time=exposure_number(model, "group_time"),
        nframes=exposure_number(model, "nframes"), groupgap=exposure_number(model, "groupgap", 0),
        dropframes1=exp.drop_frames1 or 0, dqflags=PIXEL, suppress_one_group=suppress_one_group,
        firstgroup=firstgroup, lastgroup=lastgroup, average_dark_current=dark,
        zeroframe=zeroframe, save_opt=save_opt, instrument=model.meta.instrument.name,
        progress=progress,
    )  # fmt: skip
    if rate is None:
        # jwst's ramp_fit returns no product here either.
        raise InputError(
            "ramp_fit: no ramp has a usable group (every pixel saturated in its first group, or "
            "fewer than two usable MIRI groups); there is no rate to fit"
        )
    image = _image(datamodels.ImageModel, model, rate)
    cube = _image(datamodels.CubeModel, model, rateints)
    if model.hasattr("int_times"):
        cube.int_times = model.int_times
    for m in (image, cube):
        if gain_model.meta.exposure.gain_factor is not None:
            m.meta.exposure.gain_factor = gain_model.meta.exposure.gain_factor
    products = {"rate": image, "rateints": cube}
    if opt is not None:
        fitopt = datamodels.RampFitOutputModel(**opt)
        fitopt.update(model)
        products["fitopt"] = fitopt
    return products
