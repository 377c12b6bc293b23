"""Shared building blocks of the API models: camelCase aliases, strict parsing, CEL rules."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError


class ApiModel(BaseModel):
    """Base of every API model: camelCase on the wire, unknown fields rejected by name."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        use_enum_values=False,
    )

    def to_wire(self) -> dict[str, Any]:
        """The object as it is written to the API server: camelCase, without unset optional fields."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def cel(*rules: tuple[str, str]) -> dict[str, Any]:
    """`json_schema_extra` carrying CEL rules (`x-kubernetes-validations`) as (rule, message) pairs."""
    return {"x-kubernetes-validations": [{"rule": rule, "message": message} for rule, message in rules]}


# The error type of a rule between fields of one model; validation.py names `field` in the path it reports.
FIELD_CONFLICT = "field_conflict"


def field_conflict(field: str, message: str) -> PydanticCustomError:
    """An error a model validator raises about one of its fields (by its wire name), given how it clashes."""
    return PydanticCustomError(FIELD_CONFLICT, "{message}", {"field": field, "message": message})


# Kubernetes' own quantity syntax (resource.Quantity), without the sign: no request or size here is negative.
QUANTITY_PATTERN = (
    r"^\+?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)
INT32_MAX = 2**31 - 1
PERCENT_PATTERN = r"^[0-9]{1,9}%$"

# A Kubernetes quantity such as `4`, `500m` or `16Gi`: the API server accepts an integer or a string. Checked
# here, not first by the Deployment the operator renders from it, so a typo is refused where it was written.
Quantity = Annotated[
    Annotated[int, Field(ge=0)] | Annotated[str, Field(pattern=QUANTITY_PATTERN)],
    Field(json_schema_extra={"x-kubernetes-int-or-string": True}),
]

# A count of pods or a percentage, as a Deployment's maxSurge and maxUnavailable (an int32 or "25%").
IntOrPercent = Annotated[
    Annotated[int, Field(ge=0, le=INT32_MAX)] | Annotated[str, Field(pattern=PERCENT_PATTERN)],
    Field(json_schema_extra={"x-kubernetes-int-or-string": True}),
]

# A list of objects keyed by `name` (env): the API server refuses two entries of one name, as for a container.
LIST_MAP_BY_NAME: dict[str, Any] = {"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]}


# One command-line argument.
Arg = Annotated[str, Field(max_length=4096)]


class SecretKeySelector(ApiModel):
    """A key of a Secret in the resource's namespace. The operator passes the reference on; it never reads the value."""

    name: str = Field(
        min_length=1,
        max_length=253,
        pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$",
        description="Name of the Secret, in the same namespace as the resource.",
    )
    key: str = Field(
        default="HF_TOKEN",
        min_length=1,
        max_length=253,
        pattern=r"^[-._a-zA-Z0-9]+$",
        description="Key within the Secret whose value is the token.",
    )


class Condition(ApiModel):
    """A condition in the Kubernetes shape (metav1.Condition)."""

    type: str = Field(description="Type of the condition, in CamelCase, e.g. Ready.")
    status: str = Field(description="True, False or Unknown.")
    reason: str = Field(description="A CamelCase word that says why, for machines and alerts.")
    message: str = Field(default="", description="A sentence a platform engineer can act on.")
    last_transition_time: str = Field(description="When status last changed (RFC 3339).")
    observed_generation: int | None = Field(
        default=None, description="The metadata.generation this condition was computed from."
    )
