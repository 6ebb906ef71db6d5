"""What a statement is about: a short noun phrase for each stance cue.

The topic is read off the words around the cue: the object after it (``supports
European troops``), the subject before a judgement (``Ukraine's membership ... is
unacceptable``), or an action turned into a gerund (``would not send soldiers to
Ukraine`` -> "sending soldiers to Ukraine"). Topics are cut at clause boundaries, kept to
eight words, and stripped of leading determiners. :class:`TopicBook` then gives the same
wording to topics that share most of their content words, so a party that returns to an
issue gets one row.
"""

from __future__ import annotations

import re

from .cues import CueHit
from .lexicon import (
    ANAPHORIC_TOPICS,
    COMMON_VERBS,
    COPULAS,
    DETERMINERS,
    GERUND_IRREGULAR,
    MODALS,
    OPPOSING_VERBS,
    PREPOSITIONS,
    SUPPORTIVE_VERBS,
    TOPIC_EDGE_STOP,
    TRANSPARENT_VERBS,
)

ANAPHOR = "\x00anaphor"  # the topic is "it"/"the move": use the one spoken of before


def is_anaphor(topic: str | None) -> bool:
    """Whether a topic points back ("it", "the move") rather than naming an issue."""
    return topic is not None and topic.startswith(ANAPHOR)


def anaphor_literal(topic: str) -> str:
    """The words of an anaphoric topic ("move"), to use when nothing earlier fits."""
    return topic[len(ANAPHOR) + 1 :] if topic.startswith(ANAPHOR + ":") else ""


MAX_WORDS = 8

# Where an object noun phrase stops.
_OBJ_STOP = re.compile(
    r"[,;:!?()\[\]“”\"«»]|(?<![A-Z])\.(?=\s|$)|\s[-–—]\s|[—–]"
    r"|\s(?:and|but|or)\s+(?:that|would|will|could|should|must|can|may|might|said|says|say|is"
    r"|are|was|were|has|have|had|did|does|it|he|she|they|we|i|then|also|not|called|urged"
    r"|warned|argued|added|told|insisted|stressed|suggested|now|still|later|instead|supports?"
    r"|backs?|opposes?|rejects?|welcomes?|wants?|calls?|urges?)\b"
    r"|\s(?:but|if|while|whereas|because|although|though|unless|provided|providing|once|when"
    r"|whenever|until|after|before|since|so\s+that|in\s+order\s+to|as\s+part\s+of|as\s+long"
    r"\s+as|as\s+soon\s+as|which|who|whom|whose|without|rather\s+than|instead\s+of|saying"
    r"|adding|arguing|citing|according\s+to|even\s+if|even\s+though|whatever|whichever"
    r"|regardless|despite|amid|that|as|last\s+\w+|this\s+week|next\s+week|on\s+(?:Monday|Tuesday"
    r"|Wednesday|Thursday|Friday|Saturday|Sunday))\b"
    r"|\s(?:in|on|by|from|until|since)\s+(?:January|February|March|April|May|June|July"
    r"|August|September|October|November|December|\d)",
    re.IGNORECASE,
)
# Where a subject noun phrase starts (reading leftwards from its verb).
_SUBJ_BOUNDARY = re.compile(
    r"[,;:“”\"«»()]|\b(?:that|said|says|told|argued|warned|insisted|whether|if|because|while"
    r"|but|although|though|when|since|described|describes)\b",
    re.IGNORECASE,
)
_COPULA = re.compile(
    r"\b(?:is|are|was|were|be|been|remains?|remained|becomes?|became|seems?|seemed|[’']s)\b",
    re.IGNORECASE,
)
_TRAILING_AUX = re.compile(
    r"(?:\s+(?:would|will|could|can|should|must|might|may|has|have|had|not|also|only|still"
    r"|always|never|now|already|already|just|clearly|simply))+\s*$",
    re.IGNORECASE,
)
_DESCRIBE = re.compile(
    r"\b(?:describ|regard|view|consider|brand|label|dismiss|treat|characteri[sz]|call)\w*\s+"
    r"(?P<x>.{1,120}?)\s+as\s+[“\"‘]?(?:[\w’'-]+\s+){0,3}[“\"‘]?$",
    re.IGNORECASE,
)
_CALLED = re.compile(
    r"\b(?:called|calls|calling|branded|brands|labell?ed|dubbed)\s+(?P<x>(?:the|this|that|its|"
    r"his|her|their|a|an)\s+[\w’'-]+(?:\s+[\w’'-]+){0,4}?)\s+[“\"‘]?$",
    re.IGNORECASE,
)
_TO_VERB = re.compile(r"\s*(?P<pre>[^,;:.!?“”\"]{0,80}?)\bto\s+(?P<v>[a-z]+)\b(?P<rest>.*)$", re.S)
_INVITE_PURPOSE = re.compile(
    r"\bto\s+(?:discuss|talk\s+about|consider|debate|address|examine|agree\s+on)\s+"
    r"|\bfor\s+talks\s+(?:on|about)\s+",
    re.IGNORECASE,
)
_QUOTE_CHARS = re.compile(r"[“”\"«»‘]")
_ABBREV = re.compile(r"^(?:[A-Za-z]\.){2,}$")
_TO_INF = re.compile(r"to\s+(?P<v>[a-z]+)\b(?P<rest>.*)$", re.S)
_CLAUSE_START = re.compile(r"(?:that|whether|if)\s+", re.IGNORECASE)
_LEAD_CONJ = re.compile(r"^(?:and|but|or|so|yet|then)\s+", re.IGNORECASE)
_WORD = re.compile(r"\S+")
# Infinitives that end a noun phrase ("membership to remain the goal").
_CUT_INF = frozenset("remain be become stay continue end take make have get go come give".split())
_NOBODY = frozenset("nobody no everyone everybody someone somebody anyone anybody".split())
_LEAD_DROP = DETERMINERS | {"own", "such", "whether", "about", "on", "over", "of", "that"}
_PRONOUNS = frozenset("it this that they he she we i you them which who".split())
_NEG_FLIP_VERBS = OPPOSING_VERBS | frozenset(
    "replace undermine weaken harm hurt threaten endanger damage".split()
)


