"""Canonical topics: normalise, merge near-duplicates; the user (and maybe a model) decide the rest.

A topic is normalised to a set of word stems (case, accents, punctuation, possessives,
stopwords and simple plurals removed), so "Ukraine's NATO membership" and "NATO membership
for Ukraine" are one topic. Distinct normalised topics are then merged when their token sets
are similar (rapidfuzz ``token_sort_ratio`` over the sorted, de-duplicated stems, which
unlike ``token_set_ratio`` does not score a topic 100 against any longer topic that contains
it) and neither swaps a proper noun for another ("ceasefire in Gaza" never merges with
"ceasefire in Ukraine", however similar the rest).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from rapidfuzz import fuzz, process

from .graph import MergeGraph, Reason
from .llm_merge import MergeName
from .models import MergeRecord, NameKind, TopicEntry, Variant
from .names import fold

DEFAULT_THRESHOLD = 88.0

STOPWORDS = frozenset(
    """
    a an the of on in for to and or by with at from over about as into onto its their his her
    this that these those be is are was were
    """.split()
)
_POSSESSIVE = re.compile(r"['’]s\b")
_APOSTROPHES = re.compile(r"['’‘`´]")
_NON_WORD = re.compile(r"[\W_]+")

LlmMerge = Callable[[list[str], NameKind], Mapping[str, str]]


def stem(token: str) -> str:
    """Strip a plural ending: policies → policy, talks → talk, taxes → tax; not 'us' or 'crisis'."""
    if len(token) <= 3 or not token.endswith("s"):
        return token
    if token.endswith("ies") and len(token) > 4:
        return token[:-3] + "y"
    if token.endswith(("sses", "xes")):
        return token[:-2]
    if token.endswith(("ss", "us", "is")):
        return token
    return token[:-1]


def _words(topic: str) -> list[tuple[str, bool]]:
    """(stem, is_proper) per non-stopword; proper = capitalised past word one, or an acronym."""
    out: list[tuple[str, bool]] = []
    text = _APOSTROPHES.sub("", _POSSESSIVE.sub("", topic)).replace(".", "")
    for i, word in enumerate(_NON_WORD.sub(" ", text).split()):
        token = fold(word)
        if token in STOPWORDS:
            continue
        proper = (i > 0 and word[:1].isupper()) or (len(word) > 1 and word.isupper())
        out.append((stem(token), proper))
    return out


def topic_key(topic: str) -> str:
    """The normalised topic: sorted distinct stems (case/punctuation/stopword/plural-free)."""
    stems = {s for s, _ in _words(topic)}
    if not stems:  # a topic made only of stopwords is still a topic
        return " ".join(fold(topic).split())
    return " ".join(sorted(stems))


def _proper(topic: str) -> frozenset[str]:
    return frozenset(s for s, proper in _words(topic) if proper)


@dataclass
class TopicResolution:
    canonical: dict[str, str]  # topic as written -> canonical topic
    entries: list[TopicEntry]
    merges: list[MergeRecord]
    notes: list[str] = field(default_factory=list)


@dataclass
class _Group:
    """Topics as written that share a normalised key."""

    key: str
    nodes: list[int]
    weight: int
    proper: frozenset[str]


class TopicTally:
    """Topics as written, counted as positions are read: the input of :func:`resolve_topics`."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.index: dict[str, int] = {}
        self.articles: dict[int, dict[str, None]] = {}  # ordered sets: list lookups are quadratic
        self.counts: Counter[int] = Counter()

    def add(self, article: str, topic: str) -> None:
        n = self.index.get(topic)
        if n is None:
            n = self.index[topic] = len(self.names)
            self.names.append(topic)
        self.counts[n] += 1
        self.articles.setdefault(n, {})[article] = None


def canonicalise_topics(
    occurrences: Iterable[tuple[str, str]],
    *,
    pins: Mapping[str, str] | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    llm_merge: LlmMerge | None = None,
) -> TopicResolution:
    """Merge topics across a corpus.

    Args:
        occurrences: (article id, topic as written), one per position.
        pins: Normalised topic → canonical, from the user's alias file; these win.
        threshold: Minimum similarity (0–100) for a near-duplicate merge.
        llm_merge: Optional hook called once with the distinct canonical topics left after
            the rules; returns topic → topic it should merge into (or a better name).

    Returns:
        The mapping from each topic as written to its canonical topic, entries with variants,
        and one merge record per topic shown under another name.
    """
    tally = TopicTally()
    for aid, raw in occurrences:
        tally.add(aid, raw)
    return resolve_topics(tally, pins=pins, threshold=threshold, llm_merge=llm_merge)


