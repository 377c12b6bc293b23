"""kube-apiserver's own request counters (`apiserver_request_total` on /metrics), their deltas and who made them.

The counter has no client label, so requests are attributed by what only one party touches: the bench
counts its own requests and subtracts them; writes to InferenceDeployments, to Deployments' main resource
(controllers write only `deployments/status`) and to Services are the operator's; core Events are split by
their `source.component` after the fact (see `operator_writes`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from inference_operator import GROUP

WRITE_VERBS = frozenset({"POST", "PUT", "PATCH", "APPLY", "DELETE", "DELETECOLLECTION"})
_LINE = re.compile(r"^apiserver_request_total\{(?P<labels>[^}]*)\}\s+(?P<value>\S+)")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True, order=True)
class RequestKey:
    """One row of the split: verb and resource (group only where it tells two resources apart)."""

    verb: str
    group: str
    resource: str
    subresource: str

    def label(self) -> str:
        """E.g. `APPLY deployments`, `PATCH inferencedeployments/status`, `POST events`."""
        sub = f"/{self.subresource}" if self.subresource else ""
        group = f" ({self.group})" if self.group == "events.k8s.io" else ""
        return f"{self.verb} {self.resource}{sub}{group}"

    @property
    def write(self) -> bool:
        return self.verb in WRITE_VERBS


def parse_request_totals(text: str) -> Counter[RequestKey]:
    """Resource requests by verb and resource, summed over code, scope, version and component."""
    totals: Counter[RequestKey] = Counter()
    for line in text.splitlines():
        match = _LINE.match(line)
        if not match:
            continue
        labels = dict(_LABEL.findall(match.group("labels")))
        if not labels.get("resource"):
            continue  # /metrics, /readyz and the like: not the fleet's traffic
        key = RequestKey(
            labels.get("verb", ""), labels.get("group", ""), labels["resource"], labels.get("subresource", "")
        )
        totals[key] += int(float(match.group("value")))
    return totals


def delta(after: Counter[RequestKey], before: Counter[RequestKey], own: Counter[RequestKey]) -> Counter[RequestKey]:
    """What everyone but the bench asked for between two scrapes."""
    out: Counter[RequestKey] = Counter()
    for key, value in after.items():
        diff = value - before.get(key, 0) - own.get(key, 0)
        if diff > 0:
            out[key] = diff
    return out


def _operator_writes_resource(key: RequestKey) -> bool:
    """Write rows that only the operator makes on a fleet of vLLM resources (core Events are split apart)."""
    if not key.write:
        return False
    if key.group in (GROUP, "monitoring.coreos.com"):
        return True
    if key.group == "apps" and key.resource == "deployments":
        return key.subresource == ""  # the Deployment controller writes only deployments/status
    return key.group == "" and key.resource == "services"


def owned_writes(requests: Counter[RequestKey], owns: Callable[[RequestKey], bool], events: int) -> Counter[RequestKey]:
    """One controller's writes: the rows `owns` says it alone makes, and its own core Events (counted by source)."""
    out: Counter[RequestKey] = Counter({k: v for k, v in requests.items() if owns(k)})
    if events:
        out[RequestKey("POST", "", "events", "")] = events
    return out


def operator_writes(requests: Counter[RequestKey], operator_events: int) -> Counter[RequestKey]:
    """The operator's writes: the rows it alone makes, and its own core Events (counted by source)."""
    return owned_writes(requests, _operator_writes_resource, operator_events)


def per_resource(counts: Counter[RequestKey], per: float) -> dict[str, float]:
    """Rows as `VERB resource` -> requests per resource (or per minute), largest first."""
    rows = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return {key.label(): round(value / per, 3) for key, value in rows}


def writes(counts: Counter[RequestKey]) -> Counter[RequestKey]:
    return Counter({k: v for k, v in counts.items() if k.write})


READ_VERBS = frozenset({"GET", "LIST", "WATCH"})
# The kinds an InferenceDeployment's reconcile reads; on a bench bed no other client GETs them during a restart
# (the Deployment controller and the EndpointSlice controller read through their informers: LIST and WATCH).
_FLEET_READS = frozenset({"inferencedeployments", "deployments", "services"})


def fleet_reads(counts: Counter[RequestKey]) -> Counter[RequestKey]:
    """Reads (GET, LIST, WATCH) of the fleet's kinds, by verb and resource."""
    return Counter({k: v for k, v in counts.items() if k.verb in READ_VERBS and k.resource in _FLEET_READS})
