"""Synthetic scenes: stars (Moffat PSFs) and galaxies (Sersic profiles) on a sky.

A :class:`Scene` is a list of sources plus a sky level, all in electrons per
second per pixel as they arrive at the detector (before QE). It is rendered
on the light-sensitive pixels of a window; reference pixels never see light.

:func:`default_scene` draws a field for an exposure from its seed. Source
brightnesses are set relative to the exposure's integration time and the
detector's full well, so every exposure, short subarray ramps included, has
faint sources, bright ones, and a few stars that saturate part-way up the
ramp (the case saturation flagging and ramp fitting must handle).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.special import gammaincinv

__all__ = ["Star", "Galaxy", "Scene", "default_scene", "PSF_FWHM"]

#: PSF FWHM in pixels (F200W on SW: 0.066"/0.031"; F444W on LW: 0.145"/0.063").
PSF_FWHM = {"SHORT": 2.1, "LONG": 2.3}
_MOFFAT_BETA = 2.5
_OVERSAMPLE = 3


@dataclass(frozen=True)
class Star:
    """A point source: position (0-based pixels of the window) and total e-/s."""

    x: float
    y: float
    flux: float


@dataclass(frozen=True)
class Galaxy:
    """A Sersic profile: index ``n``, half-light radius ``r_eff`` (pixels),
    axis ratio ``q`` and position angle ``theta`` (radians)."""

    x: float
    y: float
    flux: float
    n: float
    r_eff: float
    q: float
    theta: float


@dataclass
class Scene:
    """Sources and sky in e-/s; :meth:`render` makes the image.

    Parameters
    ----------
    sky : float
        Sky (zodiacal + thermal) rate per pixel, e-/s.
    stars, galaxies : list
        :class:`Star` and :class:`Galaxy` objects.
    fwhm : float
        Stellar PSF FWHM in pixels.
    """

    sky: float = 0.0
    stars: list[Star] = field(default_factory=list)
    galaxies: list[Galaxy] = field(default_factory=list)
    fwhm: float = PSF_FWHM["SHORT"]

    def render(self, shape: tuple[int, int], *, include_sky: bool = True) -> np.ndarray:
        """The scene in e-/s per pixel, float32 ``shape``."""
        image = np.zeros(shape, dtype=np.float64)
        for star in self.stars:
            _add_stamp(image, star.x, star.y, star.flux, _moffat_stamp, self.fwhm)
        for gal in self.galaxies:
            _add_stamp(image, gal.x, gal.y, gal.flux, _sersic_stamp, gal)
        if include_sky:
            image += self.sky
        return image.astype(np.float32)


def _stamp_grid(dx: float, dy: float, radius: int) -> tuple[np.ndarray, np.ndarray]:
    """Oversampled offsets from the source of the pixels of a (2r+1)^2 stamp."""
    sub = (np.arange(_OVERSAMPLE) + 0.5) / _OVERSAMPLE - 0.5
    pix = np.arange(-radius, radius + 1)
    grid = (pix[:, None] + sub[None, :]).ravel()
    return grid[None, :] - dx, grid[:, None] - dy  # x varies along axis 1


def _bin(values: np.ndarray, radius: int) -> np.ndarray:
    n = 2 * radius + 1
    return values.reshape(n, _OVERSAMPLE, n, _OVERSAMPLE).mean(axis=(1, 3))


def _moffat_alpha(fwhm: float) -> float:
    return fwhm / (2.0 * np.sqrt(2.0 ** (1.0 / _MOFFAT_BETA) - 1.0))


def _moffat_stamp(dx: float, dy: float, flux: float, fwhm: float) -> np.ndarray:
    alpha = _moffat_alpha(fwhm)
    peak_density = flux * (_MOFFAT_BETA - 1) / (np.pi * alpha**2)
    # Out to where the profile falls below ~0.01 e-/s per pixel.
    reach = alpha * max(peak_density / 0.01, 1.0) ** (1.0 / (2 * _MOFFAT_BETA))
    radius = int(np.clip(np.ceil(reach), 4, 100))
    x, y = _stamp_grid(dx, dy, radius)
    profile = (1.0 + (x * x + y * y) / alpha**2) ** (-_MOFFAT_BETA)
    return _bin(profile, radius)


def _sersic_stamp(dx: float, dy: float, flux: float, gal: Galaxy) -> np.ndarray:
    radius = int(np.clip(np.ceil((3.0 + gal.n) * gal.r_eff / np.sqrt(gal.q)), 4, 80))
    x, y = _stamp_grid(dx, dy, radius)
    c, s = np.cos(gal.theta), np.sin(gal.theta)
    major = x * c + y * s
    minor = (-x * s + y * c) / gal.q
    r = np.sqrt(major * major + minor * minor)
    b_n = gammaincinv(2.0 * gal.n, 0.5)
    profile = np.exp(-b_n * ((r / gal.r_eff) ** (1.0 / gal.n) - 1.0))
    return _bin(profile, radius)


def _add_stamp(image: np.ndarray, x: float, y: float, flux: float, make, shape_par) -> None:
    """Add a source normalised so its stamp holds ``flux`` (truncated wings dropped)."""
    ix, iy = int(np.floor(x + 0.5)), int(np.floor(y + 0.5))
    stamp = make(x - ix, y - iy, flux, shape_par)
    stamp *= flux / stamp.sum()
    r = stamp.shape[0] // 2
    ny, nx = image.shape
    y0, y1, x0, x1 = iy - r, iy + r + 1, ix - r, ix + r + 1
    cy0, cx0 = max(0, -y0), max(0, -x0)
    cy1, cx1 = stamp.shape[0] - max(0, y1 - ny), stamp.shape[1] - max(0, x1 - nx)
    if cy1 <= cy0 or cx1 <= cx0:
        return
    image[max(y0, 0) : min(y1, ny), max(x0, 0) : min(x1, nx)] += stamp[cy0:cy1, cx0:cx1]


def _peak_fraction(fwhm: float) -> float:
    """Fraction of a centred star's flux in its brightest pixel."""
    stamp = _moffat_stamp(0.0, 0.0, 1.0, fwhm)
    return float(stamp.max() / stamp.sum())