def resolve_topics(
    tally: TopicTally,
    *,
    pins: Mapping[str, str] | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    llm_merge: LlmMerge | None = None,
) -> TopicResolution:
    """:func:`canonicalise_topics` over topics already counted."""
    resolver = TopicResolver(tally, pins=pins, threshold=threshold)
    resolver.run_rules()
    if llm_merge is not None:
        answer = ask_hook(llm_merge, resolver.heads, "topic", resolver.notes)
        if answer is not None:
            resolver.apply_model(answer)
    return resolver.result()


class TopicResolver:
    """The topic merge in steps: :meth:`run_rules`, then :meth:`apply_model`, then :meth:`result`.

    The steps are separate so that the reduce can ask a model about the party and the topic
    names left after the rules in one call (:mod:`stance.compare.llm_merge`).
    """

    def __init__(
        self,
        tally: TopicTally,
        *,
        pins: Mapping[str, str] | None = None,
        threshold: float = DEFAULT_THRESHOLD,
    ) -> None:
        self.tally = tally
        self.pins = dict(pins or {})
        self.threshold = threshold
        self.graph = MergeGraph(len(tally.names))
        self.forced: dict[int, str] = {}
        self.notes: list[str] = []
        self.heads: dict[str, int] = {}  # canonical name after the rules -> one of its nodes

    def run_rules(self) -> None:
        """Alias-file pins, equal normalised keys, then near-duplicates."""
        graph, pins, threshold = self.graph, self.pins, self.threshold
        names, counts = self.tally.names, self.tally.counts
        keys = [topic_key(t) for t in names]

        # 1. The user's alias file.
        pinned_first: dict[str, int] = {}
        for n, k in enumerate(keys):
            pinned_to = pins.get(k)
            if pinned_to is None:
                continue
            graph.pin(n, pinned_to)
            if pinned_to in pinned_first:
                graph.union(
                    pinned_first[pinned_to],
                    n,
                    "user_alias",
                    "user",
                    f"{names[n]!r} is listed under {pinned_to!r} in the alias file",
                )
            else:
                pinned_first[pinned_to] = n

        # 2. Same normalised key.
        groups: dict[str, _Group] = {}
        for n, k in enumerate(keys):
            g = groups.get(k)
            if g is None:
                groups[k] = _Group(k, [n], counts[n], _proper(names[n]))
                continue
            graph.union(
                g.nodes[0],
                n,
                "normalise",
                "rules",
                f"{names[n]!r} and {names[g.nodes[0]]!r} have the same words once case, "
                "punctuation, stopwords and plurals are set aside",
            )
            g.nodes.append(n)
            g.weight += counts[n]
            g.proper |= _proper(names[n])

        # 3. Near-duplicates, most frequent first so a cluster is named by its common form;
        # each group is compared with cluster heads only, so similarity never chains A~B~C
        # into A~C.
        heads: list[_Group] = []
        for g in sorted(groups.values(), key=lambda g: (-g.weight, g.key)):
            joined = False
            if heads:
                for _, score, i in process.extract(
                    g.key,
                    [h.key for h in heads],
                    scorer=fuzz.token_sort_ratio,
                    score_cutoff=threshold,
                    limit=None,
                ):
                    head = heads[i]
                    # A proper noun swapped for another ("Gaza" for "Ukraine") is another
                    # topic; one only added ("a ceasefire" / "a Ukraine ceasefire") usually
                    # is not.
                    head_only = set(head.key.split()) - set(g.key.split())
                    g_only = set(g.key.split()) - set(head.key.split())
                    if head_only & head.proper and g_only & g.proper:
                        continue
                    if graph.union(
                        head.nodes[0],
                        g.nodes[0],
                        "similarity",
                        "rules",
                        f"{names[g.nodes[0]]!r} ~ {names[head.nodes[0]]!r} "
                        f"(token-set similarity {score:.0f} >= {threshold:.0f})",
                    ):
                        joined = True
                        break
            if not joined:
                heads.append(g)

        self.heads = {}
        for members in graph.clusters():
            self.heads.setdefault(_name(graph, members, names, counts, None), members[0])

    def model_names(self) -> list[MergeName]:
        """The distinct topics the rules left, each with how many positions it names."""
        graph, counts = self.graph, self.tally.counts
        weight: Counter[int] = Counter()
        for n in range(len(self.tally.names)):
            weight[graph.find(n)] += counts[n]
        return [
            MergeName(name, "topic", weight=weight[graph.find(n)]) for name, n in self.heads.items()
        ]

    def apply_model(self, answer: Mapping[str, str]) -> int:
        """Merge (or rename) by a model's answer; returns how many names it merged."""
        return apply_model_answer(self.graph, self.heads, self.forced, answer, "topic")

    def result(self) -> TopicResolution:
        """Canonical names, entries with their variants, and the merge records."""
        graph, forced = self.graph, self.forced
        names, articles, counts = self.tally.names, self.tally.articles, self.tally.counts
        canonical: dict[str, str] = {}
        entries: list[TopicEntry] = []
        merges: list[MergeRecord] = []
        for members in graph.clusters():
            root_id = graph.find(members[0])
            name = _name(graph, members, names, counts, forced.get(root_id))
            root = next((m for m in members if names[m] == name), members[0])
            reasons = graph.explain(members, root, lambda a, b: False)
            by_variant: dict[str, tuple[Reason, list[str]]] = {}
            for m in members:
                canonical[names[m]] = name
                reason = reasons.get(m) or _naming_reason(graph, m, name, forced.get(root_id))
                if names[m] != name and reason is not None:
                    by_variant.setdefault(names[m], (reason, []))[1].extend(articles[m])
            for variant, (reason, arts) in by_variant.items():
                merges.append(
                    MergeRecord.model_validate(
                        {
                            "from": variant,
                            "to": name,
                            "kind": "topic",
                            "rule": reason.rule,
                            "source": reason.source,
                            "articles": sorted(set(arts)),
                            "detail": reason.detail,
                        }
                    )
                )
            all_articles = sorted({a for m in members for a in articles[m]})
            entries.append(
                TopicEntry(
                    name=name,
                    variants=[
                        Variant(name=names[m], articles=sorted(articles[m])) for m in members
                    ],
                    articles=all_articles,
                    n_positions=sum(counts[m] for m in members),
                )
            )
        entries.sort(key=lambda e: (-e.n_positions, fold(e.name)))
        return TopicResolution(canonical, entries, merges, self.notes)


