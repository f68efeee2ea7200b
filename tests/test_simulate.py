"""The simulator: metadata, reproducibility, and its physics against the truth.

Statistical tolerances are derived from the noise of the data they test and
say where they come from. Exposures are small (SUB160/SUB320) except one
full-frame smoke test marked slow.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest
from astropy.io import fits
from stdatamodels.jwst import datamodels

from jwinteract.models import PIXEL
from jwinteract.references.offline import OfflineContext
from jwinteract.simulate import SimulatedExposure, Truth, simulate_exposure
from jwinteract.simulate.detector import detector_properties, linearity_correction
from jwinteract.simulate.ramp import draw_cosmic_rays, simulate_ramp
from jwinteract.simulate.readout import (
    READOUT_PATTERNS,
    frame_time,
    make_readout,
    subarray_window,
)


def good_pixels(truth: Truth) -> np.ndarray:
    """Light-sensitive pixels without DEAD/HOT/WARM flags."""
    bad = PIXEL["DEAD"] | PIXEL["HOT"] | PIXEL["WARM"] | PIXEL["REFERENCE_PIXEL"]
    return (truth.pixeldq & bad) == 0


def corrected_groups(exp: SimulatedExposure) -> np.ndarray:
    """Raw groups minus superbias and bias offset, linearity-corrected with the reference."""
    truth = exp.truth
    data = exp.uncal.data.astype(np.float64)
    offsets = truth.bias_offsets[:, 0][:, None, None, None]  # one output on subarrays
    signal = data - truth.superbias - offsets
    coeffs = exp.reference_models["linearity"].coeffs
    return linearity_correction(signal, coeffs[:, None, None])


# ------------------------------------------------------------------ readout


def test_frame_times_follow_the_jdox_formula():
    assert frame_time(subarray_window("FULL")) == pytest.approx(10.73677, abs=1e-5)
    assert frame_time(subarray_window("SUB640")) == pytest.approx(4.18584, abs=1e-5)
    assert frame_time(subarray_window("SUB320")) == pytest.approx(1.06904, abs=1e-5)
    assert frame_time(subarray_window("SUB160")) == pytest.approx(0.27864, abs=1e-5)


@pytest.mark.parametrize("pattern", sorted(READOUT_PATTERNS))
def test_readout_patterns(pattern):
    nframes, groupgap = READOUT_PATTERNS[pattern]
    r = make_readout(pattern, 4, 1, subarray_window("SUB160"))
    assert r.group_time == pytest.approx((nframes + groupgap) * r.frame_time)
    frames = r.read_frames()
    assert frames.shape == (4, nframes)
    assert np.all(np.diff(frames[:, 0]) == nframes + groupgap)
    assert r.frames_per_integration == frames[-1, -1]
    assert np.allclose(np.diff(r.group_times()), r.group_time)


def test_reference_pixels_only_where_the_subarray_touches_the_border():
    full = subarray_window("FULL").reference_mask()
    assert full[:4].all() and full[-4:].all() and full[:, :4].all() and full[:, -4:].all()
    assert not full[4:-4, 4:-4].any()
    sub = subarray_window("SUB160").reference_mask()
    assert sub[:4].all() and sub[:, :4].all()
    assert not sub[4:, 4:].any()  # the far edges are inside the detector


# ------------------------------------------------------------------ products


@pytest.fixture(scope="module")
def context(tmp_path_factory):
    return OfflineContext(tmp_path_factory.mktemp("crds"))


@pytest.fixture(scope="module")
def sub160(context):
    return simulate_exposure(subarray="SUB160", ngroups=6, nints=2, seed=1, context=context)


def test_uncal_shape_and_metadata(sub160):
    uncal = sub160.uncal
    assert isinstance(uncal, datamodels.Level1bModel)
    assert uncal.data.shape == (2, 6, 160, 160) and uncal.data.dtype == np.uint16
    meta = uncal.meta
    assert (meta.instrument.name, meta.instrument.detector) == ("NIRCAM", "NRCA1")
    assert (meta.instrument.channel, meta.instrument.module) == ("SHORT", "A")
    assert meta.exposure.type == "NRC_IMAGE"
    assert (meta.exposure.readpatt, meta.exposure.nframes, meta.exposure.groupgap) == (
        "RAPID",
        1,
        0,
    )
    assert (meta.exposure.ngroups, meta.exposure.nints, meta.exposure.frame_divisor) == (6, 2, 1)
    assert meta.exposure.frame_time == pytest.approx(0.27864)
    assert meta.exposure.group_time == pytest.approx(0.27864)
    sub = meta.subarray
    assert (sub.name, sub.xstart, sub.ystart, sub.xsize, sub.ysize) == ("SUB160", 1, 1, 160, 160)
    assert sub160.filename == "jw01234001001_01101_00001_nrca1_uncal.fits"


def test_nframes_pattern_metadata(context):
    exp = simulate_exposure(
        subarray="SUB320", readpatt="MEDIUM8", ngroups=3, seed=2, write_references=False
    )
    e = exp.uncal.meta.exposure
    assert (e.nframes, e.groupgap, e.frame_divisor) == (8, 2, 8)
    assert e.frame_time == pytest.approx(1.06904)
    assert e.group_time == pytest.approx(10 * 1.06904)
    assert exp.uncal.data.shape == (1, 3, 320, 320)
    assert exp.references == {} and exp.context is None


def test_long_wavelength_detector():
    exp = simulate_exposure(
        detector="NRCALONG", subarray="SUB160", ngroups=2, write_references=False
    )
    meta = exp.uncal.meta
    assert (meta.instrument.channel, meta.instrument.filter) == ("LONG", "F444W")
    assert exp.uncal.meta.filename.endswith("_nrcalong_uncal.fits")


def test_written_uncal_opens_validates_and_says_it_is_simulated(sub160, tmp_path):
    paths = sub160.write(tmp_path)
    assert paths["uncal"].name == "jw01234001001_01101_00001_nrca1_uncal.fits"
    with datamodels.open(paths["uncal"]) as model:
        assert isinstance(model, datamodels.Level1bModel)
        model.validate()
        np.testing.assert_array_equal(model.data, sub160.uncal.data)
    header = fits.getheader(paths["uncal"])
    assert header["SIMULATD"] is True
    assert header["ORIGIN"] == "JWINTERACT-SIM"
    assert "SIMULATED" in header["TITLE"]
    assert header["TELESCOP"] == "JWST"
    truth = Truth.read(paths["truth"])
    np.testing.assert_array_equal(truth.rate, sub160.truth.rate)
    np.testing.assert_array_equal(truth.first_saturated_group, sub160.truth.first_saturated_group)
    assert len(truth.jumps) == len(sub160.truth.jumps)
    assert truth.info["seed"] == 1


def test_reference_files_have_the_keywords_jwst_needs(sub160):
    for reftype, path in sub160.references.items():
        header = fits.getheader(path)
        assert header["REFTYPE"] == reftype.upper()
        assert (header["INSTRUME"], header["DETECTOR"]) == ("NIRCAM", "NRCA1")
        assert (header["SUBARRAY"], header["SUBSTRT1"], header["SUBSIZE2"]) == ("SUB160", 1, 160)
        assert header["USEAFTER"] == "2014-01-01T00:00:00"
        assert header["PEDIGREE"] == "DUMMY" and header["AUTHOR"] and header["DESCRIP"]
        assert header["SIMULATD"] is True
        assert path.name.startswith(f"jwst_nircam_{reftype}_")
    dark = fits.getheader(sub160.references["dark"])
    assert (dark["READPATT"], dark["NFRAMES"], dark["GROUPGAP"]) == ("RAPID", 1, 0)
    assert dark["NGROUPS"] >= 6
    # READNOISE holds the CDS noise: sqrt(2) x the single-read noise used to simulate.
    rn = sub160.reference_models["readnoise"].data
    np.testing.assert_allclose(rn, np.sqrt(2) * sub160.truth.read_noise, rtol=1e-6)


def test_references_depend_on_the_detector_not_the_seed(sub160, context):
    other = simulate_exposure(subarray="SUB160", ngroups=6, seed=99, context=context)
    assert other.references == sub160.references
    assert not np.array_equal(other.uncal.data, sub160.uncal.data)
    # A subarray is a cut of the detector: SUB160 is the corner of SUB640.
    big = detector_properties("NRCA1", subarray_window("SUB640"))
    small = detector_properties("NRCA1", subarray_window("SUB160"))
    for name in ("gain", "read_noise", "superbias", "dark_rate", "saturation", "pixeldq"):
        np.testing.assert_array_equal(getattr(small, name), getattr(big, name)[:160, :160])


def test_same_seed_same_exposure():
    a = simulate_exposure(subarray="SUB160", ngroups=4, seed=5, write_references=False)
    b = simulate_exposure(subarray="SUB160", ngroups=4, seed=5, write_references=False)
    np.testing.assert_array_equal(a.uncal.data, b.uncal.data)
    np.testing.assert_array_equal(a.truth.rate, b.truth.rate)
    assert list(a.truth.jumps["y"]) == list(b.truth.jumps["y"])
    # The result does not depend on how many threads read out the blocks.
    props = detector_properties("NRCA1", subarray_window("SUB320"))
    readout = make_readout("RAPID", 3, 1, subarray_window("SUB320"))
    flux = np.where(props.reference_pixels, 0, 5.0).astype(np.float32)
    crs = draw_cosmic_rays(np.random.default_rng(0), rate=0, readout=readout,
                           light=~props.reference_pixels, gain=props.gain)  # fmt: skip
    runs = [
        simulate_ramp(props, readout, flux, cosmic_rays=crs, bias_offsets=np.zeros((1, 1)),
                      seed=np.random.SeedSequence(3), threads=n)[0]
        for n in (1, 3)
    ]  # fmt: skip
    np.testing.assert_array_equal(runs[0], runs[1])


def test_dark_reference_is_reused_when_long_enough(tmp_path):
    ctx = OfflineContext(tmp_path)
    eight = simulate_exposure(subarray="SUB160", ngroups=8, context=ctx, cosmic_ray_rate=0)
    short = simulate_exposure(subarray="SUB160", ngroups=4, context=ctx, cosmic_ray_rate=0)
    assert short.references["dark"] == eight.references["dark"]
    longer = simulate_exposure(subarray="SUB160", ngroups=12, context=ctx, cosmic_ray_rate=0)
    assert longer.references["dark"] != eight.references["dark"]
    assert fits.getheader(longer.references["dark"])["NGROUPS"] == 12
    # The in-memory dark matches the first groups of the file.
    with datamodels.DarkModel(eight.references["dark"]) as dark:
        np.testing.assert_array_equal(dark.data[:4], short.reference_models["dark"].data)


# ------------------------------------------------------------------ physics


def test_cds_noise_matches_the_readnoise_reference():
    """No light: a two-group difference has the CDS noise of the READNOISE reference.

    (g1 - g0) / readnoise_ref is N(0, 1) per pixel for NFRAMES=1, and has
    sigma 1/sqrt(NFRAMES) when frames are averaged. With n ~ 24000 pixels the
    standard error of a standard deviation is 1/sqrt(2n) = 0.5%; the tolerance
    is 3% to allow for the (tiny) dark-current Poisson noise.
    """
    for pattern, nframes in (("RAPID", 1), ("BRIGHT2", 2)):
        exp = simulate_exposure(
            subarray="SUB160", readpatt=pattern, ngroups=2, seed=3, scene=np.zeros((160, 160)),
            sky_rate=0.0, cosmic_ray_rate=0.0, write_references=False,
        )  # fmt: skip
        good = good_pixels(exp.truth)
        diff = exp.uncal.data[0, 1].astype(float) - exp.uncal.data[0, 0]
        rn_ref = exp.reference_models["readnoise"].data
        normalised = (diff / rn_ref)[good]
        assert np.std(normalised) == pytest.approx(1 / np.sqrt(nframes), rel=0.03)
        # ... which is sqrt(2) x the single-read noise, not 1x.
        single = (diff / exp.truth.read_noise)[good]
        assert np.std(single) == pytest.approx(np.sqrt(2 / nframes), rel=0.03)


def test_flat_sky_slope_and_poisson_noise_match_the_truth():
    """A flat 150 e-/s sky: mean slope = truth within 5 standard errors, and the
    scatter of the first-to-last difference is read noise (CDS) plus Poisson
    noise of the accumulated charge: (diff - mean) / sqrt(RN_cds^2 + rate*dt/gain)
    has unit standard deviation (3% tolerance, see the CDS test)."""
    exp = simulate_exposure(
        subarray="SUB160", ngroups=5, seed=4, scene=np.zeros((160, 160)), sky_rate=150.0,
        cosmic_ray_rate=0.0, write_references=False,
    )  # fmt: skip
    truth = exp.truth
    good = good_pixels(truth)
    signal = corrected_groups(exp)[0]
    dt = truth.group_times[-1] - truth.group_times[0]
    dark_dn = truth.dark_rate / truth.gain
    slope = (signal[-1] - signal[0]) / dt - dark_dn
    diff_var = (np.sqrt(2) * truth.read_noise) ** 2 + (truth.rate + dark_dn) * dt / truth.gain
    stderr = np.sqrt(np.mean(diff_var[good]) / good.sum()) / dt
    assert abs(np.mean(slope[good]) - np.mean(truth.rate[good])) < 5 * stderr
    pull = ((slope - truth.rate) * dt / np.sqrt(diff_var))[good]
    assert np.std(pull) == pytest.approx(1.0, rel=0.03)


def test_linearity_reference_recovers_the_true_signal():
    """Noiseless ramps of a bright gradient: the LINEARITY coefficients give back
    the true accumulated charge below the SATURATION threshold to within the A/D
    rounding (0.5 DN, stretched by the correction's slope dC/dm <= ~1.2) plus
    0.02 DN - far below the ~4.6 DN read noise - while the uncorrected signal is
    off by > 1000 DN."""
    y, x = np.mgrid[0:160, 0:160]
    scene = (2.0e5 * (x + 160 * y) / 160**2).astype(np.float32)  # up to 2e5 e-/s
    exp = simulate_exposure(
        subarray="SUB160", ngroups=8, seed=5, scene=scene, sky_rate=0.0,
        cosmic_ray_rate=0.0, noise=False, write_references=False,
    )  # fmt: skip
    truth = exp.truth
    t = truth.group_times[None, :, None, None]
    current = (truth.rate + truth.dark_rate / truth.gain)[None, None]
    expected = current * t
    unsaturated = ~truth.saturated & good_pixels(truth)[None, None]
    corrected = corrected_groups(exp)
    _, _, a, b = exp.reference_models["linearity"].coeffs
    m = exp.uncal.data - truth.superbias - truth.bias_offsets[0, 0]
    slope = 1 + 2 * a * m + 3 * b * m**2  # dC/dm of the correction polynomial
    error = np.abs(corrected - expected)
    assert np.all((error <= 0.5 * slope + 0.02)[unsaturated])
    assert error[unsaturated].max() < 0.7
    raw = exp.uncal.data - truth.superbias - truth.bias_offsets[0, 0]
    assert np.abs(raw - expected)[unsaturated].max() > 1000


def test_saturation_matches_the_threshold_and_pixels_stop_at_full_well():
    y, x = np.mgrid[0:160, 0:160]
    scene = (3.0e5 * (x + 160 * y) / 160**2).astype(np.float32)
    exp = simulate_exposure(
        subarray="SUB160", ngroups=8, seed=6, scene=scene, sky_rate=0.0,
        cosmic_ray_rate=0.0, noise=False, write_references=False,
    )  # fmt: skip
    truth = exp.truth
    threshold = exp.reference_models["saturation"].data
    # The truth is exactly "raw group value >= SATURATION threshold".
    np.testing.assert_array_equal(truth.saturated[0], exp.uncal.data[0] >= threshold)
    saturated_early = truth.first_saturated_group[0] <= 3
    assert saturated_early.sum() > 1000
    # Charge stops at full well: the last groups of early-saturated pixels are equal.
    last = exp.uncal.data[0, -3:].astype(int)
    assert np.all(np.ptp(last, axis=0)[saturated_early & good_pixels(truth)] <= 1)
    assert exp.uncal.data.max() <= 65535


def test_default_scene_has_saturating_stars(sub160):
    truth = sub160.truth
    assert (truth.first_saturated_group < 6).any()
    assert (truth.sources["kind"] == "star").sum() >= 3
    assert (truth.sources["kind"] == "galaxy").sum() >= 3
    assert np.all(truth.rate[truth.reference_pixels] == 0)
    assert np.all(truth.rate[good_pixels(truth)] > 0)


def test_cosmic_ray_count_matches_the_rate_and_jumps_appear_in_the_data():
    """Primary hits ~ Poisson(rate x pixels x integration duration): within 4 sigma.
    Noiseless data: a single deposit raises its first group by its amplitude
    (to 1% + 1 DN: non-linearity at < 2000 DN is < 0.5%, rounding 1 DN)."""
    rate = 3.0e-3
    exp = simulate_exposure(
        subarray="SUB160", ngroups=6, nints=2, seed=7, scene=np.zeros((160, 160)),
        sky_rate=0.0, cosmic_ray_rate=rate, noise=False, write_references=False,
    )  # fmt: skip
    jumps = exp.truth.jumps
    light = ~exp.truth.reference_pixels
    readout = make_readout("RAPID", 6, 2, subarray_window("SUB160"))
    expected = rate * light.sum() * readout.integration_duration * 2
    primaries = int(jumps["primary"].sum())
    assert abs(primaries - expected) < 4 * np.sqrt(expected)
    assert (~jumps["primary"]).sum() > 0  # some charge reaches neighbours
    assert set(np.unique(jumps["integration"])) == {0, 1}

    counts = {}
    for row in jumps:
        key = (row["integration"], row["y"], row["x"])
        counts[key] = counts.get(key, 0) + 1
    data = exp.uncal.data.astype(float)
    good = good_pixels(exp.truth)  # no hot pixel ramps: the step is the jump alone
    checked = 0
    for row in jumps:
        i, g, yy, xx = row["integration"], row["group"], row["y"], row["x"]
        if counts[(i, yy, xx)] != 1 or g == 0 or row["amplitude_dn"] > 2000 or not good[yy, xx]:
            continue
        step = data[i, g, yy, xx] - data[i, g - 1, yy, xx]
        assert step == pytest.approx(row["amplitude_dn"], rel=0.01, abs=1.0)
        checked += 1
    assert checked > 50


def test_ad_converter_clips_at_65535():
    props = detector_properties("NRCA1", subarray_window("SUB160"))
    hot_bias = dataclasses.replace(props, superbias=props.superbias + 30000)
    readout = make_readout("RAPID", 4, 1, subarray_window("SUB160"))
    flux = np.where(props.reference_pixels, 0, 1.0e5).astype(np.float32)
    crs = draw_cosmic_rays(np.random.default_rng(0), rate=0, readout=readout,
                           light=~props.reference_pixels, gain=props.gain)  # fmt: skip
    data, _ = simulate_ramp(hot_bias, readout, flux, cosmic_rays=crs,
                            bias_offsets=np.zeros((1, 1)), seed=np.random.SeedSequence(0))  # fmt: skip
    assert data.dtype == np.uint16
    assert (data == 65535).sum() > 1000


def test_bad_input_gets_a_clear_error():
    from jwinteract.errors import InputError

    with pytest.raises(InputError, match="readout pattern"):
        simulate_exposure(subarray="SUB160", readpatt="FAST", write_references=False)
    with pytest.raises(InputError, match="subarray"):
        simulate_exposure(subarray="SUB999", write_references=False)
    with pytest.raises(InputError, match="detector"):
        simulate_exposure(detector="NRS1", write_references=False)
    with pytest.raises(InputError, match="shape"):
        simulate_exposure(subarray="SUB160", scene=np.zeros((10, 10)), write_references=False)


@pytest.mark.slow
def test_full_frame_smoke(tmp_path):
    start = time.perf_counter()
    exp = simulate_exposure(subarray="FULL", ngroups=10, seed=0, context=OfflineContext(tmp_path))
    elapsed = time.perf_counter() - start
    print(f"FULL x 10 RAPID with references: {elapsed:.1f} s")
    assert exp.uncal.data.shape == (1, 10, 2048, 2048)
    assert exp.uncal.meta.exposure.frame_time == pytest.approx(10.73677)
    refpix = exp.truth.reference_pixels
    assert refpix[:4].all() and refpix[-4:].all() and refpix[:, :4].all() and refpix[:, -4:].all()
    # Reference pixels see no light: their ramps stay at the bias (4 outputs' offsets).
    ramp = exp.uncal.data[0, -1].astype(float) - exp.uncal.data[0, 0]
    assert abs(np.median(ramp[refpix])) < 1.0
    assert np.median(ramp[~refpix]) > 10
    assert (exp.truth.first_saturated_group < 10).any()
    assert len(exp.truth.jumps) > 1000
