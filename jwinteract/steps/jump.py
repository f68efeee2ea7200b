"""jump: two-point-difference cosmic-ray detection (jwst JumpStep, stcal twopoint)."""

from __future__ import annotations

import numpy as np

from ..algorithms.jump import detect_jumps
from ..errors import ParameterError
from ..models import PIXEL, derive
from ..params import Param
from ._common import exposure_number, ref_array, require_ramp
from .base import Skipped, step

# Names, defaults and bounds as in jwst 3.0.0's JumpStep spec.
PARAMS = (
    Param("rejection_threshold", "float", 4.0, "CR sigma rejection threshold", min=0, widget_max=20),
    Param("three_group_rejection_threshold", "float", 6.0, "CR sigma rejection threshold for 3-group ramps", min=0, widget_max=20),
    Param("four_group_rejection_threshold", "float", 5.0, "CR sigma rejection threshold for 4-group ramps", min=0, widget_max=20),
    Param("maximum_cores", "str", "1", "cores for multiprocessing: an integer, 'half', 'quarter' or 'all' (jwinteract threads by itself)"),
    Param("flag_4_neighbors", "bool", True, "flag the four perpendicular neighbors of each CR"),
    Param("max_jump_to_flag_neighbors", "float", 1000.0, "maximum jump sigma that will trigger neighbor flagging", widget_max=2000),
    Param("min_jump_to_flag_neighbors", "float", 10.0, "minimum jump sigma that will trigger neighbor flagging", widget_max=100),
    Param("after_jump_flag_dn1", "float", 0.0, "1st flag groups after jump above DN threshold", widget_max=10000),
    Param("after_jump_flag_time1", "float", 0.0, "1st flag groups after jump groups within specified time", widget_max=2000),
    Param("after_jump_flag_dn2", "float", 0.0, "2nd flag groups after jump above DN threshold", widget_max=10000),
    Param("after_jump_flag_time2", "float", 0.0, "2nd flag groups after jump groups within specified time", widget_max=2000),
    Param("expand_large_events", "bool", False, "turns on snowball detection for NIR detectors"),
    Param("min_sat_area", "float", 1.0, "minimum required area for the central saturation of snowballs"),
    Param("min_jump_area", "float", 5.0, "minimum area to trigger large events processing"),
    Param("expand_factor", "float", 2.0, "expansion factor for the enclosing circles or ellipses"),
    Param("use_ellipses", "bool", False, "deprecated"),
    Param("sat_required_snowball", "bool", True, "require the center of snowballs to be saturated"),
    Param("min_sat_radius_extend", "float", 2.5, "min radius of the saturated core to trigger extension of the core"),
    Param("sat_expand", "int", 2, "pixels to add to the radius of the saturated core of snowballs"),
    Param("edge_size", "int", 25, "distance from detector edge where a saturated core is not required"),
    Param("mask_snowball_core_next_int", "bool", True, "flag saturated cores of snowballs in the next integration"),
    Param("snowball_time_masked_next_int", "int", 4000, "seconds over which saturated cores are flagged in the next integration"),
    Param("find_showers", "bool", False, "apply MIRI shower flagging"),
    Param("max_shower_amplitude", "float", 4.0, "maximum MIRI shower amplitude in DN/s"),
    Param("extend_snr_threshold", "float", 1.2, "SNR minimum for detection of extended showers in MIRI"),
    Param("extend_min_area", "int", 90, "min area of emission after convolution for the detection of showers"),
    Param("extend_inner_radius", "float", 1.0, "inner radius of the ring kernel used for convolution"),
    Param("extend_outer_radius", "float", 2.6, "outer radius of the ring kernel used for convolution"),
    Param("extend_ellipse_expand_ratio", "float", 1.1, "expand the radius of the ellipse fit to the extended emission"),
    Param("time_masked_after_shower", "float", 15.0, "seconds to flag as jump after a detected extended emission"),
    Param("min_diffs_single_pass", "int", 10, "minimum number of differences needed to skip iterative flagging"),
    Param("max_extended_radius", "int", 200, "maximum radius of an extended snowball or shower"),
    Param("minimum_groups", "int", 3, "minimum number of groups to perform jump detection using sigma clipping"),
    Param("minimum_sigclip_groups", "int", 100, "minimum number of groups to switch to sigma clipping"),
    Param("only_use_ints", "bool", True, "in sigma clipping only compare the same group across integrations"),
)  # fmt: skip

_NOT_YET = ("expand_large_events", "find_showers")


@step("jump", params=PARAMS, reference_types=("gain", "readnoise"), cal_step="jump", builtin=True,
      jwst_class="jwst.jump.JumpStep", version="1",
      description="flag cosmic-ray jumps by two-point differences")  # fmt: skip
def jump(model, refs, *, progress, **params):
    require_ramp(model, "jump")
    for name in _NOT_YET:
        if params[name]:
            raise ParameterError(
                f"jump: {name}=True is not implemented in jwinteract yet (snowball and shower "
                "flagging arrive with the fast-Detector1 work); run with it False"
            )
    nints, ngroups, ny, nx = model.data.shape
    if ngroups <= 2:
        return Skipped(model, "cannot apply jump detection when NGROUPS<=2")
    gain = ref_array(refs, "gain", model)
    readnoise = ref_array(refs, "readnoise", model)
    group_time = exposure_number(model, "group_time")
    result = detect_jumps(
        model.data, model.groupdq, model.pixeldq,
        gain=gain, readnoise=readnoise, nframes=exposure_number(model, "nframes"),
        group_time=group_time, dqflags=PIXEL, progress=progress, return_primary_crs=True,
        **{k: params[k] for k in (
            "rejection_threshold", "three_group_rejection_threshold", "four_group_rejection_threshold",
            "flag_4_neighbors", "max_jump_to_flag_neighbors", "min_jump_to_flag_neighbors",
            "after_jump_flag_dn1", "after_jump_flag_time1", "after_jump_flag_dn2", "after_jump_flag_time2",
            "min_diffs_single_pass", "minimum_groups", "minimum_sigclip_groups", "only_use_ints")},
    )  # fmt: skip
    groupdq, pixeldq, n_crs = result
    out = derive(model, groupdq=groupdq, pixeldq=pixeldq)
    # As jwst: primary cosmic rays per second per kilo-pixel, over usable groups.
    dnu = PIXEL["DO_NOT_USE"]
    # Plane by plane: no full-cube temporaries on the hot path.
    all_dnu = sum(bool(np.all(plane & dnu)) for integration in groupdq for plane in integration)
    usable = nints * ngroups - int(all_dnu) - nints
    if usable >= 1:
        total = group_time * usable * ny * nx
        out.meta.exposure.primary_cosmic_rays = 1000 * n_crs / total
        out.meta.exposure.extended_emission_events = 0.0
    return out
