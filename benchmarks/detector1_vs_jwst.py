"""jwinteract's Detector1 against jwst's Detector1Pipeline: time, peak memory, accuracy.

One invocation simulates an exposure (``jwinteract.simulate.simulate_exposure``)
with its reference files in a fresh offline CRDS context in a temporary folder,
then runs, for each repeat and each in a *fresh subprocess* (so the peak RSS is
that run's own: the child's ``ru_maxrss`` at the end of its timed section; the
parent also records the kernel's figure for the whole child from ``os.wait4``):

* ``jwst``      ``Detector1Pipeline.call(uncal, steps=...)``, references resolved
                through the same offline context (``OfflineContext.env()`` in the
                child's environment, ``STPIPE_DISABLE_CRDS_STEPPARS=true``);
* ``jwi``       ``Session(uncal, cache_dir=None).run("detector1")`` (memory-only
                cache: the main timing), then the interactive re-run below;
* ``jwi-disk``  the same with the disk tier on (a fresh cache folder), then the
                interactive re-run ``set("jump", rejection_threshold=5)`` +
                ``run("detector1")`` (jump -> ramp_fit -> gain_scale);
* ``jwi-reread`` a second Session in a new process on the filled disk cache
                (everything is a cache hit; the rate is read from disk).

Fairness: jwinteract does not implement ``ipc`` and ``refpix`` yet (they pass
the data through), so jwst runs with both skipped as well. Every other step
runs with jwst's defaults on both sides (jwst's ``maximum_cores`` is "1" for
jump and ramp_fit unless ``--jwst-cores`` says otherwise). The timed section is
"uncal file path in, rate model in memory out" (imports excluded, no product
written); the process wall time including imports is reported too.

Accuracy (from the first repeat): rate agreement with jwst on good pixels
(jwst DQ without DO_NOT_USE): fraction within 1e-3 relative or 0.05 sigma
(sigma = jwst's err); fraction of pixels whose rate DQ is identical; and the
pull (rate - true rate) / err against the simulator truth, for both pipelines.

Run::

    python benchmarks/detector1_vs_jwst.py --case nircam-full --repeats 3
    python benchmarks/detector1_vs_jwst.py --case nircam-full-3int --repeats 2
    python benchmarks/detector1_vs_jwst.py --quick        # SUB640 smoke test, < 1 min
    python benchmarks/detector1_vs_jwst.py --snapshot HEAD  # measure a commit, not the tree

Output: a table per case, the targets of issue 4, and one JSON line (last line).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve()
REPO = HERE.parent.parent

CASES = {
    "nircam-full": dict(instrument="NIRCAM", detector="NRCA1", subarray="FULL",
                        readpatt="RAPID", ngroups=10, nints=1),
    "nircam-full-3int": dict(instrument="NIRCAM", detector="NRCA1", subarray="FULL",
                             readpatt="RAPID", ngroups=4, nints=3),
    "miri": dict(instrument="MIRI", detector="MIRIMAGE", subarray="FULL",
                 readpatt="FASTR1", ngroups=50, nints=1),
    "nircam-sub640": dict(instrument="NIRCAM", detector="NRCA1", subarray="SUB640",
                          readpatt="RAPID", ngroups=10, nints=1),
}  # fmt: skip
#: Cases jwinteract cannot run like-for-like yet (no MIRI steps, no MIRI simulator).
NOT_COMPARABLE = {
    "miri": "jwinteract does not implement the MIRI Detector1 steps (emicorr, firstframe, "
    "lastframe, reset, rscd, MIRI linearity/dark details) and its simulator makes NIRCam "
    "exposures only, so the MIRI case is not comparable yet",
}
#: The steps jwinteract does not implement yet; jwst skips them too for a like-for-like run.
JWST_FAIRNESS_SKIPS = {"ipc": {"skip": True}, "refpix": {"skip": True}}
RERUN_THRESHOLD = 5.0
DO_NOT_USE = 1
REFERENCE_PIXEL = 2**31

# Targets of issue 4 (speed-up / peak RSS per case; re-run and accuracy for all).
SPEEDUP_TARGET = {"nircam-full": 20.0, "miri": 10.0}
RSS_TARGET_GB = {"nircam-full": 1.0}
RERUN_TARGET_S = 0.5
AGREE_TARGET = 0.999
PULL_STD_TARGET = (0.95, 1.05)
PULL_BIAS_TARGET = 0.02


# ---------------------------------------------------------------------------
# children: each prints one line "RESULT <json>" on stdout


def _child_result(payload: dict) -> None:
    print("RESULT " + json.dumps(payload), flush=True)


def _maxrss_gb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KB on Linux


def _save_rate(model, path: str | None) -> None:
    if not path:
        return
    import numpy as np

    np.savez(path, data=model.data, err=model.err, dq=model.dq)


def child_simulate(a) -> None:
    from jwinteract.references.offline import OfflineContext
    from jwinteract.simulate import simulate_exposure

    case = CASES[a.case]
    ctx = OfflineContext(a.crds)
    t0 = time.perf_counter()
    exp = simulate_exposure(
        instrument=case["instrument"], detector=case["detector"], subarray=case["subarray"],
        readpatt=case["readpatt"], ngroups=case["ngroups"], nints=case["nints"], seed=a.seed,
        context=ctx,
    )  # fmt: skip
    paths = exp.write(a.workdir)
    _child_result({"uncal": str(paths["uncal"]), "truth": str(paths["truth"]),
                   "context": ctx.context, "seconds": time.perf_counter() - t0,
                   "shape": list(exp.uncal.data.shape)})  # fmt: skip


def child_jwst(a) -> None:
    import logging
    import warnings

    warnings.simplefilter("ignore")
    from jwst.pipeline import Detector1Pipeline

    steps = json.loads(a.steps)
    logging.getLogger().setLevel(logging.INFO)
    rss0 = _maxrss_gb()
    t0 = time.perf_counter()
    result = Detector1Pipeline.call(a.uncal, steps=steps, save_results=False)
    seconds = time.perf_counter() - t0
    peak = _maxrss_gb()
    _save_rate(result, a.out)
    _child_result({"seconds": seconds, "rss_after_imports_gb": rss0, "self_peak_gb": peak,
                   "cal_step": dict(result.meta.cal_step.instance),
                   "crds_context": result.meta.ref_file.crds.context_used})  # fmt: skip


def _count_events(session):
    from jwinteract.events import EventKind

    counts: dict = {"ran": [], "hit_memory": [], "hit_disk": [], "step_seconds": {}}

    def observe(ev):
        if ev.kind == EventKind.STEP_FINISHED:
            counts["ran"].append(ev.step)
            counts["step_seconds"][ev.step] = ev.seconds
        elif ev.kind == EventKind.CACHE_HIT:
            counts["hit_disk" if "disk" in (ev.message or "") else "hit_memory"].append(ev.step)

    session.events.observe(observe)
    return counts


def _copy(counts: dict) -> dict:
    return {k: (dict(v) if isinstance(v, dict) else list(v)) for k, v in counts.items()}


def child_jwi(a) -> None:
    from jwinteract import Session
    from jwinteract.references.offline import OfflineContext

    ctx = OfflineContext(a.crds)
    rss0 = _maxrss_gb()
    t0 = time.perf_counter()
    s = Session(a.uncal, crds=ctx, cache_dir=None)
    t_open = time.perf_counter() - t0
    counts = _count_events(s)
    s.run("detector1")
    rate = s.result("gain_scale")
    seconds = time.perf_counter() - t0
    peak = _maxrss_gb()
    _save_rate(rate, a.out)
    cal_step = dict(rate.meta.cal_step.instance)
    del rate
    step_seconds = dict(counts["step_seconds"])
    for v in counts.values():
        v.clear()
    # the interactive re-run with the memory tier only (after the peak was read)
    t0 = time.perf_counter()
    s.set("jump", rejection_threshold=RERUN_THRESHOLD)
    s.run("detector1")
    s.result("gain_scale")
    rerun = time.perf_counter() - t0
    s.close()
    _child_result({"seconds": seconds, "session_open_s": t_open, "rss_after_imports_gb": rss0,
                   "self_peak_gb": peak, "rerun_seconds": rerun, "step_seconds": step_seconds,
                   "rerun_events": _copy(counts),
                   "cal_step": cal_step})  # fmt: skip


def child_jwi_disk(a) -> None:
    from jwinteract import Session
    from jwinteract.references.offline import OfflineContext

    ctx = OfflineContext(a.crds)
    rss0 = _maxrss_gb()
    t0 = time.perf_counter()
    s = Session(a.uncal, crds=ctx, cache_dir=a.cache)
    counts = _count_events(s)
    s.run("detector1")  # returns after the disk writes are finished
    s.result("gain_scale")
    seconds = time.perf_counter() - t0
    peak_full = _maxrss_gb()
    first = _copy(counts)
    rerun = _timed_rerun(s, counts)
    s.close()
    _child_result({"seconds": seconds, "rerun_seconds": rerun, "rss_after_imports_gb": rss0,
                   "self_peak_full_gb": peak_full, "self_peak_gb": _maxrss_gb(),
                   "full_events": first, "rerun_events": _copy(counts),
                   "disk_bytes": sum(p.stat().st_size for p in Path(a.cache).rglob("*")
                                     if p.is_file())})  # fmt: skip


def _timed_rerun(s, counts) -> float:
    """Clear the event counters, change the jump threshold, re-run: seconds taken."""
    for v in counts.values():
        v.clear()  # lists and the step_seconds dict
    t0 = time.perf_counter()
    s.set("jump", rejection_threshold=RERUN_THRESHOLD)
    s.run("detector1")
    s.result("gain_scale")
    return time.perf_counter() - t0


def child_jwi_reread(a) -> None:
    from jwinteract import Session
    from jwinteract.references.offline import OfflineContext

    ctx = OfflineContext(a.crds)
    rss0 = _maxrss_gb()
    t0 = time.perf_counter()
    s = Session(a.uncal, crds=ctx, cache_dir=a.cache)
    t_open = time.perf_counter() - t0
    counts = _count_events(s)
    s.run("detector1")
    s.result("gain_scale")
    seconds = time.perf_counter() - t0
    first = _copy(counts)
    rerun = _timed_rerun(s, counts)
    s.close()
    _child_result({"seconds": seconds, "session_open_s": t_open, "rerun_seconds": rerun,
                   "rss_after_imports_gb": rss0, "self_peak_gb": _maxrss_gb(), "events": first,
                   "rerun_events": _copy(counts)})  # fmt: skip


CHILDREN = {"simulate": child_simulate, "jwst": child_jwst, "jwi": child_jwi,
            "jwi-disk": child_jwi_disk, "jwi-reread": child_jwi_reread}  # fmt: skip


# ---------------------------------------------------------------------------
# parent


def spawn(kind: str, env: dict[str, str], log: Path, **opts) -> dict:
    """Run a child; return its RESULT plus wall time and peak RSS from the kernel."""
    cmd = [sys.executable, str(HERE), "--child", kind]
    for key, value in opts.items():
        if value is not None:
            cmd += [f"--{key}", str(value)]
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    with open(log, "w") as err, tempfile.TemporaryFile("w+") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=str(log.parent))
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - t0
        out.seek(0)
        text = out.read()
    lines = [ln for ln in text.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        tail = "".join(log.read_text().splitlines(keepends=True)[-25:])
        raise RuntimeError(f"child {kind!r} failed (exit {proc.returncode}):\n{tail}")
    res = json.loads(lines[-1][len("RESULT ") :])
    res.update(process_peak_rss_gb=usage.ru_maxrss / 2**20, process_wall_s=wall,
               cpu_s=usage.ru_utime + usage.ru_stime, load_before=load)  # fmt: skip
    # The peak of the timed run: ru_maxrss read by the child at its end (the jwinteract
    # children re-run jump afterwards, which must not count); else the kernel's figure.
    res["peak_rss_gb"] = res.get(
        "self_peak_full_gb", res.get("self_peak_gb", res["process_peak_rss_gb"])
    )
    return res


def jwst_step_seconds(log: Path) -> dict[str, float]:
    """Per-step wall time from stpipe's "Step X running" / "Step X done" log lines
    (gain_scale runs twice, on rate and rateints: summed)."""
    import re
    from datetime import datetime

    pat = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) - stpipe\.step - INFO - "
                     r"Step (\w+) (running|done)")  # fmt: skip
    started: dict[str, datetime] = {}
    out: dict[str, float] = {}
    for line in log.read_text(errors="replace").splitlines():
        m = pat.match(line)
        if not m or m.group(2) == "Detector1Pipeline":
            continue
        t = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f")
        if m.group(3) == "running":
            started[m.group(2)] = t
        elif m.group(2) in started:
            dt = (t - started.pop(m.group(2))).total_seconds()
            out[m.group(2)] = out.get(m.group(2), 0.0) + dt
    return out


def _median(values):
    import statistics

    return statistics.median(values) if values else float("nan")


def accuracy(truth_path: Path, jwst_npz: Path, jwi_npz: Path) -> dict:
    import numpy as np

    from jwinteract.simulate import Truth

    truth = Truth.read(truth_path)
    J, W = np.load(jwst_npz), np.load(jwi_npz)
    jd, je, jq = J["data"], J["err"], J["dq"]
    wd, we, wq = W["data"], W["err"], W["dq"]
    good = ((jq & DO_NOT_USE) == 0) & np.isfinite(jd)
    diff = np.abs(wd - jd)
    with np.errstate(invalid="ignore", divide="ignore"):
        within = (diff <= 1e-3 * np.abs(jd)) | (diff <= 0.05 * je)
        nsig = diff / je
    within &= np.isfinite(wd)
    n_good = int(good.sum())
    out = {
        "good_pixels": n_good,
        "rate_agree_frac": float(within[good].mean()) if n_good else float("nan"),
        "rate_disagree_pixels": int(n_good - within[good].sum()),
        "rate_max_dsigma": float(np.nanmax(nsig[good])) if n_good else float("nan"),
        "dq_identical_frac": float((wq == jq).mean()),
        "dq_differ_pixels": int((wq != jq).sum()),
    }
    true = truth.rate
    not_ref = (truth.pixeldq & REFERENCE_PIXEL) == 0
    for name, d, e, q in (("jwi", wd, we, wq), ("jwst", jd, je, jq)):
        sel = ((q & DO_NOT_USE) == 0) & not_ref & np.isfinite(d) & np.isfinite(e) & (e > 0)
        pull = ((d - true) / e)[sel].astype(np.float64)
        med = float(np.median(pull))
        mad = float(1.4826 * np.median(np.abs(pull - med)))
        # median pull per flux bin (deciles of the true rate)
        edges = np.quantile(true[sel], np.linspace(0, 1, 11))
        idx = np.clip(np.searchsorted(edges, true[sel], side="right") - 1, 0, 9)
        bins = [float(np.median(pull[idx == k])) for k in range(10) if np.any(idx == k)]
        out[f"pull_{name}"] = {"n": int(sel.sum()), "std": float(np.std(pull)), "median": med,
                               "robust_std": mad, "worst_bin_median": max(bins, key=abs)}  # fmt: skip
    return out


def run_case(name: str, args, root: Path) -> dict:
    case = CASES[name]
    work = root / name
    work.mkdir(parents=True, exist_ok=True)
    crds = work / "crds"
    base_env = {**os.environ, "STPIPE_DISABLE_CRDS_STEPPARS": "true", "PYTHONUNBUFFERED": "1"}
    if args.source_dir:  # a snapshot of a commit: children import jwinteract from it
        base_env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [args.source_dir, os.environ.get("PYTHONPATH")])
        )
    base_env.pop("JWINTERACT_CACHE_DIR", None)

    print(
        f"\n=== {name}: {case['instrument']} {case['detector']} {case['subarray']} "
        f"{case['readpatt']}, {case['nints']} int x {case['ngroups']} groups ==="
    )
    t0 = time.perf_counter()
    sim = spawn("simulate", base_env, work / "simulate.log", case=name, crds=crds,
                workdir=work, seed=args.seed)  # fmt: skip
    print(f"simulated {tuple(sim['shape'])} in {time.perf_counter() - t0:.1f} s; references in "
          f"offline CRDS context {sim['context']}")  # fmt: skip

    from jwinteract.references.offline import OfflineContext

    jwst_env = {**base_env, **OfflineContext(crds).env()}
    jwst_steps = json.loads(json.dumps(JWST_FAIRNESS_SKIPS))
    if args.jwst_cores:
        for step in ("jump", "ramp_fit"):
            jwst_steps.setdefault(step, {})["maximum_cores"] = args.jwst_cores
    runs: dict[str, list[dict]] = {"jwst": [], "jwi": [], "jwi-disk": [], "jwi-reread": []}
    for r in range(args.repeats):
        first = r == 0
        res = spawn("jwst", jwst_env, work / f"jwst_{r}.log", uncal=sim["uncal"], crds=crds,
                    steps=json.dumps(jwst_steps),
                    out=work / "jwst_rate.npz" if first else None)  # fmt: skip
        res["step_seconds"] = jwst_step_seconds(work / f"jwst_{r}.log")
        runs["jwst"].append(res)
        print(f"  repeat {r + 1}: jwst            {res['seconds']:7.2f} s  peak {res['peak_rss_gb']:.2f} GB"
              f"  (load {res['load_before']:.2f})")  # fmt: skip
        res = spawn("jwi", base_env, work / f"jwi_{r}.log", uncal=sim["uncal"], crds=crds,
                    out=work / "jwi_rate.npz" if first else None)  # fmt: skip
        runs["jwi"].append(res)
        print(f"  repeat {r + 1}: jwinteract      {res['seconds']:7.2f} s  peak {res['peak_rss_gb']:.2f} GB"
              f"  (load {res['load_before']:.2f})")  # fmt: skip
        if not args.no_disk:
            cache = work / f"cache_{r}"
            res = spawn("jwi-disk", base_env, work / f"jwi_disk_{r}.log", uncal=sim["uncal"],
                        crds=crds, cache=cache)  # fmt: skip
            runs["jwi-disk"].append(res)
            print(f"  repeat {r + 1}: jwinteract+disk {res['seconds']:7.2f} s  peak {res['peak_rss_gb']:.2f} GB"
                  f"  re-run {res['rerun_seconds']:.3f} s ({', '.join(res['rerun_events']['ran'])})"
                  f"  (load {res['load_before']:.2f})")  # fmt: skip
            res = spawn("jwi-reread", base_env, work / f"jwi_reread_{r}.log", uncal=sim["uncal"],
                        crds=crds, cache=cache)  # fmt: skip
            runs["jwi-reread"].append(res)
            ran = res["events"]["ran"]
            print(f"  repeat {r + 1}: 2nd Session     {res['seconds']:7.2f} s  peak {res['peak_rss_gb']:.2f} GB"
                  f"  from disk: {len(res['events']['hit_disk'])} hits, {len(ran)} ran"
                  f"  (load {res['load_before']:.2f})")  # fmt: skip
            shutil.rmtree(cache, ignore_errors=True)

    acc = accuracy(Path(sim["truth"]), work / "jwst_rate.npz", work / "jwi_rate.npz")
    med = {k: _median([x["seconds"] for x in v]) for k, v in runs.items()}
    rss = {k: _median([x["peak_rss_gb"] for x in v]) for k, v in runs.items()}
    out = {
        "case": name, "shape": sim["shape"], "repeats": args.repeats,
        "jwst_steps": jwst_steps, "crds_context": sim["context"],
        "median_s": med, "median_peak_rss_gb": rss,
        "speedup": med["jwst"] / med["jwi"],
        "speedup_disk": med["jwst"] / med["jwi-disk"] if runs["jwi-disk"] else None,
        "rss_ratio": rss["jwst"] / rss["jwi"],
        "rerun_s": _median([x["rerun_seconds"] for x in runs["jwi-disk"]]),
        "rerun_memory_s": _median([x["rerun_seconds"] for x in runs["jwi"]]),
        "session_open_s": _median([x["session_open_s"] for x in runs["jwi"]]),
        "reread_open_s": _median([x["session_open_s"] for x in runs["jwi-reread"]]),
        "reread_s": _median([x["seconds"] for x in runs["jwi-reread"]]),
        "reread_rerun_s": _median([x["rerun_seconds"] for x in runs["jwi-reread"]]),
        "disk_cache_gb": _median([x["disk_bytes"] / 2**30 for x in runs["jwi-disk"]]),
        "accuracy": acc,
        "runs": runs,
    }  # fmt: skip
    print_case(out)
    return out


def _fmt_list(values, fmt="{:.2f}"):
    return " ".join(fmt.format(v) for v in values)


def print_case(c: dict) -> None:
    runs = c["runs"]
    print(f"\n{c['case']}  {tuple(c['shape'])}  repeats={c['repeats']}")
    print("  (jwst with ipc and refpix skipped, as jwinteract does not implement them yet;\n"
          "   timed: uncal path in -> rate in memory, imports excluded)")  # fmt: skip
    head = f"  {'run':<26} {'median s':>9} {'each s':>22} {'peak RSS GB':>12} {'cpu/wall':>9} {'proc s':>7} {'load':>11}"
    print(head)
    print("  " + "-" * (len(head) - 2))
    labels = {"jwst": "jwst Detector1Pipeline", "jwi": "jwinteract (memory cache)",
              "jwi-disk": "jwinteract (+disk tier)", "jwi-reread": "2nd Session, disk hits"}  # fmt: skip
    for kind, label in labels.items():
        v = runs[kind]
        if not v:
            continue
        secs = [x["seconds"] for x in v]
        cpu = _median([x["cpu_s"] / x["process_wall_s"] for x in v])
        loads = [x["load_before"] for x in v]
        print(f"  {label:<26} {_median(secs):>9.2f} {_fmt_list(secs):>22} "
              f"{_median([x['peak_rss_gb'] for x in v]):>12.2f} {cpu:>9.2f} "
              f"{_median([x['process_wall_s'] for x in v]):>7.1f} "
              f"{min(loads):>5.2f}-{max(loads):<5.2f}")  # fmt: skip
    print(f"  ratio of medians jwst / jwinteract: time {c['speedup']:.1f}x"
          + (f" (with disk tier {c['speedup_disk']:.1f}x)" if c["speedup_disk"] else "")
          + f", peak RSS {c['rss_ratio']:.1f}x")  # fmt: skip
    print(f"  jwinteract Session(uncal) (read + hash the ramp) inside the timed run: "
          f"{c['session_open_s']:.2f} s")  # fmt: skip
    print(
        "  per step, median s (steps that ran; jwst from its log, incl. stpipe's per-step overhead):"
    )
    for kind, label in (("jwst", "jwst"), ("jwi", "jwinteract")):
        names = list(dict.fromkeys(n for x in runs[kind] for n in x["step_seconds"]))
        cells = [f"{n} {_median([x['step_seconds'][n] for x in runs[kind] if n in x['step_seconds']]):.2f}"
                 for n in names]  # fmt: skip
        # what the step timers do not cover: jwst's stpipe between steps, opening the file
        # and CRDS; jwinteract's Session() (read + hash), reference lookup/opening, planning
        rest = _median([x["seconds"] - sum(x["step_seconds"].values()) for x in runs[kind]])
        print(f"    {label:<10} " + ", ".join(cells) + f"; outside the steps {rest:.2f}")

    def events(ev):
        sec = ev.get("step_seconds", {})
        ran = [f"{n} {sec[n]:.2f}" if sec.get(n) is not None else n for n in ev["ran"]]
        parts = [f"ran {', '.join(ran) or '-'}"]
        for tier in ("memory", "disk"):
            if ev[f"hit_{tier}"]:
                parts.append(f"{tier} hits {', '.join(ev[f'hit_{tier}'])}")
        return "; ".join(parts)

    print(f"  interactive re-run, set('jump', rejection_threshold={RERUN_THRESHOLD:g}) + "
          f"run('detector1') in the same Session:")  # fmt: skip
    print(f"    memory-only cache: median {c['rerun_memory_s']:.3f} s  "
          f"[{_fmt_list([x['rerun_seconds'] for x in runs['jwi']], '{:.3f}')}]  "
          f"({events(runs['jwi'][0]['rerun_events'])})")  # fmt: skip
    if runs["jwi-disk"]:
        print(f"    with disk tier (run returns after its writes): median {c['rerun_s']:.3f} s  "
              f"[{_fmt_list([x['rerun_seconds'] for x in runs['jwi-disk']], '{:.3f}')}]  "
              f"({events(runs['jwi-disk'][0]['rerun_events'])})")  # fmt: skip
        hits = runs["jwi-reread"][0]["events"]
        print(f"  2nd Session (new process) on the disk cache: Session() + run('detector1') "
              f"{c['reread_s']:.3f} s (of which Session() {c['reread_open_s']:.3f} s; "
              f"{len(hits['hit_disk'])} disk hits, {len(hits['ran'])} ran), then the same "
              f"threshold change {c['reread_rerun_s']:.3f} s (disk hits); disk cache "
              f"{c['disk_cache_gb']:.2f} GB")  # fmt: skip
    a = c["accuracy"]
    print(f"  rate vs jwst: {100 * a['rate_agree_frac']:.4f}% of {a['good_pixels']} good pixels within "
          f"1e-3 rel or 0.05 sigma ({a['rate_disagree_pixels']} outside; max {a['rate_max_dsigma']:.3g} sigma)")  # fmt: skip
    print(
        f"  DQ identical: {100 * a['dq_identical_frac']:.4f}% ({a['dq_differ_pixels']} pixels differ)"
    )
    for who in ("jwi", "jwst"):
        p = a[f"pull_{who}"]
        print(f"  pull vs truth ({'jwinteract' if who == 'jwi' else 'jwst'}): std {p['std']:.3f}, "
              f"median {p['median']:+.4f}, robust std {p['robust_std']:.3f}, "
              f"worst flux-decile median {p['worst_bin_median']:+.4f}  (n={p['n']})")  # fmt: skip


def print_targets(cases: list[dict]) -> None:
    print("\nTargets (issue 4):")

    def line(ok, text):
        print(f"  [{'PASS' if ok else 'FAIL'}] {text}")

    for c in cases:
        n = c["case"]
        if n in SPEEDUP_TARGET:
            line(c["speedup"] >= SPEEDUP_TARGET[n],
                 f"{n}: {c['speedup']:.1f}x faster than jwst (target >= {SPEEDUP_TARGET[n]:g}x)")  # fmt: skip
        if n in RSS_TARGET_GB:
            v = c["median_peak_rss_gb"]["jwi"]
            line(
                v <= RSS_TARGET_GB[n],
                f"{n}: jwinteract peak RSS {v:.2f} GB (target <= {RSS_TARGET_GB[n]:g} GB)",
            )
        if n.startswith("nircam-full"):
            line(c["rerun_memory_s"] <= RERUN_TARGET_S,
                 f"{n}: interactive re-run, memory cache {c['rerun_memory_s']:.3f} s (target <= {RERUN_TARGET_S} s)")  # fmt: skip
            if c["runs"]["jwi-disk"]:
                line(c["rerun_s"] <= RERUN_TARGET_S,
                     f"{n}: interactive re-run, disk tier on {c['rerun_s']:.3f} s (target <= {RERUN_TARGET_S} s)")  # fmt: skip
        a = c["accuracy"]
        line(a["rate_agree_frac"] >= AGREE_TARGET,
             f"{n}: rate agreement {100 * a['rate_agree_frac']:.3f}% (target >= 99.9%)")  # fmt: skip
        line(a["dq_identical_frac"] >= AGREE_TARGET,
             f"{n}: identical DQ {100 * a['dq_identical_frac']:.3f}% (target >= 99.9%)")  # fmt: skip
        p = a["pull_jwi"]
        lo, hi = PULL_STD_TARGET
        line(lo <= p["std"] <= hi, f"{n}: pull std {p['std']:.3f} (target 1.00 +- 0.05; "
             f"jwst on the same data: {a['pull_jwst']['std']:.3f})")  # fmt: skip
        line(abs(p["worst_bin_median"]) <= PULL_BIAS_TARGET,
             f"{n}: worst flux-bin median pull {p['worst_bin_median']:+.4f} (target |.| <= 0.02)")  # fmt: skip


def _git(*cmd: str) -> str:
    return subprocess.run(["git", "-C", str(REPO), *cmd], capture_output=True, text=True,
                          check=True).stdout.strip()  # fmt: skip


def snapshot_source(rev: str, dest: Path) -> dict:
    """Extract jwinteract/ at ``rev`` (``git archive``, read-only) so the benchmark
    measures a commit, not a working tree other people are editing."""
    import io
    import tarfile

    data = subprocess.run(["git", "-C", str(REPO), "archive", rev, "jwinteract"],
                          capture_output=True, check=True).stdout  # fmt: skip
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(dest, filter="data")
    sys.path.insert(0, str(dest))  # the parent's own imports (OfflineContext, Truth) too
    return {
        "jwinteract_source": f"git archive {rev}",
        "jwinteract_commit": _git("rev-parse", "--short", rev),
    }


def worktree_source() -> dict:
    """Which jwinteract the children import when no snapshot is asked for."""
    import importlib.util

    spec = importlib.util.find_spec("jwinteract")
    info = {"jwinteract_source": str(Path(spec.origin).parent)}
    try:
        info["jwinteract_commit"] = _git("rev-parse", "--short", "HEAD")
        dirty = _git("status", "--porcelain", "--", "jwinteract")
        if dirty:
            info["jwinteract_commit"] += "+uncommitted changes"
    except (OSError, subprocess.CalledProcessError):
        pass
    return info


def machine_info() -> dict:
    import jwst
    import numpy

    info = {"host": platform.node(), "cpus": os.cpu_count(), "python": platform.python_version(),
            "jwst": jwst.__version__, "numpy": numpy.__version__}  # fmt: skip
    try:
        mem = Path("/proc/meminfo").read_text().split("\n")[0].split()[1]
        info["mem_total_gb"] = round(int(mem) / 2**20, 1)
    except (OSError, IndexError, ValueError):
        pass
    return info


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", action="append", choices=sorted(CASES),
                    help="nircam-full (default), nircam-full-3int, miri, nircam-sub640; repeatable")  # fmt: skip
    ap.add_argument(
        "--repeats", type=int, default=None, help="repeats per side (default 3; 1 with --quick)"
    )
    ap.add_argument("--quick", action="store_true", help="SUB640 x 10 groups smoke test")
    ap.add_argument("--force", action="store_true", help="try the non-comparable cases anyway")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-disk", action="store_true", help="skip the disk-tier and re-run timings")
    ap.add_argument("--jwst-cores", default=None,
                    help="jwst's maximum_cores for jump and ramp_fit (default: jwst's own, '1')")  # fmt: skip
    ap.add_argument("--snapshot", metavar="REV", default=None,
                    help="measure jwinteract as committed at REV (e.g. HEAD: git archive into the "
                         "temporary folder) instead of the installed working tree")  # fmt: skip
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    ap.add_argument("--json", default=None, help="also write the JSON summary to this file")
    # child mode
    ap.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    for opt in ("uncal", "crds", "out", "cache", "steps", "workdir"):
        ap.add_argument(f"--{opt}", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        if a.child == "simulate":
            a.case = a.case[0]
        CHILDREN[a.child](a)
        return 0

    cases = a.case or (["nircam-sub640"] if a.quick else ["nircam-full"])
    if a.repeats is None:
        a.repeats = 1 if a.quick else 3
    root = Path(tempfile.mkdtemp(prefix="jwi-bench-det1-"))
    a.source_dir = None
    info = machine_info()
    if a.snapshot:
        a.source_dir = str(root / "src")
        info.update(snapshot_source(a.snapshot, root / "src"))
    else:
        info.update(worktree_source())
    load0 = os.getloadavg()
    print(f"detector1_vs_jwst  {time.strftime('%Y-%m-%d %H:%M:%S')}  {info}")
    print(f"load average at start (1/5/15 min): {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f} "
          f"on {info['cpus']} cores")  # fmt: skip
    print("Fairness: jwst runs with steps=" + json.dumps(JWST_FAIRNESS_SKIPS)
          + " because jwinteract does not implement ipc and refpix yet (they pass the data "
          "through); all other steps use each side's defaults, references from the same offline "
          "CRDS context; STPIPE_DISABLE_CRDS_STEPPARS=true.")  # fmt: skip

    results, skipped = [], {}
    try:
        for name in cases:
            if name in NOT_COMPARABLE and not a.force:
                print(f"\n=== {name}: NOT COMPARABLE YET - skipped ===\n  {NOT_COMPARABLE[name]}."
                      "\n  (--force tries it anyway.)")  # fmt: skip
                skipped[name] = NOT_COMPARABLE[name]
                continue
            try:
                results.append(run_case(name, a, root))
            except RuntimeError as exc:
                if name not in NOT_COMPARABLE:
                    raise
                print(f"  {name} failed as expected: {str(exc).strip().splitlines()[-1]}")
                skipped[name] = str(exc).strip().splitlines()[-1]
        if results:
            print_targets(results)
    finally:
        if a.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    load1 = os.getloadavg()
    print(f"load average at end (1/5/15 min): {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}")
    summary = {"benchmark": "detector1_vs_jwst", "date": time.strftime("%Y-%m-%dT%H:%M:%S"),
               "machine": info, "load_start": load0, "load_end": load1,
               "jwst_fairness_skips": JWST_FAIRNESS_SKIPS, "skipped": skipped,
               "cases": results}  # fmt: skip
    line = json.dumps(summary, separators=(",", ":"))
    if a.json:
        Path(a.json).write_text(line + "\n")
    print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
