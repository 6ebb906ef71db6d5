"""Deterministic, explainable matching of predicted parties and positions to gold (§7).

Parties first: every predicted position holder is mapped to a gold party with
:func:`~stance.evaluate.names.match_party`. Then positions, one-to-one and greedily:
a (predicted, gold) pair is a candidate when its parties match and either its evidence
spans overlap or, failing that, its topics are similar enough. Candidates with evidence
overlap come first, higher overlap first, then higher topic similarity, then lower
predicted and gold index, so the result never depends on dict or set order. Every
prediction and every gold row gets a :class:`Decision` saying what happened and why.
Indices in decisions are 0-based, as in the label file's ``positions`` list.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel
from rapidfuzz import fuzz, utils

from ..schema import ArticleAnalysis, Position, Stance
from .labels import Label
from .names import PartyMatch, match_party, normalise_name

DEFAULT_TOPIC_THRESHOLD = 60.0

Span = tuple[int, int]
Outcome = Literal["match", "false_positive", "missed"]


class Decision(BaseModel):
    """One line of the matching audit trail."""

    level: Literal["party", "position"]
    outcome: Outcome
    pred: int | None = None
    gold: int | None = None
    party: str
    topic: str | None = None
    reason: str


class MatchedPair(BaseModel):
    pred: int
    gold: int
    method: Literal["evidence", "topic"]
    evidence_overlap: float
    topic_similarity: float
    gold_stance: Stance
    pred_stance: Stance


@dataclass
class MatchResult:
    """Matching of one article: counts come from here, explanations too."""

    party_tp: int = 0
    party_fp: int = 0
    party_fn: int = 0
    pairs: list[MatchedPair] = field(default_factory=list)
    position_fp: int = 0
    position_fn: int = 0
    decisions: list[Decision] = field(default_factory=list)


def interval_overlap(a: Span, b: Span) -> tuple[int, float]:
    """Characters shared by two spans, and that count over their union (0..1)."""
    shared = max(0, min(a[1], b[1]) - max(a[0], b[0]))
    union = (a[1] - a[0]) + (b[1] - b[0]) - shared
    return shared, (shared / union if union > 0 else 0.0)


def gold_spans(quotes: Sequence[str], text: str) -> list[Span]:
    """Locate gold evidence in the article (first occurrence); quotes not found are skipped."""
    spans = []
    for q in quotes:
        at = text.find(q) if q else -1
        if at >= 0:
            spans.append((at, at + len(q)))
    return spans


def pred_spans(pos: Position) -> list[Span]:
    """Spans of a prediction's grounded evidence."""
    return [
        (e.start, e.end)
        for e in pos.evidence
        if e.status != "not_found" and e.start is not None and e.end is not None and e.end > e.start
    ]


def best_overlap(pred: Sequence[Span], gold: Sequence[Span]) -> float:
    """Best overlap ratio over all (predicted quote, gold quote) pairs; 0 when none share."""
    best = 0.0
    for p in pred:
        for g in gold:
            shared, ratio = interval_overlap(p, g)
            if shared > 0:
                best = max(best, ratio)
    return best


def topic_similarity(a: str, b: str) -> float:
    """Token-set ratio (0-100) of two topics, case and punctuation ignored."""
    return float(fuzz.token_set_ratio(a, b, processor=utils.default_process))


def _aliases_for(name: str, analysis: ArticleAnalysis) -> list[str]:
    key = normalise_name(name)
    out: list[str] = []
    for p in analysis.parties:
        if p.name == name or (key and normalise_name(p.name) == key):
            out.extend([p.name, *p.aliases])
    return out