def _name(
    graph: MergeGraph,
    members: Sequence[int],
    names: list[str],
    counts: Counter[int],
    forced: str | None,
) -> str:
    pinned = graph.pinned(members[0])
    if pinned is not None:
        return pinned
    if forced is not None:
        return forced
    # The most used phrasing; ties go to the shorter, then alphabetical, so runs are stable.
    best = min(members, key=lambda m: (-counts[m], len(names[m]), names[m]))
    return names[best]


def _naming_reason(graph: MergeGraph, node: int, name: str, forced: str | None) -> Reason | None:
    pinned = graph.pinned(node)
    if pinned is not None and pinned == name:
        return Reason("user_alias", "user", f"the alias file names this topic {name!r}")
    if forced is not None and forced == name:
        return Reason("model", "model", f"the model named this topic {name!r}")
    return None


def ask_hook(
    llm_merge: LlmMerge, heads: Mapping[str, int], kind: NameKind, notes: list[str]
) -> dict[str, str] | None:
    """Call a caller's per-kind hook over the distinct names; None (and a note) if it fails."""
    try:
        return dict(llm_merge(sorted(heads), kind))
    except Exception as exc:  # the hook is the caller's code: never lose the comparison to it
        notes.append(f"llm_merge for {kind}s failed ({type(exc).__name__}: {exc}); rules only")
        return None


def apply_model_answer(
    graph: MergeGraph,
    heads: dict[str, int],
    forced: dict[int, str],
    answer: Mapping[str, str],
    kind: NameKind,
) -> int:
    """Apply a model's answer about the distinct canonical names; return the merges made.

    ``heads`` maps each current canonical name to one node of its set. The answer maps a
    name to the name it should be shown under: another canonical name (merge) or a new one
    (rename; only a caller's hook does that, :mod:`~stance.compare.llm_merge` answers with
    listed names only). Unknown names, self-maps and anything a user pin forbids are ignored.
    """
    merged = 0
    for source_name, target in sorted(answer.items()):
        if (
            not isinstance(source_name, str)
            or not isinstance(target, str)
            or source_name not in heads
            or not target.strip()
            or target == source_name
        ):
            continue
        node, target = heads[source_name], target.strip()
        if target in heads:
            if graph.union(
                heads[target],
                node,
                "model",
                "model",
                f"the model merged {source_name!r} into {target!r}",
            ):
                forced[graph.find(node)] = target
                merged += 1
        elif graph.pinned(node) is None:
            # A new name: later names the model sends to it merge here instead of renaming.
            forced[graph.find(node)] = target
            heads[target] = node
    return merged
