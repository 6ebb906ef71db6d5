"""The stance cue lexicon: which words say support, opposition, or a hedge, and on what.

Each cue carries a *topic mode* saying where its topic sits: after it (``supports X``),
before it (``X is unacceptable``), after an infinitive (``urged Europe to back X``), or
in a negated action (``would not send soldiers to Ukraine`` -> "sending soldiers to
Ukraine", opposed). Negation right before a lexical cue flips it (``not a threat`` ->
support); hedges ("did not rule out", "would consider", "too early to say") are neutral.

All patterns are compiled once, into one alternation, at import.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Polarity = Literal["support", "oppose", "neutral", "mixed", "skip"]
Mode = Literal[
    "obj",
    "inf",
    "negact",
    "subj",
    "modal",
    "clause",
    "no_would",
    "invite",
    "anaphor",
    "subjverb",
]

_V = (
    r"(?P<{g}>(?!(?:a|an|the|be|been|being|to|in|on|under|at|for|with|so|as|only|just|yet|"
    r"always|necessarily|about|against|sure|clear|known|all|that|this|it|there|have|even|"
    r"also|exactly|quite|really|want|wish|like|need)\b)[a-z]+)"
)
_ADV = r"(?:\s+[a-z]+ly)?"
_AUX = r"(?:will|would|could|can|shall|should|must|does|do|did|may|might)"
_CONTR = r"(?:won|wouldn|couldn|can|shan|shouldn|mustn|doesn|don|didn)[’']t"

# (pattern, polarity, topic mode, weak). Order matters: at one position the first
# alternative that matches wins, so specific/negated forms come before bare cues.
_TABLE: list[tuple[str, Polarity, Mode, bool]] = [
    # mixed
    (r"not\s+(?:opposed|against)\s+in\s+principle(?:\s+to)?", "mixed", "obj", False),
    # hedges -> neutral
    (
        r"(?:(?:did|does|do|would|will|could|has|have|had)\s+not|(?:didn|doesn|don|wouldn|won|"
        r"couldn|hasn|haven|hadn)[’']t|refused\s+to|refuses\s+to|declined\s+to|not)\s+"
        r"(?:yet\s+)?rul(?:e|ed|ing)\s+out",
        "neutral",
        "obj",
        False,
    ),
    (
        r"(?:(?:did|does|do|would|will|could|has|have|had)\s+not|(?:didn|doesn|don|wouldn|won|"
        r"couldn|hasn|haven|hadn)[’']t|not)\s+(?:yet\s+)?rul(?:e|ed|ing)\s+(?:it|them|this|that|"
        r"anything|nothing)"
        r"\s+out|(?:won|wouldn)[’']t\s+say\s+never|(?:would|will)\s+not\s+say\s+never"
        r"|before\s+(?:deciding|making\s+a\s+decision|(?:he|she|it|they|we|i)\s+decides?)"
        r"|(?:decide|decides|decided|decision)\s+either\s+way|no\s+verdict|no\s+decision\s+(?:has|had)"
        r"\s+been\s+(?:taken|made)|abstain(?:s|ed|ing)?|(?:careful\s+)?not\s+to\s+prejudge"
        r"|without\s+prejudging",
        "neutral",
        "anaphor",
        False,
    ),
    (r"(?:my|our|the)\s+answer\s+is\s+no", "oppose", "anaphor", False),
    (r"(?:my|our|the)\s+answer\s+is\s+yes", "support", "anaphor", False),
    (
        r"(?:would|will|could|might|may)\s+(?:also\s+)?consider|(?:prepared|ready|willing|open)"
        r"\s+to\s+consider|(?:is|are|was|were)\s+considering",
        "neutral",
        "obj",
        False,
    ),
    (
        r"(?:is|are|was|were|remains?|remained|be|stays?|stayed)\s+open\s+to",
        "neutral",
        "obj",
        False,
    ),
    (
        r"too\s+(?:early|soon)\s+to\s+(?:say|judge|tell|decide|know|talk\s+about|discuss)",
        "neutral",
        "obj",
        False,
    ),
    (
        r"(?:will|would)\s+(?:study|examine|review|assess|weigh)|look\s+(?:carefully|closely)\s+at"
        r"|(?:all|every)\s+options?\s+(?:(?:are|is|remain|remains)\s+)?on\s+the\s+table"
        r"|not\s+(?:wedded|committed)\s+to|(?:has|have|had)\s+not\s+(?:yet\s+)?decided"
        r"(?:\s+(?:on|whether))?|(?:is|are|was|were)\s+undecided(?:\s+(?:on|about|whether))?"
        r"|not\s+sure\s+(?:whether|if|about)|remains?\s+to\s+be\s+seen|wait\s+and\s+see"
        r"|declined\s+to\s+(?:say|commit|specify)(?:\s+(?:whether|if|on|to))?"
        r"|(?:has|have|had)\s+not\s+(?:yet\s+)?(?:decided|confirmed)\s+(?:whether|if)"
        r"|assessing\s+(?:the\s+)?(?:options|package|proposal|plan)",
        "neutral",
        "obj",
        False,
    ),
    # no comment: not a position at all
    (
        r"(?:did|does|do|would|will|could)\s+not\s+(?:comment|say|specify|elaborate|disclose|"
        r"reveal|respond)|(?:didn|doesn|don|wouldn|won)[’']t\s+(?:comment|say)|declined\s+to\s+"
        r"comment|no\s+comment|refused\s+to\s+(?:comment|say)|(?:has|have|had)\s+not\s+(?:yet\s+)?"
        r"said\s+(?:whether|if|which|how)|declined\s+to\s+(?:explain|answer|elaborate|discuss)",
        "skip",
        "obj",
        False,
    ),
    # support despite a negative word
    (
        r"(?:(?:has|have|had)\s+)?no\s+objections?\s+(?:to|against)|(?:does|do|did)\s+not\s+"
        r"object\s+to|(?:doesn|don|didn)[’']t\s+object\s+to|not\s+(?:opposed|averse|hostile)\s+to"
        r"|(?:is|are|was|were)\s+not\s+against|(?:isn|aren|wasn|weren)[’']t\s+against",
        "support",
        "obj",
        False,
    ),
    (
        r"dropped\s+(?:its|his|her|their)\s+(?:opposition|objections?|resistance)\s+to"
        r"|(?:lifted|withdrew|withdrawn)\s+(?:its|his|her|their)\s+(?:veto|objections?)\s+"
        r"(?:to|on|against)",
        "support",
        "obj",
        False,
    ),
    # negated intentions and actions -> oppose (topic: the action)
    (
        r"(?:(?:is|are|was|were|am)\s+)?not\s+(?:planning|going|ready|prepared|willing|able|"
        r"minded)\s+to\s+"
        + _V.format(g="v1")
        + r"|(?:isn|aren|wasn|weren)[’']t\s+(?:planning|going|ready|prepared|willing)\s+to\s+"
        + _V.format(g="v2")
        + r"|(?:has|have|had)\s+no\s+(?:plans?|intention|desire)\s+to\s+"
        + _V.format(g="v3")
        + r"|(?:refused|refuses|refuse|declined|declines|unwilling|reluctant)\s+to\s+"
        + _V.format(g="v4"),
        "oppose",
        "negact",
        False,
    ),
    (
        _AUX
        + r"\s+(?:not|never)"
        + _ADV
        + r"\s+"
        + _V.format(g="v5")
        + "|"
        + _CONTR
        + _ADV
        + r"\s+"
        + _V.format(g="v6")
        + r"|cannot"
        + _ADV
        + r"\s+"
        + _V.format(g="v7")
        + r"|no\s+longer\s+"
        + _V.format(g="v8"),
        "oppose",
        "negact",
        False,
    ),
    (r"no\s+(?:[\w’'.-]+\s+){1,4}?(?:would|will|could|should|can)", "oppose", "no_would", False),
    # support
    (
        r"(?<!hit\s)(?<!come\s)(?<!came\s)(?<!went\s)(?<!fought\s)(?<!bring\s)(?<!brought\s)"
        r"(?<!pushed\s)(?<!push\s)(?:backs|backed|backing|back)(?!\s+(?:to|in|on|from|at|home|"
        r"down|off|away|out|up|into)\b)",
        "support",
        "obj",
        False,
    ),
    (r"support(?:s|ed|ing)?(?:\s+for)?", "support", "obj", False),
    (r"welcom(?:e|es|ed|ing)", "support", "obj", False),
    (
        r"call(?:s|ed|ing)?\s+for|press(?:es|ed|ing)?\s+for|push(?:es|ed|ing)?\s+for"
        r"|keep\s+pressing\s+for",
        "support",
        "obj",
        False,
    ),
    (
        r"call(?:s|ed|ing)?\s+on|urg(?:e|es|ed|ing)|push(?:es|ed|ing)?|encourag(?:e|es|ed|ing)",
        "support",
        "inf",
        False,
    ),
    (
        r"vot(?:e|es|ed|ing)\s+(?:for|in\s+favou?r(?:\s+of)?)|(?:am|is|are|was|were)\s+all\s+for",
        "support",
        "obj",
        False,
    ),
    (
        r"endors(?:e|es|ed|ing)|in\s+favou?r\s+of|favou?r(?:s|ed|ing)?|prais(?:e|es|ed|ing)"
        r"|defend(?:s|ed|ing)?|champion(?:s|ed|ing)|advocat(?:e|es|ed|ing)|hail(?:s|ed|ing)?",
        "support",
        "obj",
        False,
    ),
    (r"propos(?:e|es|ed|ing)|suggest(?:s|ed|ing)?", "support", "obj", True),
    (r"wants?|wanted|wanting", "support", "obj", True),
    (r"accept(?:s|ed|ing)?|agree(?:s|d)?\s+to", "support", "obj", False),
    (
        r"(?:ready|prepared|willing|eager|determined)\s+to|stands?\s+ready\s+to"
        r"|pledg(?:e|es|ed|ing)(?:\s+to)?|offer(?:s|ed|ing)?\s+to|committed\s+to",
        "support",
        "obj",
        False,
    ),
    (r"invit(?:e|es|ed|ing)", "support", "invite", True),
    (r"should|must|ought\s+to|needs?\s+to", "support", "modal", True),
    (
        r"essential|necessary|vital|crucial|indispensable|realistic|feasible|justified"
        r"|legitimate|the\s+only\s+(?:way|guarantee|option|solution)|the\s+(?:right|correct)\s+"
        r"(?:\w+\s+)?(?:step|move|decision|approach|way|thing)|correct|the\s+answer"
        r"|the\s+(?:strongest|best|most\s+effective|only\s+real)\s+\w+"
        r"|an?\s+(?:good|great|positive|brave|sensible|welcome|important|real)\s+(?:and\s+\w+\s+)?"
        r"(?:day|law|deal|idea|step|decision|move|plan|thing|start|compromise|outcome|achievement)",
        "support",
        "subj",
        False,
    ),
    # oppose
    (r"oppos(?:e|es|ed|ing)|opposition\s+to", "oppose", "obj", False),
    (
        r"reject(?:s|ed|ing)?|rejection\s+of|dismiss(?:es|ed|ing)?|condemn(?:s|ed|ing)?"
        r"|denounc(?:e|es|ed|ing)|criticis(?:e|es|ed|ing)|criticiz(?:e|es|ed|ing)"
        r"|veto(?:es|ed|ing)?|block(?:s|ed|ing)|ban(?:s|ned|ning)|rul(?:e|es|ed|ing)\s+out"
        r"|object(?:s|ed|ing)?\s+to|resist(?:s|ed|ing)?|refus(?:e|es|ed|ing)"
        r"|refusal\s+(?:of|to)|scrap(?:s|ped)?|abandon(?:s|ed)?|slam(?:s|med)",
        "oppose",
        "obj",
        False,
    ),
    (r"warn(?:s|ed|ing)?", "oppose", "clause", True),
    (
        r"(?:am|is|are|was|were|be|remains?|remained|stands?|stood|voted|spoke|speaks|argued|"
        r"argues|came\s+out|come\s+out)\s+against",
        "oppose",
        "obj",
        False,
    ),
    # "<subject> would hurt / risks ...": the subject is the issue
    (
        r"(?:would|could|will|might|may)\s+(?:only\s+|also\s+|badly\s+)?(?:hurt|harm|damage"
        r"|undermine|reward|cost|weaken|endanger|threaten|jeopardi[sz]e|destroy|kill|punish"
        r"|wreck|ruin)|risk(?:s|ed)|threatens|undermines|punishes",
        "oppose",
        "subjverb",
        False,
    ),
    (
        r"(?:would|could|will)\s+(?:also\s+)?(?:help|protect|strengthen|boost|save|secure"
        r"|benefit)|makes?\s+(?:\w+\s+){1,3}(?:stronger|safer)",
        "support",
        "subjverb",
        False,
    ),
    (
        r"unacceptable|out\s+of\s+the\s+question|a\s+red\s+line|(?:a\s+(?:direct\s+|serious\s+|"
        r"grave\s+)?)?threat|unrealistic|premature|(?:a\s+(?:serious\s+|grave\s+|big\s+|huge\s+|"
        r"historic\s+)?)?mistake|inappropriate|dangerous|reckless|irresponsible|illegal"
        r"|illegitimate|provocati(?:on|ve)|counterproductive|no\s+solution|not\s+an\s+option"
        r"|no\s+longer\s+an\s+option|a\s+party\s+to\s+the\s+conflict|unjustified|absurd"
        r"|nonsense|an?\s+(?:bad|terrible|awful|disastrous|dangerous|reckless)\s+\w+"
        r"|(?:a\s+)?disaster|disastrous|the\s+wrong\s+(?:message|signal|approach|way|answer)"
        r"|a\s+gift\s+to|protectionis[mt]|legitimate\s+targets?"
        r"|escalat(?:ion|ory)|(?:an?\s+)?attempt\s+to\s+(?:keep|prolong|"
        r"freeze|drag)",
        "oppose",
        "subj",
        False,
    ),
]

# Entries from here on are plain lexical cues that a preceding "not" flips.
_FIRST_LEXICAL = next(i for i, e in enumerate(_TABLE) if e[2] == "no_would") + 1

# One alternation; the word-start test is hoisted out of it so that most positions fail
# after a single look-behind instead of one per entry.
_CUE_RE = re.compile(
    "(?<![\\w’'-])(?=[a-zA-Z])(?:"
    + "|".join(f"(?P<c{i}>(?:{p})(?![\\w-]))" for i, (p, *_) in enumerate(_TABLE))
    + ")",
    re.IGNORECASE,
)
# A negation just before a lexical cue: "not a threat", "never supported".
_NEG_BEFORE = re.compile(
    r"(?:\bnot|n[’']t|\bnever|\bno\s+longer|\bnor|\bneither)\s+(?:[\w’'-]+\s+){0,2}$",
    re.IGNORECASE,
)
_FLIP: dict[Polarity, Polarity] = {
    "support": "oppose",
    "oppose": "support",
    "neutral": "neutral",
    "mixed": "mixed",
    "skip": "skip",
}
_HYPOTHETICAL = re.compile(r"\b(?:if|unless|whether)\b[^,;.:]*$", re.IGNORECASE)
_VERB_GROUPS = tuple(f"v{i}" for i in range(1, 9))


@dataclass(frozen=True, slots=True)
class CueHit:
    """One stance cue found in a span of text (offsets relative to that span)."""

    polarity: Polarity
    mode: Mode
    text: str
    start: int
    end: int
    verb: str | None = None  # the action verb of a negated-action cue
    weak: bool = False


_QUOTES = re.compile(r"[“”\"«»‘]")


def find_cues(s: str) -> list[CueHit]:
    """Every stance cue in ``s``, left to right, with negation applied.

    Quotation marks are blanked (not removed, so offsets hold) before matching: a cue
    may have a quoted word inside it ("is not “wedded” to").
    """
    hits: list[CueHit] = []
    s = _QUOTES.sub(" ", s)
    prev_end = -1
    for m in _CUE_RE.finditer(s):
        name = m.lastgroup
        if name is None:
            continue
        idx = int(name[1:])
        _, polarity, mode, weak = _TABLE[idx]
        verb = None
        if mode == "negact":
            verb = next((m.group(g) for g in _VERB_GROUPS if m.group(g)), None)
            verb = verb.lower() if verb else None
            if _HYPOTHETICAL.search(s, max(0, m.start() - 120), m.start()):
                continue  # "If Europe cannot put soldiers ..." states no refusal
        start = m.start()
        if idx >= _FIRST_LEXICAL and polarity in ("support", "oppose"):
            neg = _NEG_BEFORE.search(s, max(0, start - 30), start)
            if neg is not None:
                if neg.start() < prev_end:
                    continue  # "does not get a veto": the negation was already used
                polarity = _FLIP[polarity]
                start = neg.start()  # the cue shown to users includes its negation
        prev_end = m.end()
        hits.append(
            CueHit(
                polarity, mode, re.sub(r"\s+", " ", s[start : m.end()]), start, m.end(), verb, weak
            )
        )
    return hits
