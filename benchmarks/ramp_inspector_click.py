"""How long a click on a full-frame ramp takes in the RampInspector.

Simulates a NIRCam FULL (2048 x 2048) exposure of 10 groups, runs Detector1
with ``ramp_fit.save_opt``, builds a :class:`~jwinteract.widgets.RampInspector`
and times ``inspector.select(y, x)`` - the whole update path: the Session
status check, the pixel lookups in every step's ramp, the fit rebuilt from
``fitopt``, and the bokeh source updates with their serialisation into the
widget messages - over random pixels. Also reports the notebook payload of the
image (block-averaged to 1024²) and of one click.

Run: ``python benchmarks/ramp_inspector_click.py [--clicks 50] [--seed 1]``
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

BUDGET_MS = 100.0


def _rss_gb() -> float:
    """Current resident memory (Linux), GB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return float("nan")


def _count_sent(widget, counter: list[int]) -> None:
    """Count the bytes a BokehModel sends to the page (JSON parts and binary buffers)."""
    original = widget.send

    def send(content, buffers=None):
        counter[0] += len(json.dumps(content))
        counter[0] += sum(len(b) for b in buffers or ())
        return original(content, buffers)

    widget.send = send


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clicks", type=int, default=50)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    from jwinteract import Session
    from jwinteract.references.offline import OfflineContext
    from jwinteract.simulate import simulate_exposure
    from jwinteract.widgets.ramp_inspector import RampInspector

    tmp = Path(tempfile.mkdtemp(prefix="jwi-bench-click-"))
    t0 = time.perf_counter()
    exp = simulate_exposure(subarray="FULL", ngroups=10, context=OfflineContext(tmp / "crds"))
    print(f"simulate FULL 2048x2048x10: {time.perf_counter() - t0:.1f} s")
    session = Session(exp.uncal, crds=exp.context, cache_dir=tmp / "cache",
                      steps={"ramp_fit": {"save_opt": True}})  # fmt: skip
    t0 = time.perf_counter()
    session.run("detector1")
    print(f"detector1: {time.perf_counter() - t0:.1f} s; resident memory {_rss_gb():.2f} GB")

    t0 = time.perf_counter()
    inspector = RampInspector(session)
    print(f"RampInspector(session) incl. the 1024² rate image: {time.perf_counter() - t0:.2f} s")
    from bokeh.core.json_encoder import serialize_json

    bundle = len(serialize_json(inspector.image_view.render_bundle))
    image = inspector.image_source.data["image"][0]
    print(f"image payload: {image.shape[0]}x{image.shape[1]} {image.dtype} = "
          f"{image.nbytes / 2**20:.1f} MB of data; initial render bundle "
          f"{bundle / 2**20:.1f} MB (base64 JSON)")  # fmt: skip
    image_sent = [0]
    _count_sent(inspector.image_view, image_sent)
    t0 = time.perf_counter()
    inspector.image_choice.value = (0, 9)
    print(f"switch the image to group 9: {(time.perf_counter() - t0) * 1e3:.0f} ms, "
          f"{image_sent[0] / 2**20:.1f} MB sent (binary buffers)")  # fmt: skip
    inspector.image_choice.value = "rate"

    rng = np.random.default_rng(args.seed)
    ny, nx = exp.truth.rate.shape
    pixels = list(zip(rng.integers(4, ny - 4, args.clicks), rng.integers(4, nx - 4, args.clicks),
                      strict=True))  # fmt: skip
    # The first click takes the products from the Session (from its disk tier when the
    # memory tier, 768 MB by default, no longer holds them); later clicks only index.
    t0 = time.perf_counter()
    inspector.select(*pixels[0])
    print(f"first click (fetches each step's products once): "
          f"{(time.perf_counter() - t0) * 1e3:.0f} ms; resident memory {_rss_gb():.2f} GB")  # fmt: skip

    sent = [0]
    _count_sent(inspector.ramp_view, sent)
    times = []
    for y, x in pixels:
        t0 = time.perf_counter()
        inspector.select(int(y), int(x))
        times.append((time.perf_counter() - t0) * 1e3)
    ms = np.array(times)
    med, p95 = np.median(ms), np.percentile(ms, 95)
    print(f"select(y, x) over {len(ms)} random pixels: median {med:.1f} ms, "
          f"95th percentile {p95:.1f} ms, max {ms.max():.1f} ms")  # fmt: skip
    print(f"ramp plot messages per click: {sent[0] / len(ms) / 1024:.1f} kB")
    print(f"under {BUDGET_MS:.0f} ms: {'yes' if p95 < BUDGET_MS else 'NO'} (95th percentile)")
    print(
        f"peak resident memory: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GB"
    )
    inspector.close()
    session.close()


if __name__ == "__main__":
    main()
