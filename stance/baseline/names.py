"""Who is speaking: mentions of parties in a sentence, and the article's book of parties.

A *mention* is a span of tokens next to a speech verb: ``Deputy Foreign Minister Sergey
Ryabkov`` (a person with a role), ``the Kremlin`` (an organisation), ``Moscow`` (a country
by metonym), ``he`` (a pronoun), ``unnamed aides`` (an anonymous source), ``the Journal``
(an outlet). The :class:`PartyBook` turns mentions into canonical parties: surnames map to
the full name seen earlier, pronouns to the last person who spoke, a bare role ("the
Russian minister") to the person who holds it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from ..schema import PartyType
from .lexicon import (
    ANON_NOUNS,
    CAPITALS,
    COUNTRIES,
    DEMONYMS,
    HONORIFICS,
    INSTITUTION_NOUNS,
    MEDIA_WORDS,
    NAME_PARTICLES,
    NATIONALITIES,
    ORG_WORDS,
    PREPOSITIONS,
    PRONOUNS_GROUP,
    PRONOUNS_OTHER,
    PRONOUNS_PERSON,
    REGIONS,
    ROLE_CONNECTORS,
    SPOKES_NOUNS,
    STOP_CAPS,
    TITLE_WORDS,
)
from .words import Tok, strip_possessive

MentionKind = Literal["person", "country", "organisation", "outlet", "role", "anon", "pronoun"]

_MAX_SPAN = 10  # tokens; a longer capitalised run is a headline, not a name
_PRONOUNS = PRONOUNS_PERSON | PRONOUNS_GROUP | PRONOUNS_OTHER
_PRONOUN_REACH = 3  # sentences back that a pronoun may point
_ENTITY_KINDS: tuple[MentionKind, ...] = ("person", "country", "organisation")
# Words that are prepositions elsewhere but here open a clause with its own subject.
_CLAUSE_OPENERS = frozenset("after before since until as because while when".split())
_OPENERS = frozenset("but and however then meanwhile still yet so".split())
_HYPOTHETICAL = frozenset("if whether unless".split())
_LOWER_WORD = re.compile(r"(?<![\w’'-])[a-z][a-z’'-]+")


@dataclass(frozen=True, slots=True)
class Mention:
    """A party-like span in one sentence; offsets are relative to the sentence text."""

    kind: MentionKind
    name: str
    role: str | None
    start: int
    end: int
    also: tuple[Mention, ...] = ()  # co-subjects: "Britain and France said"


def _low_key(t: Tok) -> str:
    return strip_possessive(t.low)


def is_nameish(t: Tok) -> bool:
    """A token that can be part of a person's name: capitalised, not a title or a place."""
    core = t.core
    if not core[:1].isupper():
        return False
    if len(core) == 2 and core[1] == ".":  # an initial: "John F. Kennedy"
        return True
    if not any(c.islower() for c in core) or not any(c.isalpha() for c in core):
        return False
    low = _low_key(t)
    return not (
        low in TITLE_WORDS
        or low in NATIONALITIES
        or low in ORG_WORDS
        or low in MEDIA_WORDS
        or low in COUNTRIES
        or low in CAPITALS
        or low in REGIONS
        or low in STOP_CAPS
        or low in ANON_NOUNS
        or low in HONORIFICS
    )


def _spanable(t: Tok) -> bool:
    """A token that may sit inside a name, role or organisation span."""
    if t.acronym:
        return True
    low = t.low
    if t.capitalised:
        return low not in STOP_CAPS or low == "the"
    return (
        low in TITLE_WORDS
        or low in NATIONALITIES
        or low in ROLE_CONNECTORS
        or low in NAME_PARTICLES
    )


