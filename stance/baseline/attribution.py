"""Who said it: speech verbs, their speakers, the words they govern, and the sourcing chain.

For one sentence this finds *statements*: a party (by its :class:`~.names.Mention`), the
kind of attribution, and the spans of the sentence that carry what the party said. It
handles a speaker before or after the verb ("X said" / '"...," said X'), appositives,
reported speech, "according to", pronouns, and sourcing ("the Journal reported, citing
officials"), which becomes ``via`` rather than a party.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from ..schema import Attribution
from .lexicon import AUX_BETWEEN
from .names import Mention, PartyBook, read_left, read_phrase, read_right
from .words import DATELINE, QuoteMap, Tok

VerbClass = Literal["speech", "describe", "stance", "action", "via", "state"]

_SPEECH = """
said says told tells added adds argued argues insisted insists claimed claims stressed
stresses stated noted explained explains announced announces declared declares asserted
asserts acknowledged acknowledges admitted admits suggested suggests maintained maintains
reiterated reiterates repeated repeats emphasised emphasized emphasises emphasizes wrote
writes tweeted posted replied replies responded responds confirmed confirms contended
contends indicated indicates signalled signaled signals predicted predicts cautioned
cautions complained complains conceded concedes agreed agrees countered counters recalled
observed believes believed thinks thought hopes hoped expects expected fears feared vowed
vows promised promises threatened threatens accused accuses warned warns urged urges
pointed_out points_out made_clear makes_clear hit_out fumed snapped quipped retorted
scoffed remarked commented lamented protested joked boasted pledged
"""
_DESCRIBE = """
described describes branded brands labelled labeled labels characterised characterized called
calls
"""
_STANCE = """
supports supported backs backed opposes opposed rejects rejected welcomes welcomed
called_for calls_for called_on calls_on endorses endorsed condemned condemns criticised
criticized criticises criticizes praised praises demanded demands favours favors favoured
favored pushed_for pressed_for pushed pressed ruled_out rules_out dismissed dismisses
objected_to objects_to refused_to refuses_to declined_to dropped defended defends hailed
hails slammed denounced denounces ruled_it_out ruled_them_out
"""
_ACTION = """
proposed proposes invited invites vetoed vetoes voted votes signed signs approved approves
blocked blocks banned bans offered offers imposed imposes abstained abstains
"""
_VIA = "reported reports quoted"
# Base forms count only after an auxiliary: "did not rule out", "would not support".
_BASE = """
say tell support back oppose reject welcome accept endorse rule_out rule_it_out rule_them_out
urge call_for condemn
"""

_CLASS: dict[str, VerbClass] = {}
for _words, _cls in (
    (_SPEECH, "speech"),
    (_DESCRIBE, "describe"),
    (_STANCE, "stance"),
    (_ACTION, "action"),
    (_VIA, "via"),
):
    for _w in _words.split():
        _CLASS[_w.replace("_", " ")] = _cls  # type: ignore[assignment]
_BASE_FORMS = {w.replace("_", " ") for w in _BASE.split()}
for _w in _BASE_FORMS:
    _CLASS.setdefault(_w, "speech" if _w in ("say", "tell") else "stance")

# Verbs by their first word, longest first, so "called for" wins over "called".
_BY_FIRST: dict[str, list[tuple[str, ...]]] = {}
for _v in sorted(_CLASS, key=lambda v: (-len(v.split()), v)):
    _BY_FIRST.setdefault(_v.split()[0], []).append(tuple(_v.split()))
# A stance stated as the subject's state, with no speech verb: "X has no objection to",
# "X is opposed to", "X remains open to". The reporter's wording: a characterisation.
_STATE = re.compile(
    r"(?<![\w-])(?:is|are|was|were|has|have|had|remains?|remained|seems?|appears?)\s+"
    r"(?:(?:not|no\s+longer|also|still|now|firmly|strongly|broadly|reportedly)\s+)*"
    r"(?:opposed|against|in\s+favou?r|open\s+to|no\s+objections?|reluctant|undecided"
    r"|committed\s+to|ready\s+to|prepared\s+to|willing\s+to|unwilling|keen|sceptical"
    r"|skeptical|wary|supportive|critical)\b",
    re.IGNORECASE,
)
_ACCORDING = re.compile(r"(?<![\w-])according\s+to\s+", re.IGNORECASE)
_CITING = re.compile(r"(?<![\w-])(?:citing|quoting)\s+", re.IGNORECASE)
_THAT_OR_QUOTE = re.compile(r"\bthat\b|[:“”\"«»]", re.IGNORECASE)
_DATA_SOURCE = re.compile(
    r"[’']?s?\s+(?:own\s+)?(?:estimates?|figures?|data|statistics|records?|calculations?|"
    r"count|tally|survey|poll|polls|analysis|study|website|filings?|accounts?)\b",
    re.IGNORECASE,
)
_MAX_VERBS = 16  # a sentence "full of said" is not worth more than this


@dataclass
class Statement:
    """What one party said in one sentence; spans are relative to the sentence text."""

    party: str
    kind: Attribution
    spans: list[tuple[int, int]]
    fallback: list[tuple[int, int]] = field(default_factory=list)
    via: str | None = None
    verb: str = ""
    mention: tuple[int, int] = (0, 0)
    nested: bool = False  # holder found inside a sourced clause: needs a stance cue
    continuation: bool = False  # a quote sentence carried over from the previous speaker
    cls: VerbClass = "speech"
    quote_start: int | None = None  # where the quoted words began, if before this sentence


@dataclass
class _Att:
    mention: Mention
    verb_start: int
    verb_end: int
    verb: str
    cls: VerbClass
    content_start: int  # where what the party said may begin
    inverted: bool = False
    key: str | None = None


@dataclass
class SentenceContext:
    """What :func:`find_statements` needs to know beyond the sentence itself."""

    index: int
    offset: int  # the sentence's start in the article
    quotes: QuoteMap  # article offsets
    book: PartyBook
    outlet_names: frozenset[str] = frozenset()

    def inside_quote(self, pos: int) -> bool:
        return self.quotes.inside(self.offset + pos)

    def quote_before(self, pos: int) -> tuple[int, int] | None:
        q = self.quotes.ending_near(self.offset + pos)
        return None if q is None else (q[0] - self.offset, q[1] - self.offset)

    def resolve(self, m: Mention) -> str | None:
        return self.book.resolve(m, self.index)


def _tok_at(toks: list[Tok], pos: int) -> int:
    """Index of the first token whose core starts at or after ``pos``."""
    lo, hi = 0, len(toks)
    while lo < hi:
        mid = (lo + hi) // 2
        if toks[mid].start < pos:
            lo = mid + 1
        else:
            hi = mid
    return lo


def _skip_aux_left(toks: list[Tok], k: int) -> tuple[int, bool]:
    """Step left over auxiliaries/adverbs between a subject and its verb.

    Also says whether a negation was among them: a base-form verb ("rule out", "support")
    starts a statement only when negated ("did not rule out", "would not support");
    "they were not sure Russia would accept" is not Russia speaking.
    """
    negated = False
    while (
        k >= 0
        and not toks[k].trail
        and (
            toks[k].low in AUX_BETWEEN
            or toks[k].low.endswith("n't")
            or toks[k].low.endswith("n’t")
            or (toks[k].low.endswith("ly") and len(toks[k].low) > 4 and not toks[k].capitalised)
        )
    ):
        if toks[k].low in ("not", "never", "cannot") or toks[k].low.endswith(("n't", "n’t")):
            negated = True
        k -= 1
    return k, negated


def _verbs(toks: list[Tok]) -> list[tuple[int, int, str]]:
    """Speech/stance verbs in a sentence: (first token, last token, verb)."""
    found: list[tuple[int, int, str]] = []
    for i, t in enumerate(toks):
        options = _BY_FIRST.get(t.low)
        if options is None or t.lead:
            continue
        for words in options:
            end = i + len(words) - 1
            if end < len(toks) and all(
                toks[i + x].low == w and (x == len(words) - 1 or not toks[i + x].trail)
                for x, w in enumerate(words)
            ):
                found.append((i, end, " ".join(words)))
                break
        if len(found) >= _MAX_VERBS:
            break
    return found


def _find_attributions(text: str, toks: list[Tok], ctx: SentenceContext) -> list[_Att]:
    atts: list[_Att] = []
    verbs = _verbs(toks)
    for m in _STATE.finditer(text):
        vi = _tok_at(toks, m.start())
        if vi < len(toks) and toks[vi].start == m.start() and len(verbs) < _MAX_VERBS:
            verbs.append((vi, vi, toks[vi].low))
    for vi, ve, verb in verbs:
        cls = _CLASS.get(verb, "state")
        start, end = toks[vi].start, toks[ve].end
        if ctx.inside_quote(start):
            continue
        if vi > 0 and toks[vi - 1].low == "to" and not toks[vi - 1].trail:
            continue  # an infinitive ("refused to say") is not a new statement
        k, aux = _skip_aux_left(toks, vi - 1)
        if verb in _BASE_FORMS and not aux:
            continue
        mention = read_left(text, toks, k) if k >= 0 else None
        inverted = False
        content_start = toks[k + 1].start if k + 1 < len(toks) and k + 1 <= vi else start
        if mention is None and (vi == 0 or toks[vi - 1].trail or toks[vi - 1].lead):
            mention = read_right(text, toks, ve + 1)
            inverted = mention is not None
            content_start = mention.end if mention is not None else end
        if mention is None:
            continue
        for men in (*mention.also, mention):
            atts.append(_Att(men, start, end, verb, cls, content_start, inverted=inverted))
    return atts


def _clause_subject(text: str, toks: list[Tok], start: int, end: int) -> Mention | None:
    """The party named at the start of a clause: "[however,] Trump is not wedded ..."."""
    j = _tok_at(toks, start)
    while (
        j < len(toks)
        and toks[j].start < end
        and toks[j].low
        in (
            "however",
            "but",
            "and",
            "also",
            "that",
            "meanwhile",
            "now",
            "still",
            "so",
            "the",
        )
    ):
        if toks[j].low == "the":
            break
        j += 1
    if j >= len(toks) or toks[j].start >= end:
        return None
    m = read_phrase(text, toks, j)
    if m is None or m.kind in ("anon", "outlet", "role") or m.end > end:
        return None
    return m


def _source_text(m: Mention) -> str:
    return m.name.strip(" “”\"'‘’")


def find_statements(text: str, toks: list[Tok], ctx: SentenceContext) -> list[Statement]:
    """All statements in one sentence, in text order."""
    atts = _find_attributions(text, toks, ctx)
    outlets: list[str] = []
    anons: list[str] = []
    holders: list[_Att] = []
    sources: list[_Att] = []
    for a in atts:
        if a.mention.kind in ("outlet", "anon") and a.cls not in ("speech", "describe", "via"):
            continue  # "the capitals invited ..." is not a source speaking
        if a.mention.kind == "outlet" or a.mention.name.lower() in ctx.outlet_names:
            outlets.append(_source_text(a.mention))
            sources.append(a)
            continue
        if a.mention.kind == "anon":
            anons.append(_source_text(a.mention))
            sources.append(a)
            continue
        if a.cls == "via" and a.mention.kind == "organisation":
            outlets.append(_source_text(a.mention))  # "The weekly Abendblatt reported"
            sources.append(a)
            continue
        key = ctx.resolve(a.mention)
        if key is None:
            continue
        a.key = key
        if a.cls == "via":
            a.cls = "speech"  # "the ministry reported" is the ministry speaking
        holders.append(a)

    # "according to X" and ", citing X"
    according: list[tuple[int, int, Mention]] = []
    for m in _ACCORDING.finditer(text):
        if ctx.inside_quote(m.start()):
            continue
        j = _tok_at(toks, m.end())
        src = read_phrase(text, toks, j)
        if src is None:
            continue
        according.append((m.start(), src.end, src))
    for m in _CITING.finditer(text):
        src = read_phrase(text, toks, _tok_at(toks, m.end()))
        if src is not None and src.kind in ("anon", "outlet"):
            (outlets if src.kind == "outlet" else anons).append(_source_text(src))

    # "told the Journal": the object of an anonymous source's verb is the outlet.
    for a in sources:
        if a.mention.kind == "anon" and a.cls == "speech":
            obj = read_phrase(text, toks, _tok_at(toks, a.verb_end))
            if obj is not None and obj.kind == "outlet":
                outlets.append(_source_text(obj))

    out: list[Statement] = []
    for start, end, src in according:
        if src.kind in ("outlet", "anon"):
            (outlets if src.kind == "outlet" else anons).append(_source_text(src))
            continue
        if _DATA_SOURCE.match(text, src.end):
            continue  # "according to NATO's own estimates" cites figures, not a view
        key = ctx.resolve(src)
        if key is None:
            continue
        spans = [(0, start), (end, len(text))]
        out.append(
            Statement(
                key,
                "reported_speech",
                spans,
                verb="according to",
                mention=(start, end),
                nested=True,
            )
        )

    via = _via(outlets, anons)

    # Speech-like holders bound the content of the others.
    speechy = sorted(
        [a for a in holders if a.cls in ("speech", "describe")] + sources,
        key=lambda a: a.verb_start,
    )
    bounds = sorted({a.mention.start for a in speechy} | {a.verb_start for a in speechy})
    spans_of: dict[int, tuple[list[tuple[int, int]], list[tuple[int, int]]]] = {}
    quote_start: dict[int, int] = {}
    for idx, a in enumerate(speechy):
        if a not in holders:
            continue
        after_end = next(
            (
                b
                for b in bounds
                if b > a.content_start
                and b > a.verb_end
                and b not in (a.mention.start, a.verb_start)
            ),
            len(text),
        )
        if a.inverted:
            # '"...," said X': the words are before the verb.
            before_start = speechy[idx - 1].verb_end if idx > 0 else 0
            q = ctx.quote_before(a.verb_start)
            primary = [(before_start, a.verb_start)]
            if q is not None:
                quote_start[id(a)] = q[0]
                primary = [(max(before_start, q[0]), a.verb_start)]
            spans_of[id(a)] = (primary + [(a.content_start, after_end)], [])
            continue
        after = (a.content_start, after_end)
        before_start = speechy[idx - 1].verb_end if idx > 0 else 0
        fallback: list[tuple[int, int]] = []
        if a.mention.start - before_start > 12:
            after_text = text[a.verb_end : after_end]
            q = ctx.quote_before(a.mention.start)
            if not _THAT_OR_QUOTE.search(after_text) or q:
                fallback = [(before_start, a.mention.start)]
                if q is not None:
                    quote_start[id(a)] = q[0]
        spans_of[id(a)] = ([after], fallback)

    # A new clause with its own subject ends what the speaker said:
    # "X urged ..., but two of the capitals signalled ...".
    for key_, (prim, fb) in list(spans_of.items()):
        spans_of[key_] = ([_cut_at_new_clause(text, a, b) for a, b in prim], fb)

    covered: list[tuple[int, int]] = []
    for a in holders:
        if id(a) in spans_of:
            prim, fb = spans_of[id(a)]
            covered.extend(prim)
            covered.extend(fb)

    others = sorted(holders, key=lambda a: a.verb_start)
    for a in others:
        if id(a) in spans_of:
            prim, fb = spans_of[id(a)]
        else:
            # A stance/action verb inside someone's reported words is part of those words.
            if any(s <= a.verb_start < e for s, e in covered):
                continue
            nxt = next(
                (b.mention.start for b in others + sources if b.mention.start > a.verb_end),
                len(text),
            )
            prim, fb = [_cut_at_new_clause(text, a.content_start, nxt)], []
        kind = _kind(a)
        assert a.key is not None
        out.append(
            Statement(
                a.key,
                kind,
                prim,
                fb,
                via=via,
                verb=a.verb,
                mention=(a.mention.start, a.mention.end),
                cls=a.cls,
                quote_start=quote_start.get(id(a)),
            )
        )

    # Nested attribution: "according to unnamed aides, Trump is ...", "officials said
    # Trump ...": with no named speaker in the sentence, the clause's subject holds it.
    if not out and (according or sources):
        dl = DATELINE.match(text)
        body = dl.end() if dl else 0
        for start, end, src in according:
            if src.kind not in ("outlet", "anon"):
                continue
            if start < 3 + body:
                clause = (end, len(text))
            else:
                clause = (body, start)
            subj = _clause_subject(text, toks, *clause)
            if subj is not None:
                key = ctx.resolve(subj)
                if key is not None:
                    out.append(
                        Statement(
                            key,
                            "reported_speech",
                            [(subj.end, clause[1])],
                            via=via,
                            verb="according to",
                            mention=(subj.start, subj.end),
                            nested=True,
                        )
                    )
                    break
        else:
            for a in sources:
                clause = (a.verb_end, len(text))
                if a.mention.start > 12 and not _THAT_OR_QUOTE.search(text[a.verb_end :]):
                    # "Estonia is prepared to ..., a senior diplomat said on Tuesday"
                    clause = (body, a.mention.start)
                subj = _clause_subject(text, toks, *clause)
                if subj is None:
                    continue
                key = ctx.resolve(subj)
                if key is not None:
                    out.append(
                        Statement(
                            key,
                            "reported_speech",
                            [(subj.end, clause[1])],
                            via=via,
                            verb=a.verb,
                            mention=(subj.start, subj.end),
                            nested=True,
                        )
                    )
                    break
    for s in out:
        if s.via is None:
            s.via = via
    out.sort(key=lambda s: s.mention[0])
    return out


_NEW_CLAUSE = re.compile(
    r";\s|(?:,\s*|\s+)(?:but|while|whereas|although|though)\s+(?=(?:the|a|an|two|three|several|"
    r"some|many|most|other|its|his|her|their|it|he|she|they|we|[A-Z0-9])\b)"
)


def _cut_at_new_clause(text: str, start: int, end: int) -> tuple[int, int]:
    m = _NEW_CLAUSE.search(text, start, end)
    if m is None or _inside_quotes(text, start, m.start()):
        return start, end
    return start, m.start()


def _inside_quotes(text: str, start: int, pos: int) -> bool:
    """Whether ``pos`` is inside a quotation opened after ``start`` (count of marks)."""
    seg = text[start:pos]
    return seg.count("“") > seg.count("”") or seg.count('"') % 2 == 1


def _kind(a: _Att) -> Attribution:
    if a.cls == "action":
        return "action"
    if a.cls in ("describe", "state"):
        return "characterisation"
    return "reported_speech"


def _via(outlets: list[str], anons: list[str]) -> str | None:
    outlet = next(iter(dict.fromkeys(outlets)), None)
    anon = next(iter(dict.fromkeys(anons)), None)
    if outlet and anon:
        return f"{outlet}, citing {anon}"
    return outlet or anon