def gerund(verb: str) -> str:
    """``send`` -> ``sending``, ``take`` -> ``taking``, ``be`` -> ``being``."""
    v = verb.lower()
    if v in GERUND_IRREGULAR:
        return GERUND_IRREGULAR[v]
    if v.endswith("ie"):
        return v[:-2] + "ying"
    if v.endswith("e") and not v.endswith(("ee", "ye", "oe")) and len(v) > 2:
        return v[:-1] + "ing"
    return v + "ing"


def _clean_word(w: str) -> str:
    w = _QUOTE_CHARS.sub("", w)
    if w.endswith("’") and len(w) > 1 and w[-2] not in "sS":
        w = w[:-1]
    w = w.strip(",;:!?()[]")
    return w if _ABBREV.match(w) else w.strip(".")


def trim_topic(text: str) -> str | None:
    """Cut a raw phrase down to a topic: <= 8 words, no leading determiners or loose ends."""
    words = [c for c in (_clean_word(w) for w in text.split()) if c]
    for i, w in enumerate(words):
        if w.lower() == "to" and i >= 2 and i + 1 < len(words) and words[i + 1].lower() in _CUT_INF:
            words = words[:i]
            break
    while words and words[0].lower() in _LEAD_DROP:
        words.pop(0)
    words = words[:MAX_WORDS]
    if len(words) >= 4 and words[-2].lower() == "to" and words[-1].islower():
        words = words[:-2]  # a dangling infinitive left by the cut: "... to monitor"
    while words and words[-1].lower() in TOPIC_EDGE_STOP:
        words.pop()
    if not words:
        return None
    if len(words) <= 2 and " ".join(words).lower() in ANAPHORIC_TOPICS:
        return f"{ANAPHOR}:{' '.join(words)}"
    if len(words) == 1:
        w = words[0]
        if w.lower() in _PRONOUNS:
            return ANAPHOR
        if w.islower() and (w.endswith("ing") or w in TOPIC_EDGE_STOP):
            return None
    return " ".join(words)


def _phrase_after(s: str, pos: int) -> str:
    """The raw noun phrase that starts at ``pos``: to the first clause boundary."""
    rest = s[pos:].lstrip()
    if rest and rest[0] in '“"«':
        close = {"“": "”", '"': '"', "«": "»"}[rest[0]]
        end = rest.find(close, 1)
        inner = rest[1:end] if end > 0 else rest[1:]
        return inner[:300]
    rest = rest[:400]
    m = _OBJ_STOP.search(rest)
    return rest[: m.start()] if m else rest