def _trim(toks: list[Tok], i: int, k: int) -> tuple[int, int, bool]:
    """Drop connectors and sentence words from both ends; report a leading "the"."""
    det = False
    while i <= k and (
        toks[i].low in ROLE_CONNECTORS
        or toks[i].low in NAME_PARTICLES
        or (toks[i].low in STOP_CAPS and not toks[i].acronym)
    ):
        det = det or toks[i].low == "the"
        i += 1
    while k >= i and (toks[k].low in ROLE_CONNECTORS or toks[k].low in NAME_PARTICLES):
        k -= 1
    return i, k, det


def span_back(
    toks: list[Tok], k: int, *, allow_trail: bool = False
) -> tuple[int, int, bool] | None:
    """The name/role span that ends at token ``k``, read leftwards."""
    if k < 0 or not _spanable(toks[k]) or (toks[k].trail and not allow_trail):
        return None
    i = k
    while i - 1 >= 0 and k - i < _MAX_SPAN:
        prev = toks[i - 1]
        if prev.trail or toks[i].lead or not _spanable(prev):
            break
        i -= 1
    i, k2, det = _trim(toks, i, k)
    if i > k2:
        return None
    return i, k2, det


def span_forward(toks: list[Tok], j: int) -> tuple[int, int, bool] | None:
    """The name/role span that starts at token ``j``, read rightwards."""
    if j >= len(toks) or not _spanable(toks[j]):
        return None
    k = j
    while not toks[k].trail and k + 1 < len(toks) and k - j < _MAX_SPAN:
        nxt = toks[k + 1]
        if nxt.lead or not _spanable(nxt):
            break
        k += 1
    i, k2, det = _trim(toks, j, k)
    if i > k2:
        return None
    return i, k2, det


def _text(text: str, toks: list[Tok], i: int, k: int) -> str:
    return text[toks[i].start : toks[k].end]


def classify(text: str, toks: list[Tok], i: int, k: int, det: bool) -> Mention | None:
    """Decide what the span ``toks[i..k]`` names (person, country, organisation ...)."""
    last = toks[k]
    # A trailing name run (with particles inside it) is a person's name.
    n = k
    while n >= i and (
        is_nameish(toks[n])
        or (toks[n].low in NAME_PARTICLES and n < k and n - 1 >= i and is_nameish(toks[n - 1]))
    ):
        n -= 1
    if n < k and k - n <= 4 and not toks[n + 1].possessive:
        r = n
        # The role reaches back over title words only, not over another person's name.
        while r >= i and not is_nameish(toks[r]):
            r -= 1
        ri, rk = r + 1, n
        while (
            ri <= rk
            and not toks[ri].acronym
            and (toks[ri].low in ROLE_CONNECTORS or toks[ri].low in STOP_CAPS)
        ):
            ri += 1
        while rk >= ri and toks[rk].low in HONORIFICS:
            rk -= 1
        role = _text(text, toks, ri, rk) if ri <= rk else None
        start = toks[ri].start if ri <= rk else toks[n + 1].start
        name = strip_possessive(_text(text, toks, n + 1, k))
        return Mention("person", name, role, start, last.end)
    surface = _text(text, toks, i, k)
    key = " ".join(_low_key(t) for t in toks[i : k + 1])
    start, end = toks[i].start, last.end
    if key in COUNTRIES or key in CAPITALS:
        return Mention("country", strip_possessive(surface), None, start, end)
    if key in REGIONS or all(t.low in NATIONALITIES for t in toks[i : k + 1]):
        return None
    if any(t.capitalised and _low_key(t) in MEDIA_WORDS for t in toks[i : k + 1]):
        return Mention("outlet", ("the " if det else "") + surface, None, start, end)
    lk = _low_key(last)
    if lk in ANON_NOUNS:
        return Mention("anon", surface, None, start, end)
    first = toks[i]
    if (
        not first.capitalised
        and first.low in TITLE_WORDS
        and any(t.low in ("of", "at", "for") for t in toks[i : k + 1])
    ):
        # "leader of the opposition Homeland Alliance": a description, not a name.
        return Mention("role", surface, surface, start, end)
    if lk in TITLE_WORDS and not (last.capitalised and lk in ORG_WORDS):
        # A bare role ("the Russian minister", "a Kremlin spokesman").
        return Mention("role", surface, surface, start, end)
    if any(t.capitalised for t in toks[i : k + 1]):
        return Mention("organisation", strip_possessive(surface), None, start, end)
    return None


