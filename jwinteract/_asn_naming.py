"""What jwst's association names mean, read without importing jwst.

Private helpers of :mod:`jwinteract.association`: the default ``asn_type`` and ``asn_rule``
of each level, the level an ``asn_rule`` or ``asn_type`` names, and the Level 2 product name
jwst gives an exposure file (its name without folder, extension and pipeline suffix, from a
copy of jwst's list of suffixes).
"""

from __future__ import annotations

import re
from pathlib import Path

# Defaults are those of jwst's asn_from_list, so a file we make from a list of
# exposures reads the same as one jwst would make from that list.
_DEFAULTS = {2: ("image2", "DMSLevel2bBase"), 3: ("image3", "DMS_Level3_Base")}

# The suffixes jwst.lib.suffix.remove_suffix strips (KNOW_SUFFIXES in jwst
# 3.0.0), copied so that Level 2 product names match jwst's without importing
# it. tests/test_association.py fails if jwst's list changes.
_KNOWN_SUFFIXES = frozenset(
    """
    adaptive_trace_model adaptivetracemodelstep align_refs alignrefsstep ami ami-oi
    ami3pipeline ami_analyze ami_normalize amianalyzestep aminorm aminorm-oi
    aminormalizestep assign_mtwcs assign_wcs assignmtwcsstep assignwcsstep backgroundstep
    badpixselfcalstep barshadowstep bkg_subtract blot bsub bsubints c1d cal calints cat
    chargemigrationstep clean_flicker_noise cleanflickernoisestep combine1dstep combine_1d
    coron3pipeline crf crfints cube_build cubebuildstep dark dark_current darkcurrentstep
    darkpipeline detector1pipeline dq_init dqinitstep emicorr emicorrstep engdblog
    extract1dstep extract2dstep extract_1d extract_2d firstframe firstframestep flat_field
    flatfieldstep fringe fringestep gain_scale gainscalestep group_scale groupscalestep
    guider_cds guidercdsstep guiderpipeline hlsp hlspstep i2d image2pipeline image3pipeline
    imprint imprintstep ipc ipcstep jump jumpstep klip klipstep lastframe lastframestep
    linearity linearitystep master_background masterbackgroundmosstep masterbackgroundstep
    mbsub median msaflagopenstep outlier_detection outlierdetectionstep pathloss
    pathlossstep persistence persistencestep phot photom photomstep picture_frame
    pictureframestep pixelreplacestep psfalign psfstack psfsub ramp ramp_fit rampfitstep
    rate rateints refpix refpixstep resample resample_spec resamplespecstep resamplestep
    reset resetstep residual_fringe residualfringestep rscd rscdstep s2d s3d saturation
    saturationstep skymatch skymatchstep snr source_catalog sourcecatalogstep
    sourcetypestep spec2nrslamp spec2pipeline spec3pipeline spectral_leak
    spectralleakstep srctype stackrefs stackrefsstep straylight straylightstep superbias
    superbiasstep targ_centroid targcentroidstep tso3pipeline tsophotometrystep tweakreg
    tweakregstep uncal wavecorrstep wfscmb wfscombine wfscombinestep wfsscontamstep
    white_light whitelightstep whtlt x1d x1dints
    """.split()
)
# Same pattern as jwst's REMOVE_SUFFIX_REGEX: the shortest root followed by at
# most one known suffix.
_SUFFIX_RE = re.compile(
    r"^(?P<root>.+?)((?P<separator>_|-)("
    + "|".join(sorted(map(re.escape, _KNOWN_SUFFIXES), key=len, reverse=True))
    + r"))?$"
)
# "DMSLevel2bBase", "DMS_Level3_Base", "Asn_Lv2Image", "candidate_Asn_Lv3Image"...
_RULE_LEVEL_RE = re.compile(r"(?:lv|level)_?([23])", re.IGNORECASE)
# "image2", "spec3", "tso-image2", "wfs-image3", "nrslamp-spec2"...
_TYPE_LEVEL_RE = re.compile(r"[a-z_-]*([23])", re.IGNORECASE)


def _level_of(asn_rule: str, asn_type: str) -> int | None:
    match = _RULE_LEVEL_RE.search(asn_rule) or _TYPE_LEVEL_RE.fullmatch(asn_type)
    return int(match.group(1)) if match else None


def _product_root(filename: str) -> str:
    """A file name without folder, extension or pipeline suffix, as jwst's remove_suffix."""
    return _SUFFIX_RE.match(Path(filename).stem).group("root")
