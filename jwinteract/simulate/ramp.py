"""Up-the-ramp readout of a simulated detector, frame by frame.

For each integration the charge in every pixel starts at zero at the reset
and grows with the photo-current (scene x QE + dark) in Poisson steps, one
draw per frame that is read and one draw for each run of skipped frames
(GROUPGAP). Cosmic rays add their charge in the frame after they arrive.
Each read frame is the non-linear response to the charge (clipped at the full
well), plus bias and read noise; frames are averaged into groups (NFRAMES),
rounded and clipped to the 16-bit range of the A/D converter. (The read noise
of a group is drawn once, as the mean of NFRAMES independent frame noises,
which has exactly the same distribution as NFRAMES draws averaged.)

The work is done in blocks of rows, each with its own random generator
derived from the exposure seed and the block index: the result does not
depend on how many threads run the blocks, and temporaries stay the size of
a block.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from astropy.table import Table

from .detector import DetectorProperties, nonlinear_response
from .readout import Readout

__all__ = ["CosmicRays", "draw_cosmic_rays", "simulate_ramp", "DEFAULT_COSMIC_RAY_RATE"]

#: Primary cosmic-ray hits per pixel per second. JWST sees ~5 events/cm^2/s;
#: an 18 um pixel is 3.2e-6 cm^2, i.e. ~1.6e-5 hits/pixel/s (before charge
#: spreads to neighbours).
DEFAULT_COSMIC_RAY_RATE = 1.6e-5

_BLOCK_ROWS = 128


@dataclass
class CosmicRays:
    """Charge deposits: one row per pixel hit (primary or neighbour).

    ``frame`` is the 1-based frame (since the reset) in which the deposit is
    first seen; ``group`` the first group showing it.
    """

    table: Table

    def __len__(self) -> int:
        return len(self.table)


def draw_cosmic_rays(
    rng: np.random.Generator,
    *,
    rate: float,
    readout: Readout,
    light: np.ndarray,
    gain: np.ndarray,
) -> CosmicRays:
    """Draw the cosmic-ray deposits of an exposure.

    Primary hits: Poisson in number (``rate`` x light-sensitive pixels x
    integration duration, per integration), uniform in position and arrival
    time; energies log-normal with a median of 1000 e- (sigma 1 in ln,
    clipped to 30-200000 e-). Half of the hits also spread 2-15% of their
    charge into each of the 4 neighbours (the neighbours' charge is extra,
    not taken from the primary).
    """
    ny, nx = light.shape
    ys_light, xs_light = np.nonzero(light)
    last_read = readout.read_frames()[:, -1]
    parts = []
    n_events = 0
    for integ in range(readout.nints):
        expected = rate * len(ys_light) * readout.integration_duration
        n = int(rng.poisson(expected)) if len(ys_light) else 0
        pick = rng.integers(0, len(ys_light), n)
        y, x = ys_light[pick], xs_light[pick]
        t = rng.uniform(0.0, readout.integration_duration, n)
        frame = np.clip(np.ceil(t / readout.frame_time), 1, readout.frames_per_integration)
        amp = np.clip(1000.0 * np.exp(rng.standard_normal(n)), 30.0, 2.0e5)
        spread = rng.random(n) < 0.5
        fractions = rng.uniform(0.02, 0.15, (n, 4))
        event = n_events + np.arange(n)
        n_events += n
        # Primaries, then each neighbour of a spreading hit that is on the detector.
        ys, xs, amps, evs = [y], [x], [amp], [event]
        for k, (dy, dx) in enumerate(((-1, 0), (1, 0), (0, -1), (0, 1))):
            yy, xx = y + dy, x + dx
            ok = spread & (yy >= 0) & (yy < ny) & (xx >= 0) & (xx < nx)
            ok[ok] &= light[yy[ok], xx[ok]]
            ys.append(yy[ok])
            xs.append(xx[ok])
            amps.append(amp[ok] * fractions[ok, k])
            evs.append(event[ok])
        ev = np.concatenate(evs)
        local = ev - (n_events - n)
        parts.append(
            {
                "integration": np.full(len(ev), integ),
                "group": np.searchsorted(last_read, frame[local]),
                "frame": frame[local],
                "y": np.concatenate(ys),
                "x": np.concatenate(xs),
                "amplitude_e": np.concatenate(amps),
                "primary": np.arange(len(ev)) < n,
                "event": ev,
            }
        )
    dtypes = {"amplitude_e": np.float32, "primary": bool}
    table = Table(
        {
            key: np.concatenate([p[key] for p in parts]).astype(dtypes.get(key, np.int32))
            for key in parts[0]
        }
    )
    table.add_column(
        table["amplitude_e"] / gain[table["y"], table["x"]], name="amplitude_dn", index=6
    )
    table.sort(["integration", "event", "y", "x"])
    table["amplitude_e"].unit = "electron"
    table["amplitude_dn"].unit = "DN"
    return CosmicRays(table)


def simulate_ramp(
    props: DetectorProperties,
    readout: Readout,
    flux: np.ndarray,
    *,
    cosmic_rays: CosmicRays,
    bias_offsets: np.ndarray,
    seed: np.random.SeedSequence,
    noise: bool = True,
    threads: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Read out a detector.

    Parameters
    ----------
    props : DetectorProperties
    readout : Readout
    flux : ndarray [ny, nx]
        Incident e-/s per pixel (before QE); zero on reference pixels.
    cosmic_rays : CosmicRays
    bias_offsets : ndarray [nints, noutputs]
        Per-integration offset of each output's bias from the superbias (DN).
    seed : numpy.random.SeedSequence
        The noise seed; row block ``i`` draws from ``seed.spawn(nblocks)[i]``.
    noise : bool
        False for a noiseless ramp: no Poisson and no read noise (the charge
        grows deterministically; cosmic rays are still added if given).
    threads : int, optional
        Worker threads (default: up to 4, the CPU count). Does not change the result.

    Returns
    -------
    data : ndarray uint16 [nints, ngroups, ny, nx]
    first_saturated : ndarray int16 [nints, ny, nx]
        First group whose value reaches the SATURATION threshold, ``ngroups``
        if none does.
    """
    ny, nx = flux.shape
    data = np.empty((readout.nints, readout.ngroups, ny, nx), dtype=np.uint16)
    first_sat = np.full((readout.nints, ny, nx), readout.ngroups, dtype=np.int16)
    current = (flux * props.qe + props.dark_rate).astype(np.float64)
    amp_of_col = np.zeros(nx, dtype=np.int64)
    for i, cols in enumerate(props.window.amplifier_slices()):
        amp_of_col[cols] = i
    offsets = np.asarray(bias_offsets, dtype=np.float32)[:, amp_of_col]  # [nints, nx]
    table = cosmic_rays.table
    crs = {k: np.asarray(table[k]) for k in ("integration", "frame", "y", "x", "amplitude_e")}
    starts = list(range(0, ny, _BLOCK_ROWS))
    children = seed.spawn(len(starts)) if noise else [None] * len(starts)

    def run(block: int) -> None:
        y0 = starts[block]
        y1 = min(y0 + _BLOCK_ROWS, ny)
        rows = slice(y0, y1)
        in_block = (crs["y"] >= y0) & (crs["y"] < y1)
        _simulate_block(
            props,
            readout,
            current[rows],
            rows,
            {k: v[in_block] for k, v in crs.items()},
            offsets,
            np.random.default_rng(children[block]) if noise else None,
            data,
            first_sat,
        )

    threads = threads or min(4, os.cpu_count() or 1)
    if threads > 1 and len(starts) > 1:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(run, range(len(starts))))
    else:
        for block in range(len(starts)):
            run(block)
    return data, first_sat