def _anon_back(text: str, toks: list[Tok], k: int) -> Mention:
    """An anonymous-source phrase ending at ``k``: "two officials", "The Journal's sources"."""
    i = k
    while i - 1 >= 0 and k - i < 5:
        prev = toks[i - 1]
        if prev.trail or toks[i].lead or prev.low in PREPOSITIONS or prev.low in ("and", "that"):
            break
        if not prev.capitalised and prev.low in ("said", "says", "but", "while", "as"):
            break
        i -= 1
    return Mention("anon", _text(text, toks, i, k), None, toks[i].start, toks[k].end)


def _guard_ok(toks: list[Tok], i: int) -> bool:
    """A subject is not the object of a preposition ("guarantees for Kyiv signalled"),
    nor the subject of a hypothetical ("if the Americans offered")."""
    if i == 0:
        return True
    prev = toks[i - 1]
    if prev.low == "the" and i >= 2 and not prev.trail:
        prev = toks[i - 2]
    if prev.trail:
        return True
    if prev.low in _HYPOTHETICAL:
        return False
    if prev.low in _CLAUSE_OPENERS:
        return True  # "days after Britain and France said"
    return not (prev.low in PREPOSITIONS or prev.low in ("a", "an") or prev.possessive)


def _spokes_for(toks: list[Tok], i: int) -> bool:
    """Whether the speaker is "a spokesman for" the named party ("... Mayor Carvalho said")."""
    return i >= 2 and toks[i - 1].low == "for" and _low_key(toks[i - 2]) in SPOKES_NOUNS


def read_left(text: str, toks: list[Tok], k: int) -> Mention | None:
    """The speaker whose mention ends at token ``k`` (the token before the verb)."""
    if k < 0:
        return None
    t = toks[k]
    if t.trail:
        return _read_left_comma(text, toks, k) if t.trail.startswith(",") else None
    low = t.low
    if low in _PRONOUNS and not t.lead:
        return Mention("pronoun", low, None, t.start, t.end)
    if low in ("who", "which") and k >= 1 and toks[k - 1].trail.startswith(","):
        sp = span_back(toks, k - 1, allow_trail=True)
        if sp and _guard_ok(toks, sp[0]):
            m = classify(text, toks, *sp)
            if m and m.kind in ("person", "country", "organisation"):
                return m
        return None
    if low in SPOKES_NOUNS and k >= 1 and toks[k - 1].possessive and not toks[k - 1].trail:
        sp = span_back(toks, k - 1)
        if sp and _guard_ok(toks, sp[0]):
            m = classify(text, toks, *sp)
            if m and m.kind in ("person", "country", "organisation"):
                return m
        return None
    if _low_key(t) in ANON_NOUNS:
        return _anon_back(text, toks, k)
    sp = span_back(toks, k)
    if sp is None:
        return None
    if _spokes_for(toks, sp[0] - (1 if sp[2] else 0)):
        m = classify(text, toks, *sp)
        return m if m is not None and m.kind in _ENTITY_KINDS else None
    m = _coordinated(text, toks, *sp) or classify(text, toks, *sp)
    if m is None:
        return None
    if m.kind in ("role", "anon") and sp[0] > 0 and toks[sp[0] - 1].low in ("a", "an"):
        return m  # "a Kremlin spokesman told reporters"
    return m if _guard_ok(toks, sp[0]) else None


