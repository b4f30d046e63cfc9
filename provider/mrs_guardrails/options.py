"""Policy config properties: each one's JSON schema and the way a policy reads it, declared together.

A property's default lives here once: the schema publishes it (``pulumi policy`` shows it) and
``read`` falls back to it, so a policy behaves the same whether or not the engine filled the default
in. Values arrive as JSON through a protobuf Struct, where every number is a float.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pulumi_policy import PolicyConfigSchema


class OptionError(ValueError):
    """A policy config value the policy cannot use; the message names the policy and the property."""


@dataclass(frozen=True)
class StringList:
    """A list of strings, such as stack names."""

    key: str
    description: str
    default: tuple[str, ...]

    def schema(self) -> dict[str, Any]:
        return {
            "type": "array",
            "items": {"type": "string"},
            "default": list(self.default),
            "description": self.description,
        }

    def read(self, config: Mapping[str, Any]) -> tuple[str, ...]:
        value = config.get(self.key, self.default)
        if isinstance(value, str) or not isinstance(value, Sequence):
            raise OptionError(f"{self.key} must be a list of strings, got {value!r}")
        return tuple(str(item) for item in value)


@dataclass(frozen=True)
class ListsByStack:
    """An object from stack name to a list of strings, such as the clusters each stack may target."""

    key: str
    description: str

    def schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
            "default": {},
            "description": self.description,
        }

    def read(self, config: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
        value = config.get(self.key, {})
        if not isinstance(value, Mapping):
            raise OptionError(f"{self.key} must be an object of stack name -> list of strings, got {value!r}")
        lists: dict[str, tuple[str, ...]] = {}
        for stack, items in value.items():
            if isinstance(items, str) or not isinstance(items, Sequence):
                raise OptionError(f"{self.key}.{stack} must be a list of strings, got {items!r}")
            lists[str(stack)] = tuple(str(item) for item in items)
        return lists


@dataclass(frozen=True)
class Pattern:
    """A regular expression that a whole value must match."""

    key: str
    description: str
    default: str

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "default": self.default, "description": self.description}

    def read(self, config: Mapping[str, Any]) -> re.Pattern[str]:
        value = config.get(self.key, self.default)
        try:
            return re.compile(str(value))
        except re.error as exc:
            raise OptionError(f"{self.key} is not a valid regular expression ({exc}): {value!r}") from None


@dataclass(frozen=True)
class Count:
    """A whole number of at least one."""

    key: str
    description: str
    default: int

    def schema(self) -> dict[str, Any]:
        return {"type": "integer", "minimum": 1, "default": self.default, "description": self.description}

    def read(self, config: Mapping[str, Any]) -> int:
        value = config.get(self.key, self.default)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 1 or value != int(value):
            raise OptionError(f"{self.key} must be a whole number of at least 1, got {value!r}")
        return int(value)


Option = StringList | ListsByStack | Pattern | Count


def config_schema(*options: Option) -> PolicyConfigSchema | None:
    """The schema a policy publishes; a policy without properties still takes an enforcementLevel."""
    if not options:
        return None
    return PolicyConfigSchema(properties={option.key: option.schema() for option in options})
