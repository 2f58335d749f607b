"""Base classes and field types shared by every domain's request schemas."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from smartpay.errors import InvalidRequest

# Stripe's metadata limits: 50 keys, keys up to 40 characters, values up to 500.
METADATA_MAX_KEYS = 50
METADATA_MAX_KEY_LENGTH = 40
METADATA_MAX_VALUE_LENGTH = 500

ShortText = Annotated[str, StringConstraints(max_length=500)]
Email = Annotated[str, StringConstraints(max_length=512, pattern=r"^[^@\s]+@[^@\s]+$")]
ObjectId = Annotated[str, StringConstraints(min_length=3, max_length=255)]
# Metadata arrives as a dict, or as "" (form encoding of "clear all metadata").
MetadataParam = dict[str, str | int | None] | Annotated[str, StringConstraints(max_length=0)]


class StripeParams(BaseModel):
    """Request parameters: unknown ones are refused, as Stripe does, and ``expand`` is
    accepted everywhere."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)

    expand: list[Annotated[str, StringConstraints(max_length=200)]] | None = Field(
        default=None, max_length=20
    )


class MetadataMixin(BaseModel):
    metadata: MetadataParam | None = None

    @field_validator("metadata")
    @classmethod
    def _check_metadata(cls, value: Any) -> Any:
        if isinstance(value, dict):
            check_metadata(value)
        return value


def check_metadata(metadata: dict[str, Any]) -> None:
    if len(metadata) > METADATA_MAX_KEYS:
        raise ValueError(f"metadata can have at most {METADATA_MAX_KEYS} keys")
    for key, value in metadata.items():
        if not key or len(key) > METADATA_MAX_KEY_LENGTH:
            raise ValueError(f"metadata keys must be 1 to {METADATA_MAX_KEY_LENGTH} characters")
        if value is not None and len(str(value)) > METADATA_MAX_VALUE_LENGTH:
            raise ValueError(
                f"metadata values must be at most {METADATA_MAX_VALUE_LENGTH} characters"
            )


def merge_metadata(current: dict[str, str], update: dict[str, Any] | str | None) -> dict[str, str]:
    """Stripe's update semantics: keys merge, an empty value unsets a key, and an empty
    string for the whole field clears all metadata."""
    if update is None:
        return current
    if isinstance(update, str):
        return {}
    merged = dict(current)
    for key, value in update.items():
        if value in (None, ""):
            merged.pop(key, None)
        else:
            merged[key] = str(value)
    if len(merged) > METADATA_MAX_KEYS:
        raise InvalidRequest(
            f"Metadata can have at most {METADATA_MAX_KEYS} keys.", param="metadata"
        )
    return merged