def _coordinated(text: str, toks: list[Tok], i: int, k: int, det: bool) -> Mention | None:
    """Coordinated subjects: "Britain and France" -> France, also Britain, or None."""
    cuts = [x for x in range(i + 1, k) if toks[x].low == "and"]
    if not cuts:
        return None
    parts: list[Mention] = []
    lo = i
    for c in cuts + [k + 1]:
        sp = _trim(toks, lo, c - 1)
        if sp[0] > sp[1]:
            return None
        m = classify(text, toks, *sp)
        if m is None or m.kind not in _ENTITY_KINDS:
            return None
        parts.append(m)
        lo = c + 1
    # "France, Italy and Spain voted": earlier list items end in commas.
    while i >= 2 and toks[i - 1].trail == "," and len(parts) < 8:
        item = span_back(toks, i - 1, allow_trail=True)
        if item is None or item[1] != i - 1:
            break
        m = classify(text, toks, *item)
        if m is None or m.kind != parts[0].kind:
            break
        parts.insert(0, m)
        i = item[0]
    last = parts[-1]
    return Mention(last.kind, last.name, last.role, last.start, last.end, tuple(parts[:-1]))


def _read_left_comma(text: str, toks: list[Tok], k: int) -> Mention | None:
    """A speaker before a comma and the verb.

    Either the comma closes the name itself ("Her colleague, Deputy Foreign Minister
    Sergey Ryabkov, said") or an appositive after it ("Julien Arnaud, the armed forces
    ministry spokesman, said"; "Marc Delorme, who leads ..., a French union, said").
    """
    sp = span_back(toks, k, allow_trail=True)
    b = (sp[0] - 1 if sp[2] and sp[0] > 0 else sp[0]) if sp is not None else 0
    if sp is not None and (b == 0 or toks[b - 1].trail):
        m = classify(text, toks, *sp)
        if m is not None and m.kind in _ENTITY_KINDS + ("outlet",):
            return m
    for j in range(k - 1, max(-1, k - 40), -1):
        tj = toks[j]
        if tj.trail[:1] in (".", ";", ":", "!", "?") or tj.trail.endswith(("”", '"')):
            return None
        if not tj.trail.startswith(","):
            continue
        sp = span_back(toks, j, allow_trail=True)
        if sp is None or not _guard_ok(toks, sp[0]):
            continue
        m = classify(text, toks, *sp)
        if m is None or m.kind not in _ENTITY_KINDS:
            continue
        b = sp[0] - 1 if sp[2] and sp[0] > 0 else sp[0]  # before a leading "the"
        if b > 0 and not toks[b - 1].trail and toks[b - 1].low not in _CLAUSE_OPENERS:
            continue  # the name must start its clause
        x = next((y for y in range(j + 1, k + 1) if toks[y].trail.startswith(",")), k)
        appos = text[toks[j + 1].start : toks[x].end].strip(" ,")
        words = appos.split()
        if m.kind == "person" and not m.role and words and len(words) <= 14:
            head = words[0].lower()
            if head in ("the", "a", "an"):
                return Mention(m.kind, m.name, " ".join(words[1:]), m.start, m.end)
            if head in TITLE_WORDS or head in NATIONALITIES:
                return Mention(m.kind, m.name, appos, m.start, m.end)
        return m
    return None


def read_right(text: str, toks: list[Tok], j: int) -> Mention | None:
    """The speaker named after an inverted verb: ``"...," said Mark Rutte``."""
    if j >= len(toks):
        return None
    t = toks[j]
    if t.low in _PRONOUNS:
        return Mention("pronoun", t.low, None, t.start, t.end)
    phrase = read_phrase(text, toks, j)
    if phrase is not None:
        return phrase
    return None


