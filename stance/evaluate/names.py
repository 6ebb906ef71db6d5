"""Party-name normalisation and alias-aware party matching (DESIGN.md §7).

A predicted party matches a gold party when, after normalisation, its name equals the gold
name or one of the gold aliases, when the predicted and gold alias sets intersect, or when
the two names share a surname that no other gold party in the article has. Each rule is
tried in that order, so the explanation names the strongest one that applied.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

# Honorifics never belong to the name: "Mr. Macron" is "macron".
_HONORIFICS = frozenset(
    "mr mrs ms miss mx dr prof professor sir dame lord lady rev reverend hon honourable".split()
)
# Office words precede a name without being part of it, but also start organisation names
# ("Defense Department", "Finance Ministry"), so they are only stripped at the front while
# two tokens remain, and a one-token remainder never merges two organisations.
_OFFICES = frozenset(
    """
    president elect vice prime minister deputy foreign defence defense finance interior
    chancellor secretary general senator sen rep representative congressman congresswoman
    governor gov mayor king queen prince princess pope ambassador envoy judge justice chief
    ceo chairman chairwoman chair spokesperson spokesman spokeswoman leader premier former
    acting interim commissioner director head speaker colonel col lieutenant lt captain capt
    sergeant sgt admiral marshal
    """.split()
)
TITLES = _HONORIFICS | _OFFICES
_APOSTROPHES = "'\u2019\u02bc`"
_POSSESSIVE = re.compile(rf"[{_APOSTROPHES}]s\b|(?<=s)[{_APOSTROPHES}](?=\s|$)")
_NON_WORD = re.compile(r"[^\w]+")

MatchKind = Literal["name", "alias", "aliases", "surname"]


def _fold(text: str) -> str:
    """Lowercase and drop accents, so "Zelenskyy" spellings differ only in letters."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def name_tokens(name: str) -> list[str]:
    """Tokens of a normalised party name: folded, possessives and punctuation removed.

    A leading "the" and honorifics go ("Mr. Macron" -> ``["macron"]``); so do leading
    office titles ("Deputy Foreign Minister Sergey Ryabkov" -> ``["sergey", "ryabkov"]``)
    and a qualifier directly before a title ("French President ..."), but only while two
    tokens remain, so organisation names survive.
    """
    folded = _POSSESSIVE.sub("", _fold(name))
    tokens = [t for t in _NON_WORD.sub(" ", folded).replace("_", " ").split() if t]
    while len(tokens) > 1 and (tokens[0] == "the" or tokens[0] in _HONORIFICS):
        tokens = tokens[1:]
    while len(tokens) > 2 and (tokens[0] in TITLES or tokens[1] in TITLES):
        tokens = tokens[1:]
    return tokens


def normalise_name(name: str) -> str:
    """The comparison key of a party name (see :func:`name_tokens`)."""
    return " ".join(name_tokens(name))


@dataclass(frozen=True)
class GoldParty:
    """A gold party as the matcher sees it."""

    name: str
    aliases: tuple[str, ...] = ()
    mentioned_only: bool = False

    @property
    def keys(self) -> frozenset[str]:
        return frozenset(k for k in (normalise_name(n) for n in (self.name, *self.aliases)) if k)


@dataclass(frozen=True)
class PartyMatch:
    """Which gold party (index into the list given to :func:`match_party`) and why."""

    gold: int
    kind: MatchKind


def _core(tokens: Sequence[str]) -> set[str]:
    core = {t for t in tokens if t not in TITLES}
    return core or set(tokens)


def _surname_compatible(a: Sequence[str], b: Sequence[str]) -> bool:
    # Same last token, and apart from titles the shorter name adds nothing the longer
    # lacks: "trump" / "chancellor vogt" agree with "donald trump" / "lena vogt";
    # "british government" and "russian government" do not.
    if not a or not b or a[-1] != b[-1]:
        return False
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    return _core(short) <= _core(long_)


def match_party(name: str, aliases: Iterable[str], gold: Sequence[GoldParty]) -> PartyMatch | None:
    """Find the gold party a predicted party refers to.

    Args:
        name: The predicted party's name.
        aliases: Other names the prediction gives for it.
        gold: Every gold party of the article (position holders and ``mentioned_only``);
            surname matching is only used when exactly one of them has the surname.

    Returns:
        The best match (exact name, then gold alias, then alias intersection, then
        unambiguous surname; ties go to the lowest gold index), or ``None``.
    """
    key = normalise_name(name)
    pred_keys = {k for k in (normalise_name(a) for a in aliases) if k} | ({key} if key else set())
    if not pred_keys:
        return None
    for i, g in enumerate(gold):
        if key and key == normalise_name(g.name):
            return PartyMatch(i, "name")
    for i, g in enumerate(gold):
        if key and key in g.keys:
            return PartyMatch(i, "alias")
    for i, g in enumerate(gold):
        if pred_keys & g.keys:
            return PartyMatch(i, "aliases")
    pred_tokens = [k.split() for k in sorted(pred_keys)]
    hits = [
        i
        for i, g in enumerate(gold)
        if any(_surname_compatible(p, k.split()) for p in pred_tokens for k in sorted(g.keys))
    ]
    if len(hits) == 1:
        return PartyMatch(hits[0], "surname")
    return None
