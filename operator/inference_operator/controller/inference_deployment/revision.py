"""spec.model.revision resolved to the commit a weight cache entry is keyed by: what to ask, what the Hub's answer
means, and the pin in status.weights.resolved. Pure (the request itself is hub.py's, called by observe).

A Hub source's branch or tag is resolved once per (source, model, revision) with GET
{endpoint}/api/models/{model}/revision/{revision}, field `sha` (huggingface_hub v1.28.0, hf_api.py: model_info),
and pinned in the resource's status: a restart reads it back, and `main` moving later does not move a running
resource until its spec names a revision again. A 40-hex revision is a commit already and nothing is asked.
The operator reads no Secrets, so it asks anonymously: where only a token would tell (401/403), the key is the
revision as written and the download Job, which has the token, resolves it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ...api.inference_deployment import InferenceDeployment
from ...api.weight_cache import CachePhase, ResolveOutcome

__all__ = ["HUB", "HubAnswer", "HubReply", "Resolution", "ResolveOutcome", "Wanted"]
from ...render.weight_cache import entry_name_of, source_uri

# huggingface_hub v1.28.0, constants.py: ENDPOINT, the default when HF_ENDPOINT is unset.
HUB = "https://huggingface.co"
COMMIT = re.compile(r"^[0-9a-f]{40}$")
REFUSED = (ResolveOutcome.REVISION_NOT_FOUND, ResolveOutcome.MODEL_NOT_FOUND)
# Resolving again while the Hub does not answer: the first retry soon, then doubling up to the cap.
RETRY_FIRST_SECONDS = 10.0
RETRY_MAX_SECONDS = 300.0


@dataclass(frozen=True)
class Wanted:
    """What a resource's entry key needs resolved."""

    source: str
    model: str
    revision: str


@dataclass(frozen=True)
class HubAnswer:
    """One reply of the Hub's API (status None: no reply at all; `detail` says why)."""

    status: int | None
    error_code: str | None = None  # the X-Error-Code header (huggingface_hub utils/_http.py: hf_raise_for_status)
    sha: str | None = None
    detail: str = ""


@dataclass(frozen=True)
class HubReply:
    """The answer for the revision and, where that leaves open what is missing (needs_refs), the answer for the
    model's refs: GET {endpoint}/api/models/{model}/refs (huggingface_hub v1.28.0, hf_api.py: list_repo_refs)."""

    revision: HubAnswer
    refs: HubAnswer | None = None


@dataclass(frozen=True)
class Resolution:
    """The outcome for one Wanted. `outcome` None: not known yet (the Hub did not answer); retry later."""

    wanted: Wanted
    outcome: ResolveOutcome | None
    commit: str | None = None
    message: str = ""
    generation: int | None = None

    @property
    def key_revision(self) -> str | None:
        """The revision of the entry's key: the commit, or the revision as written; None: no entry (yet)."""
        if self.outcome is None or self.outcome in REFUSED:
            return None
        return self.commit or self.wanted.revision

    @property
    def refused(self) -> bool:
        return self.outcome in REFUSED

    def to_status(self) -> dict[str, Any] | None:
        """status.weights.resolved (None while unknown: nothing is pinned)."""
        if self.outcome is None:
            return None
        out: dict[str, Any] = {
            "source": self.wanted.source,
            "model": self.wanted.model,
            "revision": self.wanted.revision,
            "outcome": self.outcome.value,
        }
        optional = {"commit": self.commit, "message": self.message or None, "generation": self.generation}
        return out | {k: v for k, v in optional.items() if v is not None}


def wanted(infd: InferenceDeployment, cache_default: bool) -> Wanted | None:
    """What to resolve: the resource caches its weights from a Hub source; else None (S3 and claims have no
    revisions, and an uncached resource's pods ask the Hub themselves)."""
    if not infd.spec.model.cache.is_on(cache_default):
        return None
    source = source_uri(infd)
    if not source.startswith("hf://"):
        return None
    return Wanted(source, infd.spec.model.name, infd.spec.model.revision)


def known(want: Wanted, status: dict[str, Any], generation: int) -> Resolution | None:
    """The resolution without asking: a 40-hex commit as written, or the pin in status for the same source, model
    and revision (a refused one only at the generation it was refused at: an edit asks again)."""
    if COMMIT.match(want.revision):
        return Resolution(want, ResolveOutcome.COMMIT, want.revision)
    pin = (status.get("weights") or {}).get("resolved") or {}
    if (pin.get("source"), pin.get("model"), pin.get("revision")) != (want.source, want.model, want.revision):
        return None
    try:
        outcome = ResolveOutcome(str(pin.get("outcome")))
    except ValueError:
        return None
    if outcome in REFUSED and pin.get("generation") != generation:
        return None
    commit = pin.get("commit")
    if outcome is ResolveOutcome.RESOLVED and not (isinstance(commit, str) and COMMIT.match(commit)):
        return None
    return Resolution(want, outcome, commit, str(pin.get("message") or ""), pin.get("generation"))


