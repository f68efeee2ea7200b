"""A Session over an association: one member Session per science exposure.

``Session("jw..._asn.json")`` returns an :class:`AssociationSession`. Stages
1 and 2 run per exposure, each cached on its own (a changed parameter re-runs
only what it affects, exposure by exposure); all members share one cache,
one reference resolver and one event log, whose events name the exposure.
Stage 3 combines the set and arrives with the imaging/spectroscopy issues:
until then it reports its steps as not implemented.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .association import Association, read_association
from .cache import DEFAULT_MEMORY_BUDGET, Cache, default_cache_dir
from .errors import InputError, StepNotImplementedError
from .events import EventLog, StepStatus
from .products import Products
from .references import References

__all__ = ["AssociationSession"]


class AssociationSession:
    """Calibrate every science member of an association.

    Takes the same keyword arguments as :class:`~jwinteract.session.Session`.
    Parameter changes (``set``, ``skip``, ``apply``) apply to every member.
    """

    def __init__(
        self,
        input: str | os.PathLike | Association,
        *,
        steps: dict | None = None,
        references: dict | None = None,
        crds: Any = "auto",
        cache_dir: str | os.PathLike | None = "default",
        memory_budget: int = DEFAULT_MEMORY_BUDGET,
        on_not_implemented: str = "warn",
    ):
        from .session import Session

        self.association = input if isinstance(input, Association) else read_association(input)
        paths = self.association.member_paths("science")
        if not paths:
            raise InputError(f"{self.association.path}: the association has no science members")
        self.cache = Cache(
            default_cache_dir() if cache_dir == "default" else cache_dir, memory_budget
        )
        self.references = References(references, crds)
        self.events = EventLog()
        shared = {"cache": self.cache, "references": self.references, "events": self.events}
        self.members: list[Session] = [
            Session(p, steps=steps, on_not_implemented=on_not_implemented, _shared=shared)
            for p in paths
        ]
        kinds = {(m.instrument, m.exp_type) for m in self.members}
        if len(kinds) > 1:
            raise InputError(
                f"{self.association.path}: members mix instruments/EXP_TYPEs {sorted(kinds)}; "
                "an association combines exposures of one mode"
            )

    # ------------------------------------------------------------ description
    @property
    def stages(self) -> list[str]:
        return self.members[0].stages

    def steps_of(self, stage: str) -> list[str]:
        return self.members[0].steps_of(stage)

    def step_spec(self, name: str):
        return self.members[0].step_spec(name)

    def params(self, step: str) -> dict:
        return self.members[0].params(step)

    # ------------------------------------------------------------ parameters
    def set(self, step: str, **params: Any) -> None:
        for m in self.members:
            m.set(step, **params)

    def skip(self, step: str, skip: bool = True) -> None:
        self.set(step, skip=skip)

    def apply(self, steps: dict) -> None:
        for m in self.members:
            m.apply(steps)

    def reset(self, step: str, *names: str) -> None:
        for m in self.members:
            m.reset(step, *names)

    # ------------------------------------------------------------ running
    def _check_stage(self, stage: str | int | None) -> str:
        name = self.members[0]._stage_name(stage)
        if self.members[0].pipelines[name].stage == 3:
            raise StepNotImplementedError(
                f"stage 3 ({name}) combines the association's exposures and is not implemented "
                f"in jwinteract yet; its steps ({', '.join(self.steps_of(name))}) arrive with the "
                "imaging and spectroscopy stage-3 work. Run stage 1 and 2 per exposure meanwhile."
            )
        return name

    def run(self, stage: str | int | None = None, *, start: str | None = None,
            stop: str | None = None) -> list[Products]:  # fmt: skip
        """Run ``stage`` for every member; returns their products in member order."""
        if stage is None:
            stage = [s for s in self.stages if self.members[0].pipelines[s].stage < 3][-1]
        name = self._check_stage(stage)
        return [m.run(name, start=start, stop=stop) for m in self.members]

    def status(self, stage: str | None = None) -> dict[str, list[StepStatus]]:
        """Per exposure (rootname): the member's status rows."""
        return {m.rootname: m.status(stage) for m in self.members}

    def result(self, step: str, product: str | None = None, *, stage: str | None = None) -> list:
        return [m.result(step, product, stage=stage) for m in self.members]

    def save(self, stage: str | None = None, output_dir: str | os.PathLike = ".") -> list[Path]:
        name = self._check_stage(stage) if stage is not None else None
        return [p for m in self.members for p in m.save(name, output_dir)]

    def close(self) -> None:
        self.cache.close()

    def __enter__(self) -> AssociationSession:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"<AssociationSession {self.association.path} {len(self.members)} exposures "
                f"stages={self.stages}>")  # fmt: skip
