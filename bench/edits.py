"""Bookkeeping of timed spec edits (bench/churn.py): when each edit was answered, when the status caught up with
its generation, and when the resource's Deployment took the new template. Pure: times are passed in.

An edit is done when both happened: `status.observedGeneration` >= the generation the edit's response named,
and the Deployment's `metadata.generation` went past the one seen before the edit was sent (only a change of
its spec moves it: the Deployment controller writes its status only). Its latency runs from the edit's
response to the later of the two. Watch events may arrive before the response does: then the edit is done
as soon as it is answered.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Edit:
    name: str
    deployment_before: int  # the Deployment's generation seen before the edit was sent
    sent: float
    answered: float | None = None
    generation: int | None = None  # from the edit's response
    observed: float | None = None  # status.observedGeneration reached `generation`
    template: float | None = None  # the Deployment's generation went past `deployment_before`

    @property
    def done(self) -> bool:
        return None not in (self.answered, self.observed, self.template)

    @property
    def latency(self) -> float | None:
        if not self.done or self.answered is None or self.observed is None or self.template is None:
            return None
        return max(self.observed, self.template) - self.answered


@dataclass
class EditLog:
    """At most one edit in flight per resource (the churn picks another): a second would blur whose update is whose."""

    pending: dict[str, Edit] = field(default_factory=dict)
    done: list[Edit] = field(default_factory=list)
    failed: int = 0
    _status: dict[str, tuple[int, float]] = field(default_factory=dict)  # latest observedGeneration and its time
    _deployment: dict[str, tuple[int, float]] = field(default_factory=dict)

    def begin(self, name: str, deployment_generation: int, now: float) -> Edit:
        if name in self.pending:
            raise ValueError(f"{name} already has an edit in flight")
        edit = Edit(name, deployment_generation, now)
        self.pending[name] = edit
        return edit

    def answered(self, edit: Edit, generation: int, now: float) -> None:
        edit.answered, edit.generation = now, generation
        seen = self._status.get(edit.name)
        if seen is not None and seen[0] >= generation:
            edit.observed = now  # the watch was ahead of the response
        dep = self._deployment.get(edit.name)
        if dep is not None and dep[0] > edit.deployment_before:
            edit.template = now
        self._settle(edit)

    def refused(self, edit: Edit) -> None:
        """The edit's request failed: it is no edit to time."""
        self.pending.pop(edit.name, None)
        self.failed += 1

    def on_status(self, name: str, observed_generation: int, now: float) -> None:
        self._status[name] = (observed_generation, now)
        edit = self.pending.get(name)
        if edit is None or edit.generation is None or edit.observed is not None:
            return
        if observed_generation >= edit.generation:
            edit.observed = now
            self._settle(edit)

    def on_deployment(self, name: str, generation: int, now: float) -> None:
        self._deployment[name] = (generation, now)
        edit = self.pending.get(name)
        if edit is None or edit.answered is None or edit.template is not None:
            return
        if generation > edit.deployment_before:
            edit.template = now
            self._settle(edit)

    def _settle(self, edit: Edit) -> None:
        if edit.done:
            self.pending.pop(edit.name, None)
            self.done.append(edit)

    def latencies(self) -> list[float]:
        return sorted(lat for e in self.done if (lat := e.latency) is not None)