def match_article(
    analysis: ArticleAnalysis | None,
    label: Label,
    text: str,
    *,
    topic_threshold: float = DEFAULT_TOPIC_THRESHOLD,
    failure: str | None = None,
) -> MatchResult:
    """Match one article's predictions to its gold labels.

    Args:
        analysis: The prediction; ``None`` (a failed article) counts as predicting nothing.
        label: The gold label.
        text: The article body every span refers to.
        topic_threshold: Minimum topic similarity (0-100) for a match without evidence overlap.
        failure: Why there is no prediction, quoted in the "missed" reasons.

    Returns:
        Counts, matched pairs and one decision per predicted party/position and gold row.
    """
    res = MatchResult()
    gold = label.gold_parties()
    predicted = analysis.positions if analysis is not None else []

    # -- parties
    gold_party_of: list[int | None] = []
    for gp in label.positions:
        m = match_party(gp.party, (), gold)
        gold_party_of.append(m.gold if m else None)
    holders = sorted({g for g in gold_party_of if g is not None})

    pred_party: dict[str, PartyMatch | None] = {}
    for pos in predicted:
        if pos.party not in pred_party:
            aliases = _aliases_for(pos.party, analysis) if analysis is not None else []
            pred_party[pos.party] = match_party(pos.party, aliases, gold)
    claimed: dict[int, str] = {}
    for name, m in pred_party.items():
        outcome: Outcome = "false_positive"
        if m is None:
            reason = f"false positive: no gold party matches {name!r}"
        elif gold[m.gold].mentioned_only:
            reason = f"false positive: party {name!r} is mentioned_only in the gold label"
        elif m.gold not in holders:
            reason = f"false positive: gold lists {gold[m.gold].name!r} but gives it no position"
        elif m.gold in claimed:
            outcome, reason = (
                "match",
                (
                    f"same gold party as {claimed[m.gold]!r} ({gold[m.gold].name!r}, by {m.kind}); "
                    "counted once"
                ),
            )
        else:
            outcome = "match"
            claimed[m.gold] = name
            reason = f"matched gold party {gold[m.gold].name!r} by {m.kind}"
            res.party_tp += 1
        if outcome == "false_positive":
            res.party_fp += 1
        # Party decisions name the gold party in the reason; `gold` indices are kept for
        # position rows, where they point into the label's positions list.
        res.decisions.append(Decision(level="party", outcome=outcome, party=name, reason=reason))
    for g in holders:
        if g not in claimed:
            res.party_fn += 1
            why = " (the article failed)" if failure else ""
            res.decisions.append(
                Decision(
                    level="party",
                    outcome="missed",
                    party=gold[g].name,
                    reason=f"missed: no predicted position holder matches {gold[g].name!r}{why}",
                )
            )

    # -- positions
    gspans = [gold_spans(gp.evidence, text) for gp in label.positions]
    candidates: list[tuple[int, float, float, int, int]] = []
    best_topic: dict[int, float] = {}
    for i, pos in enumerate(predicted):
        m = pred_party[pos.party]
        if m is None:
            continue
        pspans = pred_spans(pos)
        for j, gp in enumerate(label.positions):
            if gold_party_of[j] != m.gold:
                continue
            ev = best_overlap(pspans, gspans[j])
            top = topic_similarity(pos.topic, gp.topic)
            best_topic[i] = max(best_topic.get(i, 0.0), top)
            if ev > 0:
                candidates.append((0, -ev, -top, i, j))
            elif top >= topic_threshold:
                candidates.append((1, 0.0, -top, i, j))
    candidates.sort()
    pred_done: dict[int, MatchedPair] = {}
    gold_done: set[int] = set()
    had_candidate = {c[3] for c in candidates}
    for kind, neg_ev, neg_top, i, j in candidates:
        if i in pred_done or j in gold_done:
            continue
        pred_done[i] = MatchedPair(
            pred=i,
            gold=j,
            method="evidence" if kind == 0 else "topic",
            evidence_overlap=round(-neg_ev, 4),
            topic_similarity=round(-neg_top, 2),
            gold_stance=label.positions[j].stance,
            pred_stance=predicted[i].stance,
        )
        gold_done.add(j)

    for i, pos in enumerate(predicted):
        m = pred_party[pos.party]
        pair = pred_done.get(i)
        if pair is not None:
            how = (
                f"evidence overlap {pair.evidence_overlap:.2f}"
                if pair.method == "evidence"
                else f"topic similarity {pair.topic_similarity:.0f} (no evidence overlap)"
            )
            stance = (
                f"stance {pos.stance} = gold"
                if pair.pred_stance == pair.gold_stance
                else f"stance {pos.stance} vs gold {pair.gold_stance}"
            )
            res.pairs.append(pair)
            res.decisions.append(
                Decision(
                    level="position",
                    outcome="match",
                    pred=i,
                    gold=pair.gold,
                    party=pos.party,
                    topic=pos.topic,
                    reason=f"matched gold #{pair.gold} by {how}; {stance}",
                )
            )
            continue
        res.position_fp += 1
        if m is None:
            reason = f"false positive: no gold party matches {pos.party!r}"
        elif gold[m.gold].mentioned_only:
            reason = f"false positive: party {pos.party!r} is mentioned_only"
        elif m.gold not in holders:
            reason = f"false positive: no gold position for party {pos.party!r}"
        elif i in had_candidate:
            reason = "false positive: its matching gold positions were taken by better matches"
        else:
            reason = (
                f"false positive: no gold position for {pos.party!r} overlaps its evidence or "
                f"has a similar topic (best topic similarity {best_topic.get(i, 0.0):.0f} "
                f"< {topic_threshold:.0f})"
            )
        res.decisions.append(
            Decision(
                level="position",
                outcome="false_positive",
                pred=i,
                gold=None,
                party=pos.party,
                topic=pos.topic,
                reason=reason,
            )
        )
    for j, gp in enumerate(label.positions):
        if j in gold_done:
            continue
        res.position_fn += 1
        holder = gold_party_of[j]
        if failure:
            reason = f"missed: no prediction ({failure})"
        elif holder is None or holder not in claimed:
            reason = f"missed: no predicted position for party {gp.party!r}"
        else:
            reason = (
                f"missed: predicted positions for {gp.party!r} neither overlap its evidence nor "
                f"have a similar topic, or matched other gold rows"
            )
        res.decisions.append(
            Decision(
                level="position",
                outcome="missed",
                gold=j,
                party=gp.party,
                topic=gp.topic,
                reason=reason,
            )
        )
    res.pairs.sort(key=lambda p: p.pred)
    return res
