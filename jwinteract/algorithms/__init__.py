"""Numerical cores of the calibration steps, on plain numpy arrays.

Conventions (shared by every module here):

* Nothing in this package imports data models, the cache, the Session or any
  widget code: inputs are numpy arrays and plain Python values.
* Array layout is jwst's: ramps are ``data[nints, ngroups, ny, nx]`` (float32),
  ``groupdq`` has the same shape (uint8), ``pixeldq`` is ``[ny, nx]`` (uint32).
* DQ flag values are passed in as a mapping ``dqflags`` of name -> bit value
  (``jwinteract.models.PIXEL`` / ``GROUP`` in practice), as stcal does.
* Data comes first; every option is keyword-only, with the jwst name.
* Inputs are never modified. Functions return new arrays. Where a function
  works in place on an array it allocated itself, its docstring says so.
* Large cubes are processed in blocks of rows, so temporaries stay a small
  multiple of one block rather than of the whole cube.
"""