def object_after(s: str, pos: int) -> str | None:
    """The object noun phrase after ``pos``; a "that"/"whether" clause gives its own topic."""
    rest = s[pos:].lstrip()
    m = _CLAUSE_START.match(rest)
    if m is not None:
        return clause_topic(rest[m.end() :])
    if re.match(r"to\s+(?:be|have)\b", rest, re.IGNORECASE):
        return None  # "refused to be rattled": no issue named
    if re.search(r"(?:whether|if)$", s[max(0, pos - 8) : pos], re.IGNORECASE):
        return clause_topic(rest)
    if not _phrase_after(rest, 0).strip():
        return ANAPHOR  # "The Left Alliance voted against.": the issue under discussion
    first = rest.split(maxsplit=1)[0].lower() if rest.strip() else ""
    inf = _TO_INF.match(rest)
    if inf is not None and inf.group("v") not in DETERMINERS and inf.group("v") not in _PRONOUNS:
        return _verb_phrase(inf.group("v"), inf.group("rest"))[0]
    if first in PREPOSITIONS or first in ("as", "again", "too", "outright", "strongly"):
        return ANAPHOR  # "voted against as a bloc": the issue is the one under discussion
    return trim_topic(_phrase_after(rest, 0))


def _verb_phrase(verb: str, rest: str) -> tuple[str | None, bool]:
    """Topic for "<verb> <rest>", and whether the verb reverses the stance."""
    v = verb.lower()
    rest = rest.lstrip()
    if v in ("be", "have", "get"):
        return None, False  # "would not be ..." names no action
    if v == "stand" and re.match(r"in\s+(?:the|its|their|our)\s+way\b", rest, re.IGNORECASE):
        rest = re.sub(r"^in\s+\w+\s+way\s*(?:of\s+)?", "", rest, flags=re.IGNORECASE)
        return (object_after(rest, 0) if rest.strip() else ANAPHOR), True
    if v == "give" and rest.lower().startswith("up"):
        rest = re.sub(r"^up\s+(?:on\s+)?", "", rest, flags=re.IGNORECASE)
        return object_after(rest, 0), True
    if v in SUPPORTIVE_VERBS or v in TRANSPARENT_VERBS:
        rest = re.sub(r"^(?:about|on|over|to|with)\s+", "", rest, flags=re.IGNORECASE)
        return object_after(rest, 0), False
    if v in _NEG_FLIP_VERBS:
        return object_after(rest, 0), True
    obj = _phrase_after(rest, 0)
    topic = trim_topic(gerund(v) + " " + obj) if obj.strip() else None
    if topic is not None and not is_anaphor(topic) and " " not in topic:
        return None, False  # a bare gerund ("existing") is no topic
    return topic, False


def _infinitive(s: str, pos: int) -> tuple[str | None, bool]:
    """Infinitive topics: "urged Europe to back X" -> X; "to demand Y" -> "demanding Y"."""
    m = _TO_VERB.match(s, pos)
    if m is None or m.group("v").lower() in DETERMINERS:
        return object_after(s, pos), False
    return _verb_phrase(m.group("v"), m.group("rest"))


def _is_agent(words: list[str]) -> bool:
    """A clause subject that names a party or a pronoun, not an issue."""
    if not words or len(words) > 3:
        return False
    if len(words) == 1 and words[0].lower() in _PRONOUNS:
        return True
    content = [w for w in words if w.lower() not in DETERMINERS]
    return bool(content) and all(w[:1].isupper() for w in content)


def clause_topic(s: str) -> str | None:
    """Topic of a reported clause: its subject, or its action when the subject is a party."""
    s = _QUOTE_CHARS.sub(" ", s[:400]).strip()
    s = re.sub(r"^that\s+", "", s, flags=re.IGNORECASE)
    words = [(m.group(0), m.start()) for m in _WORD.finditer(s)]
    for i, (w, _) in enumerate(words[:12]):
        low = w.lower().strip(",.;:")
        is_aux = (
            low in MODALS or low in COPULAS or low in ("has", "have", "had", "does", "do", "did")
        )
        is_verb = (
            i >= 1
            and (low in COMMON_VERBS or (low.endswith("s") and low[:-1] in COMMON_VERBS))
            and words[i - 1][0].lower() not in DETERMINERS  # "a guarantee" is a noun
        )
        if not (is_aux or is_verb):
            continue
        if i == 0:
            return None
        subj = [x for x, _ in words[:i]]
        if is_verb and not is_aux and len(subj) <= 3:
            # "EU members send peacekeepers" -> "EU members sending peacekeepers"
            base = low[:-1] if low not in COMMON_VERBS else low
            topic, _ = _verb_phrase(base, s[words[i][1] + len(w) :])
            if topic and not is_anaphor(topic):
                if _is_agent(subj) and subj[0].lower() in _PRONOUNS:
                    return topic
                return trim_topic(" ".join(subj) + " " + topic)
        if not _is_agent(subj):
            return trim_topic(" ".join(subj))
        j = i
        while j < len(words) and (
            words[j][0].lower() in MODALS
            or words[j][0].lower() in COPULAS
            or words[j][0].lower()
            in ("has", "have", "had", "does", "do", "did", "not", "also", "still", "now", "never")
            or words[j][0].lower().endswith("ly")
        ):
            j += 1
        if j >= len(words):
            return None
        verb = words[j][0].lower().strip(",.;:")
        rest = s[words[j][1] + len(words[j][0]) :]
        base = verb[:-1] if verb.endswith("s") and verb[:-1] in COMMON_VERBS else verb
        if base in COMMON_VERBS and base not in SUPPORTIVE_VERBS:
            topic, _ = _verb_phrase(base, rest)
            return topic
        return object_after(rest, 0)
    return trim_topic(_phrase_after(s, 0))


