"""detect_jumps against stcal 1.20.0's two-point difference (bit for bit) and against truth."""

import hashlib
import warnings

import numpy as np
import pytest
from scipy.stats import norm
from stcal.jump.jump import detect_jumps_data
from stcal.jump.jump_class import JumpData
from stdatamodels.jwst.datamodels import dqflags

from jwinteract.algorithms import jump
from jwinteract.algorithms.jump import detect_jumps
from jwinteract.errors import InputError, ParameterError

PIXEL = dict(dqflags.pixel)
JUMP, SAT, DNU = PIXEL["JUMP_DET"], PIXEL["SATURATED"], PIXEL["DO_NOT_USE"]
GROUP_TIME = 10.0


def _ramp(seed, nints, ngroups, ny=40, nx=40, *, jumps=0.1, defects=True, nframes=1):
    """A simulated ramp in DN with injected jumps and the DQ cases stcal handles.

    Returns the inputs of ``detect_jumps`` and the truth: ``truth[i, g, y, x]``
    is the size (in sigma of a group difference) of a jump injected between
    groups g-1 and g, else 0.
    """
    rng = np.random.default_rng(seed)
    gain = rng.uniform(1.5, 2.5, (ny, nx)).astype(np.float32)
    readnoise = rng.uniform(8.0, 15.0, (ny, nx)).astype(np.float32)  # CDS, DN
    rate = rng.lognormal(3.0, 1.5, (ny, nx))  # electrons per group
    rate[rng.random((ny, nx)) < 0.05] *= 30
    electrons = rng.poisson(np.broadcast_to(rate, (nints, ngroups, ny, nx))).cumsum(axis=1)
    electrons = electrons.astype(np.float64)
    # One read-noise draw per group: each difference then has the CDS noise.
    read = rng.normal(0.0, 1.0, electrons.shape) * (readnoise / np.sqrt(2 * nframes))

    truth = np.zeros(electrons.shape, np.float32)
    njumps = int(jumps * nints * ny * nx)
    i, y, x = (
        rng.integers(0, nints, njumps),
        rng.integers(0, ny, njumps),
        rng.integers(0, nx, njumps),
    )
    g = rng.integers(1, ngroups, njumps)
    size = np.exp(rng.uniform(np.log(2.0), np.log(3000.0), njumps))  # sigma
    sigma_e = np.sqrt(rate + (readnoise * gain) ** 2 / nframes)
    for ii, gg, yy, xx, ss in zip(i, g, y, x, size, strict=True):
        electrons[ii, gg:, yy, xx] += ss * sigma_e[yy, xx]
        truth[ii, gg, yy, xx] = ss
    data = (electrons / gain + read + 2000.0).astype(np.float32)

    groupdq = np.zeros(data.shape, np.uint8)
    pixeldq = np.zeros((ny, nx), np.uint32)
    if defects:
        n = max(ny * nx // 50, 2)
        for _ in range(n):  # saturation from some group on
            ii, gg = rng.integers(0, nints), rng.integers(1, ngroups)
            groupdq[ii, gg:, rng.integers(0, ny), rng.integers(0, nx)] |= SAT
        groupdq[:, :, rng.integers(0, ny, n), rng.integers(0, nx, n)] |= DNU  # dead pixels
        where = tuple(rng.integers(0, s, n) for s in data.shape)
        groupdq[where] |= DNU  # single DO_NOT_USE groups
        where = tuple(rng.integers(0, s, n) for s in data.shape)
        groupdq[where] |= JUMP  # already flagged upstream (some also DNU/SAT)
        k = rng.integers(0, ny, 9), rng.integers(0, nx, 9)
        gain[k[0][:3], k[1][:3]] = np.nan
        gain[k[0][3:6], k[1][3:6]] = 0.0
        gain[k[0][6:], k[1][6:]] = -1.5
        pixeldq[rng.integers(0, ny, 5), rng.integers(0, nx, 5)] = PIXEL["DEAD"] | DNU
    return {
        "data": data,
        "groupdq": groupdq,
        "pixeldq": pixeldq,
        "gain": gain,
        "readnoise": readnoise,
        "truth": truth,
    }


def _ours(ramp, nframes=1, **params):
    return detect_jumps(
        ramp["data"],
        ramp["groupdq"],
        ramp["pixeldq"],
        gain=ramp["gain"],
        readnoise=ramp["readnoise"],
        nframes=nframes,
        group_time=GROUP_TIME,
        dqflags=PIXEL,
        **params,
    )


def _stcal(ramp, nframes=1, **params):
    """stcal's detect_jumps_data set up as jwst 3.0.0's JumpStep._setup_jump_data does.

    A RampModel has no read pattern, so JumpData uses dt_group = [1] and
    n_reads_groupdiff = [2 * nframes]; maximum_cores is "1". stcal writes into
    the group and pixel DQ it is given: it gets copies.
    """
    p = {
        "rejection_threshold": 4.0,
        "three_group_rejection_threshold": 6.0,
        "four_group_rejection_threshold": 5.0,
        "flag_4_neighbors": True,
        "max_jump_to_flag_neighbors": 1000.0,
        "min_jump_to_flag_neighbors": 10.0,
        "after_jump_flag_dn1": 0.0,
        "after_jump_flag_time1": 0.0,
        "after_jump_flag_dn2": 0.0,
        "after_jump_flag_time2": 0.0,
        "min_diffs_single_pass": 10,
        "minimum_groups": 3,
        "minimum_sigclip_groups": 100,
        "only_use_ints": True,
    } | params
    jd = JumpData(gain2d=ramp["gain"].copy(), rnoise2d=ramp["readnoise"].copy(), dqflags=PIXEL)
    jd.init_arrays_from_arrays(ramp["data"].copy(), ramp["groupdq"].copy(), ramp["pixeldq"].copy())
    jd.nframes = nframes
    jd.dt_group = np.ones(1)
    jd.n_reads_groupdiff = np.ones(1) * 2 * nframes
    jd.set_detection_settings(
        p["rejection_threshold"],
        p["three_group_rejection_threshold"],
        p["four_group_rejection_threshold"],
        p["max_jump_to_flag_neighbors"],
        p["min_jump_to_flag_neighbors"],
        p["flag_4_neighbors"],
    )
    jd.set_after_jump(
        p["after_jump_flag_dn1"],
        int(p["after_jump_flag_time1"] // GROUP_TIME),
        p["after_jump_flag_dn2"],
        int(p["after_jump_flag_time2"] // GROUP_TIME),
    )
    jd.min_diffs_single_pass = p["min_diffs_single_pass"]
    jd.set_sigma_clipping_info(p["minimum_groups"], p["minimum_sigclip_groups"], p["only_use_ints"])
    jd.max_cores = "1"
    with warnings.catch_warnings():  # All-NaN slices, astropy's NaN notice...
        warnings.simplefilter("ignore")
        gdq, pdq, primary_crs, _ = detect_jumps_data(jd)
    return gdq, pdq, primary_crs


def _assert_same(ours, theirs):
    """Same group and pixel DQ (and primary CR count, if ours has one)."""
    assert ours[0].dtype == np.uint8 and ours[1].dtype == np.uint32
    np.testing.assert_array_equal(ours[0], theirs[0])
    np.testing.assert_array_equal(ours[1], theirs[1])
    if len(ours) == 3:
        assert ours[2] == theirs[2]


AFTER = {
    "after_jump_flag_dn1": 100.0,
    "after_jump_flag_time1": 25.0,  # 2 groups
    "after_jump_flag_dn2": 2000.0,
    "after_jump_flag_time2": 1000.0,  # the rest of the integration
}

THRESHOLDS = {
    "rejection_threshold": 3.0,
    "three_group_rejection_threshold": 4.0,
    "four_group_rejection_threshold": 3.5,
}
NEIGHBOUR_BOUNDS = {"min_jump_to_flag_neighbors": 5.0, "max_jump_to_flag_neighbors": 50.0}

# name: (nints, ngroups, parameters, the regime stcal uses)
CASES = {
    "iterative-3groups": (1, 3, {}, "iterative"),
    "iterative-4groups": (1, 4, {}, "iterative"),
    "iterative-5groups": (1, 5, {}, "iterative"),
    "iterative-10groups": (1, 10, {}, "iterative"),
    "iterative-3ints": (3, 4, {}, "iterative"),
    "iterative-2ints-10groups": (2, 10, {}, "iterative"),
    "iterative-thresholds": (2, 5, THRESHOLDS, "iterative"),
    "single-pass-20groups": (1, 20, {}, "single"),
    "single-pass-2ints": (2, 20, {}, "single"),
    "single-pass-9diffs": (1, 10, {"min_diffs_single_pass": 9}, "single"),
    "no-neighbours": (1, 10, {"flag_4_neighbors": False}, "iterative"),
    "neighbour-bounds": (1, 10, NEIGHBOUR_BOUNDS, "iterative"),
    "after-jump-iterative": (1, 10, AFTER, "iterative"),
    "after-jump-single-pass": (2, 20, AFTER, "single"),
    "after-jump-no-neighbours": (1, 5, AFTER | {"flag_4_neighbors": False}, "iterative"),
    "sigclip-ints": (120, 3, {}, "sigclip"),
    "sigclip-ints-after-jump": (110, 4, AFTER, "sigclip"),
    "sigclip-all-diffs": (120, 4, {"only_use_ints": False}, "sigclip"),
    "sigclip-all-diffs-30ints": (30, 5, {"only_use_ints": False}, "sigclip"),
    "only-use-ints-30ints": (30, 5, {"only_use_ints": True}, "iterative"),
    "sigclip-minimum-50": (
        12,
        10,
        {"only_use_ints": False, "minimum_sigclip_groups": 50},
        "sigclip",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_matches_stcal(case, monkeypatch):
    nints, ngroups, params, regime = CASES[case]
    side = 12 if nints > 20 else 40
    ramp = _ramp(list(CASES).index(case), nints, ngroups, side, side)
    blocks = [(0, side)]
    assert regime == jump._choose_regime(
        ramp["groupdq"],
        blocks,
        DNU,
        params.get("minimum_sigclip_groups", 100),
        params.get("only_use_ints", True),
        params.get("min_diffs_single_pass", 10),
    )
    theirs = _stcal(ramp, **params)
    assert np.count_nonzero(theirs[0] & JUMP) > np.count_nonzero(ramp["groupdq"] & JUMP)
    ours = _ours(ramp, return_primary_crs=True, **params)
    _assert_same(ours, theirs)
    if "after_jump_flag_dn1" in params:  # the option is exercised
        without = {k: v for k, v in params.items() if not k.startswith("after_jump")}
        assert np.count_nonzero(_ours(ramp, **without)[0] & JUMP) < np.count_nonzero(ours[0] & JUMP)
    # Blocks of 5 rows: block edges must not change neighbour flags.
    monkeypatch.setattr(jump, "BLOCK_SAMPLES", 5 * nints * ngroups * side)
    _assert_same(_ours(ramp, return_primary_crs=True, **params), theirs)


@pytest.mark.parametrize("seed", range(4))
def test_matches_stcal_with_ties(seed):
    """Quantised data: equal differences, tied largest values, tied medians."""
    ramp = _ramp(seed, 1 + seed % 2, (4, 5, 6, 12)[seed], 30, 30)
    ramp["data"] = np.round(ramp["data"] / 8.0) * 8.0
    ramp["gain"][np.isfinite(ramp["gain"]) & (ramp["gain"] > 0)] = 2.0
    _assert_same(_ours(ramp, **AFTER), _stcal(ramp, **AFTER))


@pytest.mark.parametrize("nframes", [2, 4])
def test_matches_stcal_nframes(nframes):
    ramp = _ramp(11, 1, 6, 30, 30, nframes=nframes)
    _assert_same(_ours(ramp, nframes=nframes), _stcal(ramp, nframes=nframes))


@pytest.mark.parametrize("ngroups", [5, 12])
def test_matches_stcal_nonfinite_data(ngroups):
    ramp = _ramp(12, 1, ngroups, 20, 20)
    ramp["data"][0, 2, 5, 5] = np.inf
    ramp["data"][0, 1:3, 6, 6] = np.inf
    ramp["data"][0, 2, 7, 7] = -np.inf
    ramp["data"][0, 3, 8, 8] = np.nan
    _assert_same(_ours(ramp, **AFTER), _stcal(ramp, **AFTER))


def test_whole_do_not_use_group_skips_detection():
    """Fewer than 3 usable groups in an integration: stcal detects nothing.

    JUMP_DET already set on DO_NOT_USE or SATURATED groups is still removed.
    """
    ramp = _ramp(13, 2, 3, 20, 20)
    ramp["groupdq"][1, 2] |= DNU
    ours = _ours(ramp, return_primary_crs=True)
    _assert_same(ours, _stcal(ramp))
    assert ours[2] == -99  # stcal's count when it skips
    gdq = ramp["groupdq"]
    expected = np.where(gdq & (DNU | SAT) != 0, gdq & ~np.uint8(JUMP), gdq)
    np.testing.assert_array_equal(ours[0], expected)


def test_whole_do_not_use_group_lowers_usable_differences():
    """A group DO_NOT_USE everywhere takes 11 groups below the single-pass regime."""
    ramp = _ramp(14, 1, 11, 30, 30)
    ramp["groupdq"][0, 5] |= DNU
    _assert_same(_ours(ramp), _stcal(ramp))


@pytest.mark.parametrize("all_but_one_dnu", [True, False])
def test_sigclip_clears_group_of_only_jumps(all_but_one_dnu):
    """stcal quirk: a group whose pixels are all JUMP_DET or DO_NOT_USE after
    sigma clipping loses its pure JUMP_DET flags."""
    ramp = _ramp(15, 120, 3, 2, 2, jumps=0.0, defects=False)
    ramp["data"][0, 1:, 0, 0] += 5000.0
    if all_but_one_dnu:
        ramp["groupdq"][0, 1] = DNU
        ramp["groupdq"][0, 1, 0, 0] = 0
    ours = _ours(ramp, return_primary_crs=True)
    _assert_same(ours, _stcal(ramp))
    assert bool(ours[0][0, 1, 0, 0] & JUMP) is not all_but_one_dnu


def test_bad_gain_flags_pixeldq_and_detects_nothing_there():
    ramp = _ramp(16, 1, 8, 20, 20, jumps=0.5)
    ramp["gain"][3, :] = np.nan
    ramp["gain"][4, :] = 0.0
    gdq, pdq = _ours(ramp, flag_4_neighbors=False)
    assert np.all(pdq[3:5] & (PIXEL["NO_GAIN_VALUE"] | DNU) == PIXEL["NO_GAIN_VALUE"] | DNU)
    new_jumps = (gdq & JUMP) & ~(ramp["groupdq"] & JUMP)
    assert not new_jumps[:, :, 3:5].any()
    _assert_same((gdq, pdq), _stcal(ramp, flag_4_neighbors=False))


# --------------------------------------------------------------------------
# Against truth


def test_finds_large_jumps():
    """Jumps of 8 sigma or more are found.

    A jump is missed only if the noise of its difference (or the error of
    the median it is compared with) takes off more than 4 of its 8 sigma:
    Phi(-4) = 3e-5 per jump, so none of the ~1,500 should be missed; 1%
    allows for the few pixels with two injected jumps in one difference
    range, whose median is pulled up.
    """
    ramp = _ramp(17, 1, 10, 128, 128, jumps=0.1, defects=False)
    gdq, _ = _ours(ramp, flag_4_neighbors=False)
    big = ramp["truth"] >= 8.0
    found = gdq[big] & JUMP != 0
    assert big.sum() > 1000
    assert found.mean() >= 0.99


def test_false_positive_rate():
    """Noise alone is flagged at the rate of a 4 sigma two-sided Gaussian tail.

    2 * Phi(-4) = 6.3e-5 per difference, i.e. ~6,300 per million pixels for a
    ramp of 99 differences (the figure usually quoted). The median each
    difference is compared with has variance (pi / 2) sigma**2 / n, which
    lowers the effective threshold to 4 / sqrt(1 + pi / (2 n)). Expected
    here ~115 false jumps; the tolerance of 30% is 3 Poisson sigma.
    """
    ngroups = 100
    ramp = _ramp(18, 1, ngroups, 128, 128, jumps=0.0, defects=False)
    gdq, _ = _ours(ramp, flag_4_neighbors=False)
    ndiffs = (ngroups - 1) * 128 * 128
    rate = np.count_nonzero(gdq & JUMP) / ndiffs
    n = ngroups - 1
    expected = 2 * norm.sf(4.0 / np.sqrt(1 + np.pi / (2 * n)))
    assert 0.7 * expected < rate < 1.3 * expected


# --------------------------------------------------------------------------
# Contract


def _fingerprint(arrays):
    h = hashlib.sha256()
    for a in arrays:
        h.update(f"{a.dtype}{a.shape}{a.strides}".encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


@pytest.mark.parametrize(
    "nints, ngroups, params",
    [(1, 6, AFTER), (1, 20, AFTER), (120, 3, AFTER), (1, 3, {})],
)
def test_inputs_not_modified(nints, ngroups, params):
    side = 10 if nints > 20 else 30
    ramp = _ramp(19, nints, ngroups, side, side)
    del ramp["truth"]
    before = _fingerprint(ramp.values())
    gdq, pdq = _ours(ramp, **params)
    assert _fingerprint(ramp.values()) == before
    assert not np.shares_memory(gdq, ramp["groupdq"])
    assert not np.shares_memory(pdq, ramp["pixeldq"])


@pytest.mark.parametrize("flag_4_neighbors", [True, False])
def test_progress(flag_4_neighbors, monkeypatch):
    monkeypatch.setattr(jump, "BLOCK_SAMPLES", 7 * 5 * 30)  # 7 rows per block
    ramp = _ramp(20, 1, 5, 30, 30)
    calls = []
    _ours(ramp, flag_4_neighbors=flag_4_neighbors, progress=calls.append)
    nblocks = 5  # ceil(30 / 7)
    assert len(calls) == nblocks * (2 if flag_4_neighbors else 1)
    assert calls == sorted(calls) and calls[-1] == 1.0


def test_sorted_lanes_order_statistics():
    """The sorting network and np.sort paths give numpy's order statistics."""
    rng = np.random.default_rng(21)
    for n in range(1, 40):
        values = rng.integers(0, 6, (n, 500)).astype(np.float64)  # many ties
        values[rng.random(values.shape) < 0.2] = np.nan
        lanes = jump._SortedLanes(values)
        expected = np.sort(values, axis=0)
        np.testing.assert_array_equal(lanes.count, np.count_nonzero(~np.isnan(values), axis=0))
        for k in range(n):
            got = lanes.take(np.full(500, k))
            valid = k < lanes.count
            np.testing.assert_array_equal(got[valid], expected[k, valid])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            np.testing.assert_array_equal(jump._nanmedian(lanes), np.nanmedian(values, axis=0))


def test_rejects_bad_inputs():
    ramp = _ramp(22, 1, 4, 8, 8)
    with pytest.raises(InputError, match="groupdq shape"):
        detect_jumps(
            ramp["data"], ramp["groupdq"][:, :3], ramp["pixeldq"], gain=ramp["gain"],
            readnoise=ramp["readnoise"], nframes=1, group_time=1.0, dqflags=PIXEL,
        )  # fmt: skip
    with pytest.raises(InputError, match="gain shape"):
        detect_jumps(
            ramp["data"], ramp["groupdq"], ramp["pixeldq"], gain=ramp["gain"][:4],
            readnoise=ramp["readnoise"], nframes=1, group_time=1.0, dqflags=PIXEL,
        )  # fmt: skip
    with pytest.raises(ParameterError, match="NO_GAIN_VALUE"):
        detect_jumps(
            ramp["data"], ramp["groupdq"], ramp["pixeldq"], gain=ramp["gain"],
            readnoise=ramp["readnoise"], nframes=1, group_time=1.0,
            dqflags={"JUMP_DET": 4, "SATURATED": 2, "DO_NOT_USE": 1},
        )  # fmt: skip
    with pytest.raises(ParameterError, match="group_time"):
        detect_jumps(
            ramp["data"], ramp["groupdq"], ramp["pixeldq"], gain=ramp["gain"],
            readnoise=ramp["readnoise"], nframes=1, group_time=0.0, dqflags=PIXEL,
        )  # fmt: skip