def read_phrase(text: str, toks: list[Tok], j: int, limit: int = 10) -> Mention | None:
    """A source phrase after "according to" / "citing": named party, outlet or anonymous."""
    if j >= len(toks):
        return None
    sp = span_forward(toks, j)
    if sp is not None:
        # "Ruud Kamphuis of the opposition Freedom Bloc": the name ends before "of".
        e = sp[0]
        while e <= sp[1] and is_nameish(toks[e]):
            e += 1
        if sp[0] < e <= sp[1] and toks[e].low in ("of", "from", "at"):
            sp = (sp[0], e - 1, sp[2])
    if sp is not None and sp[0] == j + (1 if toks[j].low == "the" else 0):
        m = classify(text, toks, *sp)
        if m is not None and m.kind != "role":
            return m
    # Anonymous: read to the end of the phrase and look for a source noun.
    k = j
    while k < len(toks) and k - j < limit:
        if k > j and (toks[k].lead or toks[k].low in ("who", "that", "which")):
            k -= 1
            break
        if toks[k].trail:
            break
        k += 1
    k = min(k, len(toks) - 1)
    if any(_low_key(toks[x]) in ANON_NOUNS for x in range(j, k + 1)):
        return Mention("anon", _text(text, toks, j, k), None, toks[j].start, toks[k].end)
    if sp is not None:
        m = classify(text, toks, *sp)
        if m is not None and m.kind == "role":
            return m
    return None


# --------------------------------------------------------------------------- the party book


@dataclass
class PartyInfo:
    """A canonical party as the article names it."""

    name: str
    type: PartyType
    role: str | None = None
    aliases: list[str] = field(default_factory=list)

    def add_alias(self, alias: str) -> None:
        alias = alias.strip()
        if alias and alias != self.name and alias not in self.aliases:
            self.aliases.append(alias)


def _role_words(role: str) -> set[str]:
    return {
        w
        for w in (strip_possessive(x).lower().strip(",.") for x in role.split())
        if w and w not in ROLE_CONNECTORS and w not in ("a", "an", "her", "his", "its", "their")
    }