def _subject_before(s: str, pos: int, after: int) -> tuple[str | None, bool]:
    before = s[max(0, pos - 400) : pos]
    d = _DESCRIBE.search(before) or _CALLED.search(before)
    if d is not None:
        x = d.group("x").strip()
        return trim_topic(x) if x.lower() not in _PRONOUNS else ANAPHOR, False
    cops = list(_COPULA.finditer(before))
    if not cops:
        return None, False
    head = _TRAILING_AUX.sub("", before[: cops[-1].start()])
    segments = _SUBJ_BOUNDARY.split(head)
    for seg in reversed(segments):
        seg = _LEAD_CONJ.sub("", seg.strip())
        if not seg:
            continue
        first = seg.split()[0].lower().strip('“"')
        if first in PREPOSITIONS or first in (
            "frankly",
            "however",
            "perhaps",
            "also",
            "has",
            "have",
            "had",
            "been",
            "not",
            "and",
        ):
            continue
        if seg.lower() in _PRONOUNS:
            # "it is premature to talk about X" -> X
            if re.match(r"\s*to\s+[a-z]", s[after : after + 40]):
                return _infinitive(s, after)
            return ANAPHOR, False
        return trim_topic(seg), False
    return None, False


def _subject_of_verb(s: str, pos: int) -> str | None:
    """The clause's subject: "a price floor would reward X" -> "price floor"."""
    before = _QUOTE_CHARS.sub(" ", s[max(0, pos - 300) : pos])
    segments = _SUBJ_BOUNDARY.split(before)
    seg = _LEAD_CONJ.sub("", segments[-1].strip()) if segments else ""
    if not seg or seg.lower() in _PRONOUNS:
        return ANAPHOR
    return trim_topic(seg)


def _modal(s: str, hit: CueHit) -> tuple[str | None, bool]:
    """Modal topics: "Europe should play the main role" -> "Europe playing the main role"."""
    before = _QUOTE_CHARS.sub("", s[max(0, hit.start - 200) : hit.start])
    segs = _SUBJ_BOUNDARY.split(before)
    subj = trim_topic(segs[-1]) if segs else None
    rest = s[hit.end :]
    m = re.match(
        r"\s+(?P<neg>(?:not|never)\s+)?(?:(?:also|still|now|only|really|[a-z]+ly)\s+)*"
        r"(?P<v>[a-z]+)(?P<rest>.*)$",
        rest,
        re.S,
    )
    if m is None:
        return None, False
    if subj and subj.lower().split()[0] in _NOBODY:
        return None, False  # "Nobody should say never" is no proposal
    if m.group("v") == "be" and re.match(r"\s+[a-z]+ing\b", m.group("rest")):
        g = re.match(r"\s+(?P<v>[a-z]+ing)\b(?P<rest>.*)$", m.group("rest"), re.S)
        assert g is not None
        topic, flip = trim_topic(g.group("v") + " " + _phrase_after(g.group("rest"), 0)), False
    elif m.group("v") == "be":
        passive = re.match(r"\s+(?P<v>[a-z]+ed)\b(?P<rest>.*)$", m.group("rest"), re.S)
        if passive is None:
            return None, False
        topic, flip = (
            trim_topic(
                "being " + passive.group("v") + " " + _phrase_after(passive.group("rest"), 0)
            ),
            False,
        )
    else:
        topic, flip = _verb_phrase(m.group("v"), m.group("rest"))
    if m.group("neg"):
        flip = not flip
    if topic is None or is_anaphor(topic):
        return topic, flip
    assert topic is not None
    if subj and not is_anaphor(subj) and len(subj.split()) <= 3:
        combined = trim_topic(subj + " " + topic)
        if combined and not is_anaphor(combined):
            return combined, flip
    return topic, flip


