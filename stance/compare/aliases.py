"""The user's alias file: canonical name → variants, for parties and topics.

It overrides every rule and the model: a listed variant is always shown under its canonical
name, and two canonical names from the file are never merged. Format (YAML or JSON)::

    parties:
      Russia: [Moscow, the Kremlin]
      Donald Trump: [Trump, US President-elect]
    topics:
      European troops in Ukraine: [European peacekeepers, ceasefire monitoring force]

A mapping without ``parties``/``topics`` sections applies to both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError
from .names import name_key
from .topics import topic_key


@dataclass(frozen=True)
class Aliases:
    """Canonical name → variants, per kind."""

    parties: dict[str, list[str]] = field(default_factory=dict)
    topics: dict[str, list[str]] = field(default_factory=dict)

    def party_pins(self) -> dict[str, str]:
        """Normalised party name → canonical (each canonical maps to itself too)."""
        return _pins(self.parties, lambda s: name_key(s).key, "party")

    def topic_pins(self) -> dict[str, str]:
        """Normalised topic → canonical."""
        return _pins(self.topics, topic_key, "topic")


def _pins(table: dict[str, list[str]], key: Any, kind: str) -> dict[str, str]:
    pins: dict[str, str] = {}
    for canonical, variants in table.items():
        for variant in [canonical, *variants]:
            k = key(variant)
            if not k:
                continue
            if pins.get(k, canonical) != canonical:
                raise ConfigError(
                    f"alias file: {kind} {variant!r} is listed under both "
                    f"{pins[k]!r} and {canonical!r}"
                )
            pins[k] = canonical
    return pins


def _section(raw: Any, origin: str, name: str) -> dict[str, list[str]]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{origin}: {name} must be a mapping of canonical name -> [variants]")
    out: dict[str, list[str]] = {}
    for canonical, variants in raw.items():
        if isinstance(variants, str):
            variants = [variants]
        if variants is None:
            variants = []
        if not isinstance(canonical, str) or not canonical.strip():
            raise ConfigError(f"{origin}: canonical names must be non-empty strings")
        if not isinstance(variants, list) or not all(isinstance(v, str) for v in variants):
            raise ConfigError(f"{origin}: {canonical!r} must map to a list of strings")
        out[canonical.strip()] = [v.strip() for v in variants if v.strip()]
    return out


def parse_aliases(raw: Any, origin: str = "aliases") -> Aliases:
    """Build :class:`Aliases` from a loaded mapping.

    Raises:
        ConfigError: Not a mapping, or a variant listed under two canonical names.
    """
    if raw is None:
        return Aliases()
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{origin}: expected a mapping (parties: ..., topics: ...)")
    if raw and set(raw) <= {"parties", "topics"}:
        aliases = Aliases(
            parties=_section(raw.get("parties"), origin, "parties"),
            topics=_section(raw.get("topics"), origin, "topics"),
        )
    else:
        flat = _section(raw, origin, "the alias table")
        aliases = Aliases(parties=flat, topics=dict(flat))
    aliases.party_pins()  # fail now, naming the clash, rather than mid-comparison
    aliases.topic_pins()
    return aliases


def load_aliases(path: str | Path) -> Aliases:
    """Read an alias file (YAML or JSON).

    Raises:
        ConfigError: The file cannot be read or parsed, or is not in the format above.
    """
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read alias file: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: alias file is not valid YAML/JSON: {exc}") from exc
    return parse_aliases(raw, str(path))


def coerce_aliases(value: Aliases | Mapping[str, Any] | str | Path | None) -> Aliases:
    """Accept an :class:`Aliases`, a mapping in the file's format, or a path to the file."""
    if value is None:
        return Aliases()
    if isinstance(value, Aliases):
        return value
    if isinstance(value, (str, Path)):
        return load_aliases(value)
    return parse_aliases(value)