class PartyBook:
    """The parties of one article: canonical names, aliases, and who spoke last."""

    def __init__(self, text: str = "") -> None:
        # Words the article also writes in lower case are common words, not names, when
        # they are capitalised only because they start a sentence ("Discussions are ...").
        self._common = frozenset(_LOWER_WORD.findall(text[:200_000]))
        self.parties: dict[str, PartyInfo] = {}
        self._surnames: dict[str, str] = {}
        self._recent_people: list[str] = []
        self._last_person: tuple[str, int] | None = None
        self._subject_person: tuple[str, int] | None = None
        self._last_group: tuple[str, int] | None = None

    # -- registering names seen anywhere in the text

    def observe(self, text: str, toks: list[Tok], sent_index: int = 0) -> None:
        """Register every "Title First Last" person in a sentence, for later surname look-ups.

        A person who opens the sentence ("Gennady Orlov, a Duma member, went further.")
        is remembered as its subject: a following "he said" most likely means them.
        """
        first = 0
        while first < len(toks) and (
            toks[first].low in _OPENERS or (first == 0 and toks[first].acronym and toks[0].trail)
        ):
            first += 1
        sp = span_forward(toks, first) if first < len(toks) else None
        if sp is not None:
            m = classify(text, toks, sp[0], sp[1], sp[2])
            if m is None or m.kind != "person":
                n = sp[0]
                while n <= sp[1] and not is_nameish(toks[n]):
                    n += 1
                e = n
                while e + 1 <= sp[1] and is_nameish(toks[e + 1]):
                    e += 1
                m = classify(text, toks, sp[0], e, sp[2]) if n <= sp[1] else None
            if m is not None and m.kind == "person":
                key = self.resolve(m, sent_index)
                if key is not None and self.parties[key].type == "person":
                    self._subject_person = (key, sent_index)
        j = 0
        while j < len(toks):
            if not toks[j].capitalised:
                j += 1  # names start with a capital; skip the rest cheaply
                continue
            sp = span_forward(toks, j)
            if sp is None:
                j += 1
                continue
            i, k, _ = sp
            # A span may hold several people ("President X and leader Y"): split at name runs.
            n = i
            while n <= k:
                if is_nameish(toks[n]):
                    e = n
                    while e + 1 <= k and (
                        is_nameish(toks[e + 1])
                        or (
                            toks[e + 1].low in NAME_PARTICLES
                            and e + 2 <= k
                            and is_nameish(toks[e + 2])
                        )
                    ):
                        e += 1
                    if e > n and e - n < 4:
                        m = classify(text, toks, i, e, False)
                        if m is not None and m.kind == "person" and " " in m.name:
                            self._register_person(m.name, m.role)
                    i = e + 1
                    n = e + 1
                else:
                    n += 1
            j = k + 1

    def _register_person(self, name: str, role: str | None) -> str:
        key = name
        info = self.parties.get(key)
        if info is None:
            info = PartyInfo(name=name, type="person", role=role)
            self.parties[key] = info
        elif role and not info.role:
            info.role = role
        surname = strip_possessive(name.split()[-1]).lower()
        self._surnames[surname] = key
        if key in self._recent_people:
            self._recent_people.remove(key)
        self._recent_people.append(key)
        return key

    # -- resolving a speaker mention

    def resolve(self, m: Mention, sent_index: int) -> str | None:
        """The canonical key of the party a mention refers to, or None (source, unknown)."""
        if m.kind == "pronoun":
            return self._resolve_pronoun(m.name, sent_index)
        if m.kind in ("outlet", "anon"):
            return None
        if m.kind == "role":
            return self._resolve_role(m.name)
        if m.start <= 1 and " " not in m.name and m.name.lower() in self._common:
            return None
        if m.kind == "person":
            parts = m.name.split()
            if len(parts) >= 2:
                return self._register_person(m.name, m.role)
            low = parts[0].lower() if parts else ""
            if low in self._surnames:
                key = self._surnames[low]
                self.parties[key].add_alias(m.name)
                return key
            info = self.parties.get(m.name)
            if info is None:
                # A lone unknown capitalised word: a person only if a title says so.
                typ: PartyType = "person" if m.role else "organisation"
                info = PartyInfo(name=m.name, type=typ, role=m.role)
                self.parties[m.name] = info
            return m.name
        name = m.name
        if name.lower().startswith("the "):
            name = name[4:]
        if not name:
            return None
        info = self.parties.get(name)
        if info is None:
            typ = "country" if m.kind == "country" else "organisation"
            info = PartyInfo(name=name, type=typ)
            self.parties[name] = info
        if m.name != name:
            info.add_alias(m.name)
        return name

    def _resolve_pronoun(self, pronoun: str, sent_index: int) -> str | None:
        if pronoun in PRONOUNS_PERSON:
            last = self._last_person
            subj = self._subject_person
            if subj is not None and (last is None or subj[1] > last[1]):
                last = subj
        elif pronoun in PRONOUNS_GROUP:
            last = self._last_group
        else:
            return None
        if last is None or sent_index - last[1] > _PRONOUN_REACH:
            return None
        return last[0]

    def _resolve_role(self, role: str) -> str | None:
        words = _role_words(role)
        if not words:
            return None
        for key in reversed(self._recent_people):
            info = self.parties[key]
            if info.role and words <= _role_words(info.role):
                info.add_alias(role)
                return key
        return self._institution(role)

    def _institution(self, role: str) -> str | None:
        """A party behind a bare role: "Hungary's ambassador" -> Hungary; "a German
        government spokeswoman" -> Germany; "Russia's foreign ministry" -> itself;
        "a Kremlin spokesman" -> the Kremlin."""
        parts = role.split()
        while parts and parts[0].lower() in ("the", "a", "an"):
            parts = parts[1:]
        if len(parts) < 2:
            return None
        head = strip_possessive(parts[-1]).lower()
        if head not in INSTITUTION_NOUNS and head not in SPOKES_NOUNS:
            return None
        owner_raw = parts[0]
        owner = strip_possessive(owner_raw)
        low = owner.lower()
        country = DEMONYMS.get(low) or (owner if low in COUNTRIES else None) or CAPITALS.get(low)
        person_like = head in (
            "ambassador",
            "representative",
            "envoy",
            "spokesman",
            "spokeswoman",
            "spokesperson",
            "government",
            "cabinet",
            "administration",
            "presidency",
            "delegation",
        )
        surface = " ".join(parts)
        if country is not None:
            if person_like or low in DEMONYMS:
                key = self._entity(country, "country")
                self.parties[key].add_alias(surface)
                return key
            key = self._entity(surface, "organisation")
            self.parties[key].add_alias(country)
            return key
        if owner_raw[:1].isupper() and (
            low in ORG_WORDS or owner_raw.isupper() or owner_raw.endswith(("’s", "'s"))
        ):
            if person_like:
                return self._entity(owner, "organisation")
            return self._entity(surface, "organisation")
        return None

    def _entity(self, name: str, typ: PartyType) -> str:
        if name not in self.parties:
            self.parties[name] = PartyInfo(name=name, type=typ)
        return name

    def spoke(self, key: str, sent_index: int) -> None:
        """Record that ``key`` held a position in sentence ``sent_index`` (for pronouns)."""
        info = self.parties.get(key)
        if info is None:
            return
        if info.type == "person":
            self._last_person = (key, sent_index)
        else:
            self._last_group = (key, sent_index)


