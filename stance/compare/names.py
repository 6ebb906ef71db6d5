"""Deterministic name normalisation for parties: case, accents, punctuation, titles, initials.

A name is reduced in stages so a merge can say which stage made two names equal:
``case`` (case, accents, punctuation, a leading "the"), ``honorific`` (leading titles such
as "President" or "Mr" dropped), ``initials`` (single-letter middle initials dropped).
Country metonyms ("Moscow", "the Kremlin" → Russia) come from ``metonyms.yaml``, an
editable data file shipped in this package.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError

# Words that precede a person's name without being part of it. Stripped only from the
# front, only while a name remains, and only for people (an organisation called "Foreign
# Ministry" keeps its words).
TITLE_WORDS = frozenset(
    """
    mr mrs ms miss mx dr prof professor sir dame lord lady rev reverend fr father sheikh
    president vice prime minister premier chancellor secretary general gen senator sen
    representative rep congressman congresswoman governor gov mayor king queen prince
    princess pope ambassador foreign defence defense deputy interior finance trade state
    spokesman spokeswoman spokesperson chairman chairwoman chair ceo judge justice admiral
    adm colonel col lieutenant lt captain capt major commissioner commander elect designate
    former acting chief
    """.split()
)

# A last word that marks an institution: "State Department" must not lose "State" and then
# merge with "Defense Department".
ORG_WORDS = frozenset(
    """
    department ministry party office council committee agency commission court government
    administration army forces force navy bank union service services house parliament
    assembly senate congress institute university foundation group alliance organisation
    organization association federation league front movement coalition
    """.split()
)

_APOSTROPHES = re.compile(r"['’‘`´]")
_NON_WORD = re.compile(r"[\W_]+")


def fold(text: str) -> str:
    """NFKC, accents removed (letters of every script kept), case-folded."""
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def tokens(text: str) -> list[str]:
    """Folded word tokens; apostrophes and full stops join ("U.S." → "us", "O'Neil" → "oneil")."""
    folded = _APOSTROPHES.sub("", fold(text)).replace(".", "")
    return _NON_WORD.sub(" ", folded).split()


@dataclass(frozen=True)
class NameKey:
    """A name at each normalisation stage; ``key`` is the final one used for matching."""

    folded: str
    untitled: str
    key: str

    @property
    def parts(self) -> tuple[str, ...]:
        return tuple(self.key.split())


def name_key(name: str, *, person_like: bool = True) -> NameKey:
    """Normalise a party name.

    Args:
        name: The name as written.
        person_like: Strip leading titles and middle initials (people, or parties of
            unknown type); organisations, countries and groups keep all their words.

    Returns:
        The name at each stage. An empty name gives empty keys.
    """
    toks = tokens(name)
    if len(toks) > 1 and toks[0] == "the":
        toks = toks[1:]
    folded = " ".join(toks)
    person_like = person_like and bool(toks) and toks[-1] not in ORG_WORDS
    if person_like:
        while len(toks) > 1 and toks[0] in TITLE_WORDS:
            toks = toks[1:]
    untitled = " ".join(toks)
    if person_like and len(toks) >= 3:
        # "Vladimir V. Putin" is "Vladimir Putin"; first and last tokens always stay.
        toks = [toks[0], *(t for t in toks[1:-1] if len(t) > 1), toks[-1]]
    return NameKey(folded=folded, untitled=untitled, key=" ".join(toks))


def stage_rule(a: str, b: str, *, person_like: bool = True) -> str:
    """The first normalisation stage at which two names become equal.

    Returns ``exact``, ``case``, ``honorific`` or ``initials``; ``""`` if they never do.
    """
    if a == b:
        return "exact"
    ka, kb = name_key(a, person_like=person_like), name_key(b, person_like=person_like)
    if ka.folded == kb.folded:
        return "case"
    if ka.untitled == kb.untitled:
        return "honorific"
    if ka.key == kb.key:
        return "initials"
    return ""


def _read_table(raw: Any, origin: str) -> dict[str, str]:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{origin}: expected a mapping of country -> [names]")
    table: dict[str, str] = {}
    for canonical, variants in raw.items():
        if not isinstance(canonical, str) or not isinstance(variants, list):
            raise ConfigError(f"{origin}: {canonical!r} must map to a list of names")
        for variant in [canonical, *variants]:
            if not isinstance(variant, str):
                raise ConfigError(f"{origin}: {variant!r} under {canonical!r} is not a string")
            key = name_key(variant, person_like=False).key
            if key:
                table[key] = canonical
    return table


@lru_cache(maxsize=1)
def _shipped_metonyms() -> dict[str, str]:
    text = resources.files(__package__).joinpath("metonyms.yaml").read_text(encoding="utf-8")
    return _read_table(yaml.safe_load(text), "stance/compare/metonyms.yaml")


def load_metonyms(path: str | Path | None = None) -> dict[str, str]:
    """The metonym table as normalised name → country.

    Args:
        path: A YAML file in the shipped format (country: [names]); the shipped table when None.

    Raises:
        ConfigError: The file cannot be read or is not in that format.
    """
    if path is None:
        return dict(_shipped_metonyms())
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read metonym table: {exc}") from exc
    return _read_table(raw, str(path))