def topic_for(s: str, hit: CueHit) -> tuple[str | None, bool]:
    """The topic a cue speaks about, and whether the words reverse the cue's stance.

    Returns ``(None, False)`` when no topic can be found and ``(ANAPHOR, ...)`` when the
    phrase refers back ("welcomed the move").
    """
    mode = hit.mode
    if mode == "anaphor":
        return ANAPHOR, False
    if mode == "negact" and hit.verb:
        return _verb_phrase(hit.verb, s[hit.end :])
    if mode == "no_would":
        inner = hit.text.split()[1:-1]
        return trim_topic(" ".join(inner)), False
    if mode == "subj":
        return _subject_before(s, hit.start, hit.end)
    if mode == "subjverb":
        return _subject_of_verb(s, hit.start), False
    if mode == "modal":
        return _modal(s, hit)
    if mode == "clause":
        rest = s[hit.end :].lstrip()
        that = re.match(r"(?:[\w’'-]+\s+){0,4}?that\s+", rest)  # "warned on Wednesday that"
        if that is not None:
            return clause_topic(rest[that.end() :]), False
        low = rest.lower()
        for prep in ("against ", "of ", "about "):
            if low.startswith(prep):
                return object_after(rest, len(prep)), False
        return clause_topic(rest), False
    if mode == "invite":
        p = _INVITE_PURPOSE.search(s, hit.end)
        if p is not None:
            return object_after(s, p.end()), False
        return _infinitive(s, hit.end)
    if mode == "inf" or hit.text.lower().endswith(" to"):
        rest = s[hit.end :]
        if hit.text.lower().endswith(" to"):
            m = re.match(r"\s+(?P<v>[a-z]+)\b", rest)
            if (
                m
                and m.group("v") not in DETERMINERS
                and (
                    m.group("v") in COMMON_VERBS
                    or m.group("v") in SUPPORTIVE_VERBS
                    or m.group("v") in TRANSPARENT_VERBS
                    or m.group("v") in _NEG_FLIP_VERBS
                )
            ):
                return _verb_phrase(m.group("v"), rest[m.end() :])
            return object_after(s, hit.end), False
        return _infinitive(s, hit.end)
    return object_after(s, hit.end), False


# --------------------------------------------------------------------------- one wording per issue

_STOP = TOPIC_EDGE_STOP | PREPOSITIONS | DETERMINERS


def topic_key(topic: str) -> frozenset[str]:
    """Content words of a topic, lightly stemmed, for matching rewordings."""
    out = set()
    for raw in re.split(r"[\s/-]+", topic.lower()):
        w = re.sub(r"[’']s?$", "", raw.strip(".,;:“”\"'‘’"))
        if not w or w in _STOP:
            continue
        if len(w) > 6 and w.endswith("ing"):
            w = w[:-3]
        elif len(w) > 4 and w.endswith("s") and not w.endswith("ss"):
            w = w[:-1]
        out.add(w)
    return frozenset(out)


SAME_PARTY_OVERLAP = 0.6  # a party rewording its own issue
CROSS_PARTY_OVERLAP = 0.8  # two parties naming one issue almost alike


class TopicBook:
    """Groups topics that name the same issue within an article.

    A party's own earlier topic is matched loosely (so repeated statements land in one
    row); another party's more strictly (so the matrix lines up without merging issues
    that merely share words, like "European troops" and "a debate about European troops").
    Each group is shown with its most used wording.
    """

    def __init__(self) -> None:
        self._entries: list[tuple[frozenset[str], str, int]] = []  # key, party, group
        self._wordings: list[list[str]] = []

    def group(self, topic: str, party: str) -> int:
        """The id of the issue group ``topic`` belongs to (a new one if none fits)."""
        key = topic_key(topic) or frozenset([topic.lower()])
        found = next(
            (
                g
                for k, p, g in self._entries
                if p == party and _overlap(key, k) >= SAME_PARTY_OVERLAP
            ),
            None,
        )
        if found is None:
            found = next(
                (g for k, _, g in self._entries if _overlap(key, k) >= CROSS_PARTY_OVERLAP), None
            )
        if found is None:
            found = len(self._wordings)
            self._wordings.append([])
        self._entries.append((key, party, found))
        self._wordings[found].append(topic)
        return found

    def wording(self, group: int) -> str:
        """The group's most used wording (the first one on a tie)."""
        words = self._wordings[group]
        return max(words, key=lambda w: (words.count(w), -words.index(w)))


def _overlap(a: frozenset[str], b: frozenset[str]) -> float:
    union = len(a | b)
    return len(a & b) / union if union else 0.0