# --------------------------------------------------------------------------- transcripts

_LABEL = re.compile(
    r"(?P<label>[A-Z][A-Z’'.\- ]{0,40}?[A-Z.])(?:\s*\((?P<paren>[^)\n]{1,40})\))?:\s+"
)
_GENERIC_LABELS = frozenset(
    "presenter host anchor caller guest reporter correspondent interviewer moderator q a "
    "narrator voice speaker announcer listener newsreader".split()
)
_PRESENTER_LABELS = frozenset(
    "presenter host anchor interviewer moderator narrator reporter correspondent announcer "
    "newsreader".split()
)
_PRESENTER_INTRO = re.compile(
    r"(?:[Pp]resented by|[Hh]osted by|[Pp]resenter:|[Hh]ost:|[Cc]orrespondent(?: in [A-Z]\w+)?[:,]"
    r"|[Rr]eporter[:,])\s*(?P<name>[A-Z][\w’'-]+(?:\s+[A-Z][\w’'-]+){0,3})"
)


class SpeakerLabels:
    """Speakers of a transcript: a line that opens with "NAND:" or "SHEILA (CALLER):".

    Presenters and correspondents (named in a label or in the header, "presented by X")
    frame the discussion and are not parties.
    """

    def __init__(self, text: str) -> None:
        self._presenters = {
            strip_possessive(m.group("name").split()[-1]).lower()
            for m in _PRESENTER_INTRO.finditer(text[:5000])
        }

    def speaker(self, line: str, book: PartyBook, sent_index: int) -> tuple[str | None, int]:
        """The party speaking on a line that starts with a label, and where its words start."""
        m = _LABEL.match(line)
        if m is None:
            return None, 0
        label = m.group("label").strip()
        paren = (m.group("paren") or "").strip()
        words = label.split()
        if not words or len(words) > 4:
            return None, 0
        name = label
        if label.lower() in _GENERIC_LABELS:
            if label.lower() in _PRESENTER_LABELS:
                if paren:
                    self._presenters.add(paren.split()[-1].lower())
                return None, m.end()
            if not paren or paren.lower() in _GENERIC_LABELS:
                return None, m.end()
            name = paren
        elif paren.lower() in _PRESENTER_LABELS:
            self._presenters.add(words[-1].lower())
            return None, m.end()
        name = " ".join(w.capitalize() if w.isupper() else w for w in name.split())
        low = name.lower()
        if (
            name.split()[-1].lower() in self._presenters
            or low in COUNTRIES
            or low in CAPITALS
            or low in STOP_CAPS
            or any(w in ORG_WORDS or w in MEDIA_WORDS for w in low.split())
        ):
            return None, m.end()
        key = book.resolve(Mention("person", name, None, 0, len(name)), sent_index)
        if key is not None and book.parties[key].type != "person" and " " not in name:
            book.parties[key].type = "person"  # a voice in a transcript is a person
        return key, m.end()
