"""NIRCam detector geometry and readout timing: detectors, subarrays, patterns.

Everything here is a table or a small pure function; nothing is random.

Sources: the frame-time formula and readout patterns are those of the JWST
User Documentation (JDox, "NIRCam Detector Subarrays" and "NIRCam Detector
Readout Patterns"). Subarray *positions* are representative, not SIAF values:
the imaging subarrays sit in the (1, 1) corner of the science frame, so they
carry reference pixels along their first 4 rows and columns only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError

__all__ = [
    "DETECTORS",
    "SUBARRAYS",
    "READOUT_PATTERNS",
    "Window",
    "Readout",
    "subarray_window",
    "frame_time",
    "make_readout",
    "REFPIX_BORDER",
]

#: Width of the reference-pixel border of a full H2RG frame.
REFPIX_BORDER = 4
FULL_SIZE = 2048

#: NIRCam detectors: channel, module, (FASTAXIS, SLOWAXIS) in the DMS frame, and
#: the approximate (V2, V3) of the detector centre in arcsec (NRCALONG from
#: jwst's own tests; the others placed around it; not SIAF values).
DETECTORS: dict[str, dict] = {
    "NRCA1": {"channel": "SHORT", "module": "A", "axes": (-1, 2), "v2v3": (120.6, -527.3)},
    "NRCA2": {"channel": "SHORT", "module": "A", "axes": (1, -2), "v2v3": (120.0, -459.5)},
    "NRCA3": {"channel": "SHORT", "module": "A", "axes": (-1, 2), "v2v3": (51.3, -527.8)},
    "NRCA4": {"channel": "SHORT", "module": "A", "axes": (1, -2), "v2v3": (52.4, -459.9)},
    "NRCALONG": {"channel": "LONG", "module": "A", "axes": (-1, 2), "v2v3": (86.103, -493.228)},
    "NRCB1": {"channel": "SHORT", "module": "B", "axes": (1, -2), "v2v3": (-120.6, -459.4)},
    "NRCB2": {"channel": "SHORT", "module": "B", "axes": (-1, 2), "v2v3": (-120.9, -527.5)},
    "NRCB3": {"channel": "SHORT", "module": "B", "axes": (1, -2), "v2v3": (-51.8, -459.3)},
    "NRCB4": {"channel": "SHORT", "module": "B", "axes": (-1, 2), "v2v3": (-52.5, -527.2)},
    "NRCBLONG": {"channel": "LONG", "module": "B", "axes": (1, -2), "v2v3": (-89.2, -493.4)},
}

#: Imaging subarrays: (xsize, ysize, number of outputs).
SUBARRAYS: dict[str, tuple[int, int, int]] = {
    "FULL": (FULL_SIZE, FULL_SIZE, 4),
    "SUB640": (640, 640, 1),
    "SUB320": (320, 320, 1),
    "SUB160": (160, 160, 1),
}

#: NIRCam readout patterns: (NFRAMES, GROUPGAP).
READOUT_PATTERNS: dict[str, tuple[int, int]] = {
    "RAPID": (1, 0),
    "BRIGHT1": (1, 1),
    "BRIGHT2": (2, 0),
    "SHALLOW2": (2, 3),
    "SHALLOW4": (4, 1),
    "MEDIUM2": (2, 8),
    "MEDIUM8": (8, 2),
    "DEEP2": (2, 18),
    "DEEP8": (8, 12),
}

#: Pixel read time of the NIRCam SIDECAR ASICs (JDox).
SAMPLE_TIME = 10.0e-6


@dataclass(frozen=True)
class Window:
    """A subarray in full-frame science pixels (1-based starts, as SUBSTRT1/2)."""

    name: str
    xstart: int
    ystart: int
    xsize: int
    ysize: int
    noutputs: int

    @property
    def shape(self) -> tuple[int, int]:
        return (self.ysize, self.xsize)

    @property
    def rows(self) -> slice:
        return slice(self.ystart - 1, self.ystart - 1 + self.ysize)

    @property
    def cols(self) -> slice:
        return slice(self.xstart - 1, self.xstart - 1 + self.xsize)

    def reference_mask(self) -> np.ndarray:
        """Boolean [ysize, xsize]: True on the reference pixels inside the window."""
        y = np.arange(self.ystart - 1, self.ystart - 1 + self.ysize)
        x = np.arange(self.xstart - 1, self.xstart - 1 + self.xsize)
        ry = (y < REFPIX_BORDER) | (y >= FULL_SIZE - REFPIX_BORDER)
        rx = (x < REFPIX_BORDER) | (x >= FULL_SIZE - REFPIX_BORDER)
        return ry[:, None] | rx[None, :]

    def amplifier_slices(self) -> list[slice]:
        """Column ranges (window pixels) read by each output.

        A full-width window is read through 4 outputs of 512 columns each; a
        subarray through one.
        """
        if self.noutputs == 1:
            return [slice(0, self.xsize)]
        width = self.xsize // self.noutputs
        return [slice(i * width, (i + 1) * width) for i in range(self.noutputs)]


def subarray_window(subarray: str) -> Window:
    """The :class:`Window` of a NIRCam imaging subarray name."""
    name = str(subarray).upper()
    if name not in SUBARRAYS:
        raise InputError(f"subarray {subarray!r} is not simulated; choose one of {list(SUBARRAYS)}")
    xsize, ysize, nout = SUBARRAYS[name]
    return Window(name, 1, 1, xsize, ysize, nout)


def frame_time(window: Window) -> float:
    """NIRCam frame time in seconds (JDox formula).

    4 outputs: ``((ncols/4 + 12) * (nrows + 1) + 1) * 10 µs`` (FULL:
    10.73677 s); 1 output: ``(ncols + 12) * (nrows + 2) * 10 µs``.
    """
    if window.noutputs == 4:
        ticks = (window.xsize / 4 + 12) * (window.ysize + 1) + 1
    else:
        ticks = (window.xsize / window.noutputs + 12) * (window.ysize + 2)
    return round(ticks * SAMPLE_TIME, 5)


@dataclass(frozen=True)
class Readout:
    """The timing of one exposure (times in seconds)."""

    pattern: str
    nframes: int
    groupgap: int
    ngroups: int
    nints: int
    frame_time: float

    @property
    def group_time(self) -> float:
        return (self.nframes + self.groupgap) * self.frame_time

    @property
    def frames_per_integration(self) -> int:
        """Frames from the reset to the last read frame (read and skipped)."""
        return self.ngroups * self.nframes + (self.ngroups - 1) * self.groupgap

    @property
    def integration_duration(self) -> float:
        """Seconds from the reset to the last read of an integration."""
        return self.frames_per_integration * self.frame_time

    def group_times(self) -> np.ndarray:
        """Mean time since reset of the frames averaged into each group.

        Frame ``k`` (1-based) is read ``k * frame_time`` after the reset.
        """
        first = np.arange(self.ngroups) * (self.nframes + self.groupgap) + 1
        return (first + (self.nframes - 1) / 2.0) * self.frame_time

    def read_frames(self) -> np.ndarray:
        """Frame numbers (1-based) read in each group: int array [ngroups, nframes]."""
        first = np.arange(self.ngroups) * (self.nframes + self.groupgap) + 1
        return first[:, None] + np.arange(self.nframes)[None, :]

    @property
    def integration_time(self) -> float:
        """EFFINTTM: ``(NGROUPS - 1) * TGROUP + TGROUP0`` with TGROUP0 = NFRAMES * TFRAME."""
        return (self.ngroups - 1) * self.group_time + self.nframes * self.frame_time


def make_readout(readpatt: str, ngroups: int, nints: int, window: Window) -> Readout:
    """Validate a readout request and build its :class:`Readout`."""
    patt = str(readpatt).upper()
    if patt not in READOUT_PATTERNS:
        raise InputError(
            f"readout pattern {readpatt!r} is not a NIRCam pattern; choose one of "
            f"{list(READOUT_PATTERNS)}"
        )
    if int(ngroups) != ngroups or ngroups < 1:
        raise InputError(f"ngroups must be a positive integer, got {ngroups!r}")
    if int(nints) != nints or nints < 1:
        raise InputError(f"nints must be a positive integer, got {nints!r}")
    nframes, groupgap = READOUT_PATTERNS[patt]
    return Readout(patt, nframes, groupgap, int(ngroups), int(nints), frame_time(window))