def _simulate_block(props, readout, current, rows, crs, offsets, rng, data, first_sat):
    """Fill ``data[:, :, rows]`` and ``first_sat[:, rows]`` (in place: this writes into
    the caller's output arrays, disjoint rows per block)."""
    y0 = rows.start
    shape = current.shape
    inv_gain = (1.0 / props.gain[rows]).astype(np.float32)
    a, b = props.nl_coeffs[2, rows], props.nl_coeffs[3, rows]
    q_full = props.full_well[rows]
    sigma = props.read_noise[rows]
    bias = props.superbias[rows]
    threshold = props.saturation[rows]
    tframe = readout.frame_time

    def add_charge(charge: np.ndarray, dt: float) -> None:
        mean = current * dt
        charge += rng.poisson(mean) if rng is not None else mean

    for integ in range(readout.nints):
        charge = np.zeros(shape, dtype=np.float64)  # electrons since the reset
        level = bias + offsets[integ][None, :]
        mine = crs["integration"] == integ
        hits = {k: v[mine] for k, v in crs.items()}
        frame = 0
        for group in range(readout.ngroups):
            if group > 0 and readout.groupgap:
                add_charge(charge, readout.groupgap * tframe)
                frame += readout.groupgap
                _deposit(charge, hits, frame - readout.groupgap + 1, frame, y0)
            total = np.zeros(shape, dtype=np.float32)
            for _ in range(readout.nframes):
                add_charge(charge, tframe)
                frame += 1
                _deposit(charge, hits, frame, frame, y0)
                signal = np.minimum(charge.astype(np.float32) * inv_gain, q_full)
                total += nonlinear_response(signal, a, b)
            mean = total / readout.nframes
            if rng is not None:
                # The mean of NFRAMES independent N(0, sigma) frame read noises is
                # exactly N(0, sigma / sqrt(NFRAMES)): one draw per group.
                noise = rng.standard_normal(shape, dtype=np.float32)
                mean += (sigma / np.sqrt(readout.nframes, dtype=np.float32)) * noise
            value = np.rint(level + mean)
            np.clip(value, 0, 65535, out=value)
            data[integ, group, rows] = value.astype(np.uint16)
            newly = (value >= threshold) & (first_sat[integ, rows] == readout.ngroups)
            first_sat[integ, rows][newly] = group


def _deposit(charge: np.ndarray, hits: dict, first: int, last: int, y0: int) -> None:
    """Add the cosmic rays first seen in frames ``first..last`` (in place)."""
    sel = (hits["frame"] >= first) & (hits["frame"] <= last)
    if np.any(sel):
        np.add.at(charge, (hits["y"][sel] - y0, hits["x"][sel]), hits["amplitude_e"][sel])