def entry_of(infd: InferenceDeployment, status: dict[str, Any], cache_default: bool) -> str | None:
    """The entry a resource asks for now, from its spec and its pin (None: no cache, or no key yet). For the
    eviction's count of entries in use, which reads no Hub."""
    if not infd.spec.model.cache.is_on(cache_default):
        return None
    want = wanted(infd, cache_default)
    if want is None:
        return entry_name_of(infd)
    found = known(want, status, int(infd.metadata.get("generation", 0)))
    key = found.key_revision if found is not None else None
    return entry_name_of(infd, key) if key is not None else None


def early_pin(status: dict[str, Any], resolution: Resolution | None) -> dict[str, Any] | None:
    """status.weights with a new pin, to write before the entry is created (None: nothing new to pin). Without it,
    the new entry's first reconcile could count it unused (entry_of reads the pin) and evict it over the budget.
    A commit as written needs none (entry_of keys it from the spec), nor does a refused revision (no entry)."""
    if resolution is None or resolution.key_revision is None or resolution.outcome is ResolveOutcome.COMMIT:
        return None
    weights = dict(status.get("weights") or {})
    pin = resolution.to_status()
    if weights.get("resolved") == pin:
        return None
    # status.weights.phase is required by the CRD: a first pin (no entry yet) is Pending, as the entry will be.
    return {"phase": CachePhase.PENDING.value} | weights | {"resolved": pin}


def _where(want: Wanted) -> str:
    return f"spec.model.revision {want.revision!r} of {want.model}"


def needs_refs(answer: HubAnswer) -> bool:
    """Whether the revision's answer leaves open what is missing, so that the model's refs are asked too."""
    return answer.status in (401, 403, 404) and answer.error_code not in ("RevisionNotFound", "GatedRepo")


def _retry(want: Wanted, endpoint: str, answer: HubAnswer) -> Resolution:
    said = answer.detail or f"HTTP {answer.status}"
    return Resolution(want, None, message=f"Resolving {_where(want)} at {endpoint}: {said}; retrying")


def _refused(want: Wanted, outcome: ResolveOutcome, endpoint: str, generation: int) -> Resolution:
    what = "no such branch, tag or commit" if outcome is ResolveOutcome.REVISION_NOT_FOUND else "no such model"
    return Resolution(want, outcome, message=f"{_where(want)}: {endpoint} has {what}", generation=generation)


def _unreachable(answer: HubAnswer) -> bool:
    """No reply, rate-limited or a server error: time may fix it."""
    return answer.status is None or answer.status == 429 or answer.status >= 500


def classify(want: Wanted, reply: HubReply, endpoint: str, generation: int) -> Resolution:
    """What the Hub's reply means for the entry's key.

    The Hub answers 401 alike for a missing, a private and a gated model when asked without a token, and a
    mirror (olah 0.5.4, offline) answers 401 for a missing revision of a model it has: so for a 401/403/404 without
    a reason, the model's refs decide. Listed: the revision is missing. 404: the model is. Refused too: only a
    token tells, and the key is the revision as written (the download Job resolves it with the resource's token).
    """
    answer = reply.revision
    if answer.status == 200 and answer.sha and COMMIT.match(answer.sha):
        return Resolution(want, ResolveOutcome.RESOLVED, answer.sha)
    if answer.error_code == "RevisionNotFound":
        return _refused(want, ResolveOutcome.REVISION_NOT_FOUND, endpoint, generation)
    for asked in (answer, reply.refs):
        if asked is not None and _unreachable(asked):
            return _retry(want, endpoint, asked)
    if needs_refs(answer) and reply.refs is not None and reply.refs.status == 200:
        return _refused(want, ResolveOutcome.REVISION_NOT_FOUND, endpoint, generation)
    if needs_refs(answer) and 404 in (answer.status, reply.refs.status if reply.refs else None):
        return _refused(want, ResolveOutcome.MODEL_NOT_FOUND, endpoint, generation)
    if answer.status in (401, 403):
        why = "a gated model" if answer.error_code == "GatedRepo" else "a private or gated model, or none"
        said = f"answered HTTP {answer.status} ({why}), and the operator reads no tokens"
    else:
        said = f"answered HTTP {answer.status}" + (" without a commit" if answer.status == 200 else "")
    message = f"{_where(want)} is keyed as written, not by its commit: {endpoint} {said}; the download Job resolves it"
    return Resolution(want, ResolveOutcome.AS_WRITTEN, message=message)


def retry_delay(retry: int) -> float:
    """Seconds before resolving again after the `retry`-th time the Hub did not answer."""
    doublings: int = max(0, min(retry, 10))
    return min(RETRY_MAX_SECONDS, RETRY_FIRST_SECONDS * float(2**doublings))
