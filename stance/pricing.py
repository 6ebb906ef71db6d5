"""Cost estimates from a small, editable price table.

The shipped table is ``stance/prices.yaml`` (US dollars per million input and output
tokens). A file named by ``STANCE_PRICES`` or passed explicitly (``stance run --prices``)
is merged over it, entry by entry, in the same shape::

    models:
      my-model: {input_per_mtok: 0.20, output_per_mtok: 0.80}

(a bare mapping of model names works too). A model that is not in the table gets no price:
:meth:`PriceTable.cost` returns ``None`` and run.json shows tokens only. stance never
guesses a price.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError
from .schema import Usage

PRICES_ENV = "STANCE_PRICES"
SHIPPED_PRICES = Path(__file__).with_name("prices.yaml")
# A dated snapshot of a listed model: gpt-4o-mini-2024-07-18, o3-mini-2025-01-31...
_SNAPSHOT = re.compile(r"^(?P<base>.+?)-\d{4}-\d{2}-\d{2}$")
# Backends that bill nothing per token.
FREE_BACKENDS = frozenset({"baseline", "local"})


@dataclass(frozen=True)
class Price:
    """List price of one model, USD per million tokens."""

    input_per_mtok: float
    output_per_mtok: float

    def cost(self, usage: Usage) -> float:
        """Dollars for ``usage`` at this price."""
        dollars = (
            usage.prompt_tokens * self.input_per_mtok
            + usage.completion_tokens * self.output_per_mtok
        ) / 1_000_000
        return round(dollars, 6)


@dataclass
class PriceTable:
    """Model name → :class:`Price`, plus where the prices came from."""

    models: dict[str, Price] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)

    def lookup(self, model: str | None) -> Price | None:
        """The price of ``model`` (exact name, or a dated snapshot of a listed one)."""
        if not model:
            return None
        if model in self.models:
            return self.models[model]
        m = _SNAPSHOT.match(model)
        if m and m.group("base") in self.models:
            return self.models[m.group("base")]
        return None

    def cost(self, model: str | None, usage: Usage, *, backend: str | None = None) -> float | None:
        """Estimated dollars for ``usage`` of ``model``; ``None`` when the price is unknown."""
        if backend in FREE_BACKENDS:
            return 0.0
        price = self.lookup(model)
        return None if price is None else price.cost(usage)

    def merged(self, other: PriceTable) -> PriceTable:
        return PriceTable({**self.models, **other.models}, [*self.sources, *other.sources])


def _parse_price(name: str, entry: Any, origin: str) -> Price:
    if not isinstance(entry, dict):
        raise ConfigError(f"{origin}: price of '{name}' must be a mapping")
    try:
        price = Price(
            input_per_mtok=float(entry["input_per_mtok"]),
            output_per_mtok=float(entry["output_per_mtok"]),
        )
    except KeyError as exc:
        raise ConfigError(f"{origin}: price of '{name}' lacks {exc.args[0]}") from exc
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{origin}: price of '{name}' is not a number") from exc
    if price.input_per_mtok < 0 or price.output_per_mtok < 0:
        raise ConfigError(f"{origin}: price of '{name}' is negative")
    return price


def parse_prices(data: Any, origin: str) -> PriceTable:
    """A :class:`PriceTable` from already-parsed YAML/JSON data."""
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: a price table must be a mapping")
    if "models" in data:
        models = data["models"]
    else:  # a bare mapping of model names, perhaps with the table's own notes beside them
        models = {k: v for k, v in data.items() if k not in ("as_of", "source", "currency")}
    if not isinstance(models, dict):
        raise ConfigError(f"{origin}: 'models' must be a mapping of model name to price")
    table = {str(name): _parse_price(str(name), entry, origin) for name, entry in models.items()}
    return PriceTable(table, [origin])


def read_prices(path: str | Path) -> PriceTable:
    """Read a YAML or JSON price file.

    Raises:
        ConfigError: unreadable file or malformed entries.
    """
    p = Path(path)
    try:
        raw = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read the price file ({exc.strerror or exc})") from exc
    try:
        data = json.loads(raw) if p.suffix.lower() == ".json" else yaml.safe_load(raw)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{p}: not a valid price file ({exc.__class__.__name__})") from exc
    return parse_prices(data, str(p))


def load_prices(override: str | Path | None = None) -> PriceTable:
    """The shipped table, with ``override`` (else ``$STANCE_PRICES``) merged over it."""
    table = read_prices(SHIPPED_PRICES)
    extra = override or os.environ.get(PRICES_ENV) or None
    if extra:
        table = table.merged(read_prices(extra))
    return table
