"""Command line: ``jwinteract demo | run | simulate``.

``run`` accepts jwst's ``strun`` style per-step parameters
(``--steps.jump.rejection_threshold=5``) and prints, after the run, one row
per step: ran / cached / skipped / not implemented, with seconds.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from .errors import JwinteractError

__all__ = ["main"]


def _parse_step_args(extra: list[str]) -> dict[str, dict[str, str]]:
    """``--steps.STEP.PARAM=VALUE`` (or ``--steps.STEP.PARAM VALUE``) -> nested dict."""
    steps: dict[str, dict[str, str]] = {}
    i = 0
    while i < len(extra):
        arg = extra[i]
        if not arg.startswith("--steps."):
            raise JwinteractError(
                f"unrecognised argument {arg!r}; per-step parameters look like "
                "--steps.jump.rejection_threshold=5"
            )
        body = arg[len("--steps.") :]
        if "=" in body:
            path, value = body.split("=", 1)
        else:
            if i + 1 >= len(extra):
                raise JwinteractError(f"{arg} needs a value")
            path, value = body, extra[i + 1]
            i += 1
        parts = path.split(".")
        if len(parts) != 2 or not all(parts):
            raise JwinteractError(f"{arg!r}: expected --steps.STEP.PARAM=VALUE")
        steps.setdefault(parts[0], {})[parts[1]] = value
        i += 1
    return steps


class _Table:
    """Collects step events during a run and prints the per-step table."""

    def __init__(self, session, show_progress: bool):
        from .events import EventKind

        self.K = EventKind
        self.rows: dict[tuple[str, str], list] = {}
        self.bar = None
        self.show_progress = show_progress
        session.events.observe(self)

    def __call__(self, ev) -> None:
        K = self.K
        key = (ev.stage, ev.step)
        if ev.kind == K.STEP_STARTED and self.show_progress:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=100, desc=f"{ev.step:<14}", leave=False, file=sys.stderr,
                            bar_format="{desc} {bar} {percentage:3.0f}%")  # fmt: skip
        elif ev.kind == K.PROGRESS and self.bar is not None:
            self.bar.n = int(100 * (ev.fraction or 0))
            self.bar.refresh()
        elif ev.kind in (K.STEP_FINISHED, K.STEP_FAILED) and self.bar is not None:
            self.bar.close()
            self.bar = None
        action = {K.STEP_FINISHED: "ran", K.CACHE_HIT: "cached", K.STEP_SKIPPED: "skipped",
                  K.NOT_IMPLEMENTED: "not implemented", K.STEP_FAILED: "FAILED"}.get(ev.kind)  # fmt: skip
        if action:
            self.rows[key] = [ev.stage, ev.step, action, ev.seconds, ev.message]

    def print(self, out=None) -> None:
        out = out or sys.stdout
        print(f"{'stage':<10} {'step':<20} {'action':<16} {'seconds':>8}  note", file=out)
        for stage, step, action, seconds, note in self.rows.values():
            sec = f"{seconds:8.2f}" if seconds is not None else f"{'-':>8}"
            note = note if action in ("skipped", "FAILED") else ""
            print(f"{stage:<10} {step:<20} {action:<16} {sec}  {note}", file=out)
        ran = sum(r[2] == "ran" for r in self.rows.values())
        print(
            f"{ran} step(s) ran, {sum(r[2] == 'cached' for r in self.rows.values())} from cache",
            file=out,
        )


def _session(path, args, steps=None):
    from .session import Session

    crds = args.crds_dir if args.crds_dir else "auto"
    cache = None if args.cache_dir in ("none", "") else (args.cache_dir or "default")
    return Session(path, steps=steps, crds=crds, cache_dir=cache)


def _run_and_report(session, stage, output_dir: Path | None, progress: bool) -> int:
    table = _Table(session, progress)
    t0 = time.perf_counter()
    session.run(stage)
    elapsed = time.perf_counter() - t0
    table.print()
    if output_dir is not None:
        for path in session.save(stage, output_dir):
            print(f"wrote {path}")
    print(f"{session._stage_name(stage)} finished in {elapsed:.1f} s")
    return 0


def cmd_simulate(args) -> int:
    from .references.offline import OfflineContext
    from .simulate import simulate_exposure

    ctx = OfflineContext(args.crds_dir)
    exp = simulate_exposure(
        instrument=args.instrument, detector=args.detector, subarray=args.subarray,
        readpatt=args.readpatt, ngroups=args.ngroups, nints=args.nints, seed=args.seed,
        context=ctx,
    )  # fmt: skip
    paths = exp.write(args.output_dir)
    for kind, path in paths.items():
        print(f"{kind:<10} {path}")
    print(f"references in the offline CRDS context {ctx.root} ({ctx.context})")
    return 0


def cmd_run(args, extra) -> int:
    steps = _parse_step_args(extra)
    session = _session(args.file, args, steps)
    try:
        return _run_and_report(session, args.stage, Path(args.output_dir) if args.output_dir else None,
                               not args.no_progress)  # fmt: skip
    finally:
        session.close()


def cmd_demo(args) -> int:
    from .references.offline import OfflineContext
    from .simulate import simulate_exposure

    out = Path(args.output_dir)
    print(
        f"simulating a NIRCam {args.subarray} exposure ({args.ngroups} groups, {args.nints} int)..."
    )
    t0 = time.perf_counter()
    exp = simulate_exposure(instrument="NIRCAM", detector="NRCA1", subarray=args.subarray,
                            readpatt="RAPID", ngroups=args.ngroups, nints=args.nints,
                            seed=args.seed, context=OfflineContext(args.crds_dir))  # fmt: skip
    uncal = exp.write(out)["uncal"]
    del exp  # the simulation's arrays and reference models are not needed any more
    print(f"  wrote {uncal} in {time.perf_counter() - t0:.1f} s")
    session = _session(uncal, args)
    try:
        return _run_and_report(session, "detector1", out, not args.no_progress)
    finally:
        session.close()


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="jwinteract", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp):
        sp.add_argument("--cache-dir", default=None,
                        help="step cache folder (default $JWINTERACT_CACHE_DIR or ~/.cache/jwinteract/products; 'none' for memory only)")  # fmt: skip
        sp.add_argument("--crds-dir", default=None,
                        help="offline CRDS context folder (default $JWINTERACT_CRDS_PATH or ~/.cache/jwinteract/crds)")  # fmt: skip
        sp.add_argument("--no-progress", action="store_true", help="no progress bars")

    d = sub.add_parser("demo", help="simulate a NIRCam exposure and run detector1 on it")
    d.add_argument("--output-dir", default="jwinteract_output")
    d.add_argument("--subarray", default="FULL")
    d.add_argument("--ngroups", type=int, default=10)
    d.add_argument("--nints", type=int, default=1)
    d.add_argument("--seed", type=int, default=1)
    common(d)

    r = sub.add_parser("run", help="run a stage on a file: jwinteract run detector1 X_uncal.fits")
    r.add_argument("stage", help="detector1, image2, image3, ... (or 1, 2, 3)")
    r.add_argument("file")
    r.add_argument("--output-dir", default=None, help="write the stage products here")
    common(r)

    s = sub.add_parser("simulate", help="write a simulated exposure, its truth and references")
    s.add_argument("--instrument", default="NIRCAM", type=str.upper)
    s.add_argument("--detector", default=None)
    s.add_argument("--subarray", default="FULL")
    s.add_argument("--readpatt", default="RAPID")
    s.add_argument("--ngroups", type=int, default=10)
    s.add_argument("--nints", type=int, default=1)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--output-dir", required=True)
    common(s)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "run":
            return cmd_run(args, extra)
        if extra:
            parser.error(f"unrecognised arguments: {' '.join(extra)}")
        if args.command == "simulate":
            if args.detector is None:
                args.detector = {"NIRCAM": "NRCA1"}.get(args.instrument)
            return cmd_simulate(args)
        return cmd_demo(args)
    except JwinteractError as exc:
        print(f"jwinteract: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