def default_scene(
    rng: np.random.Generator,
    *,
    light_box: tuple[int, int, int, int],
    channel: str,
    sky: float,
    integration_duration: float,
    full_well_e: float,
) -> Scene:
    """A field of stars and galaxies for one exposure.

    Parameters
    ----------
    rng : numpy.random.Generator
        The exposure's generator.
    light_box : (y0, y1, x0, x1)
        The light-sensitive pixels of the window (sources are placed inside).
    channel : {"SHORT", "LONG"}
    sky : float
        Sky rate, e-/s per pixel.
    integration_duration : float
        Seconds from reset to last read: sets which stars saturate.
    full_well_e : float
        Typical full well in electrons.

    Notes
    -----
    Densities: 60 stars and 100 galaxies per 1000x1000 pixels (at least 3 of
    each). 1 in 20 stars, at least one, reaches full well in its peak pixel
    between 15% and 70% of the integration; the others peak between 2x the
    sky (or 0.2 e-/s) and 30% of full well over the integration.
    """
    y0, y1, x0, x1 = light_box
    area = (y1 - y0) * (x1 - x0) / 1.0e6
    n_stars = max(3, int(rng.poisson(60 * area)))
    n_gal = max(3, int(rng.poisson(100 * area)))
    n_sat = max(1, n_stars // 20)
    fwhm = PSF_FWHM[channel]
    peak_frac = _peak_fraction(fwhm)
    floor = max(2.0 * sky, 0.2)
    ceiling = max(0.3 * full_well_e / integration_duration, 10 * floor)

    def position(margin: float) -> tuple[float, float]:
        m = min(margin, (y1 - y0) / 4, (x1 - x0) / 4)
        return float(rng.uniform(x0 + m, x1 - m)), float(rng.uniform(y0 + m, y1 - m))

    stars = []
    for i in range(n_stars):
        if i < n_sat:
            peak = full_well_e / (integration_duration * rng.uniform(0.15, 0.7))
        else:
            peak = float(np.exp(rng.uniform(np.log(floor), np.log(ceiling))))
        x, y = position(10.0)
        stars.append(Star(x, y, peak / peak_frac))
    galaxies = []
    for _ in range(n_gal):
        n = 1.0 if rng.random() < 0.7 else 4.0
        r_eff = float(rng.uniform(1.5, 8.0))
        # A typical surface brightness times the area within ~r_eff: galaxies
        # from a fraction of the sky to ~10x it, not a calibrated luminosity function.
        brightness = float(np.exp(rng.uniform(np.log(0.2 * floor), np.log(10 * floor))))
        q = float(rng.uniform(0.3, 1.0))
        flux = brightness * 2.0 * np.pi * r_eff**2 * q
        x, y = position(3.0 * r_eff)
        galaxies.append(Galaxy(x, y, flux, n, r_eff, q, float(rng.uniform(0, np.pi))))
    return Scene(sky=sky, stars=stars, galaxies=galaxies, fwhm=fwhm)
