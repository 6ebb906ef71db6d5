"""Canonical parties across a corpus: the rules, in the order they run.

Nodes are names as written *in one article* (the same surname can mean two people in two
articles). Merges, each logged with its rule:

1. ``alias`` – a name the article lists among a party's aliases (only if one party claims it).
2. ``surname`` / ``title`` within one article – "Marsh" or "Foreign Office minister Helen
   Marsh" → "Helen Marsh" when exactly one person in that article fits.
3. ``user_alias`` – the user's alias file; pinned names skip every other rule.
4. ``metonym`` – "Moscow", "the Kremlin" → Russia, from the shipped table.
5. ``case`` / ``honorific`` / ``initials`` – equal names after normalisation, across articles.
6. ``title`` / ``surname`` across articles – only when exactly one person in the whole corpus
   fits; a bare surname that fits several people stays apart, with a note saying so.
7. ``model`` – optionally, a model's answer about the distinct names left: the one call of
   :mod:`stance.compare.llm_merge` (parties and topics together), or a caller's hook.
"""

from __future__ import annotations

import sys
from array import array
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from ..schema import ArticleAnalysis, PartyType
from .graph import Edge, MergeGraph, Reason
from .llm_merge import MergeName
from .models import MergeRecord, MergeSource, PartyEntry, Variant
from .names import NameKey, fold, name_key, stage_rule
from .topics import LlmMerge, apply_model_answer, ask_hook

_STAGE_DETAIL = {
    "case": "the same name once case, accents and punctuation are set aside",
    "honorific": "the same name once leading titles are dropped",
    "initials": "the same name once middle initials are dropped",
}


_NO_KEY = NameKey("", "", "")


@dataclass(slots=True, eq=False)
class _Node:
    # Slots and shared values (interned names, one frozenset per set of types, one NameKey
    # per distinct name): a 10k-article corpus has ~80k nodes.
    article: str
    name: str
    types: frozenset[PartyType] = frozenset()
    roles: tuple[str, ...] = ()
    primary: bool = False  # a party's own name in its article, not an alias or position string
    key: NameKey = _NO_KEY  # set once the node's article has been read (types are final then)

    @property
    def person_like(self) -> bool:
        return not (self.types - {"person", "other"})

    @property
    def full_person(self) -> bool:
        return self.person_like and len(self.key.parts) >= 2


@dataclass
class PartyResolution:
    """Canonical names per (article, name as written), the entries, merges and notes.

    The mapping is stored per node, in the order articles were read, rather than as one dict
    keyed by (article, name): on a large corpus that dict is the biggest thing left.
    """

    spans: dict[str, range]  # article id -> its nodes
    names: list[str]  # node -> name as written (whitespace squashed)
    canon: list[str]  # node -> canonical name
    primary: bytearray  # node -> 1 if it is one of its article's listed parties
    entries: list[PartyEntry]
    merges: list[MergeRecord]
    notes: list[str] = field(default_factory=list)

    def canonical(self, article: str, name: str) -> str | None:
        """The canonical name for ``name`` (whitespace squashed) as written in ``article``."""
        span = self.spans.get(article)
        if span is not None:
            for n in span:  # a handful of names per article
                if self.names[n] == name:
                    return self.canon[n]
        return None

    def listed(self, article: str) -> set[str]:
        """The canonical names of the parties ``article`` lists."""
        span = self.spans.get(article, range(0))
        return {self.canon[n] for n in span if self.primary[n]}


class PartyResolver:
    """Reads articles one at a time (:meth:`read`), then resolves them all (:meth:`run`)."""

    def __init__(self, pins: Mapping[str, str], metonyms: Mapping[str, str]) -> None:
        self.nodes: list[_Node] = []
        self.graph = MergeGraph(0)
        self.pins = pins
        self.metonyms = metonyms
        self.notes: list[str] = []
        self.by_article: dict[str, range] = {}  # an article's nodes are numbered together
        self._full_roots: set[int] = set()  # sets holding a full person's name
        self.heads: dict[str, int] = {}  # canonical name after the rules -> one of its nodes
        self.forced: dict[int, str] = {}  # set root -> the name a model gave it
        self._keys: dict[tuple[str, bool], NameKey] = {}
        self._types: dict[frozenset[PartyType], frozenset[PartyType]] = {}
        self._roles: dict[tuple[str, ...], tuple[str, ...]] = {}

    # -- building -------------------------------------------------------------------------

    def _name_key(self, name: str, person_like: bool) -> NameKey:
        key = self._keys.get((name, person_like))
        if key is None:
            key = self._keys[(name, person_like)] = name_key(name, person_like=person_like)
        return key

    def read(self, analysis: ArticleAnalysis) -> None:
        """Add one article's party names, aliases and position parties (ids must be unique)."""
        aid = analysis.article.id
        first = len(self.nodes)
        local: dict[str, int] = {}

        def node(name: str) -> int | None:
            name = " ".join(name.split())
            if not name:
                return None
            n = local.get(name)
            if n is None:
                n = local[name] = self.graph.add()
                self.nodes.append(_Node(aid, sys.intern(name)))
            return n

        owners: dict[str, set[int]] = {}
        heads: list[int | None] = []
        for i, party in enumerate(analysis.parties):
            n = node(party.name)
            heads.append(n)
            if n is None:
                continue
            here = self.nodes[n]
            here.primary = True
            here.types = here.types | {party.type}
            if party.role and party.role not in here.roles:
                here.roles = (*here.roles, sys.intern(party.role))
            for alias in party.aliases:
                owners.setdefault(" ".join(alias.split()), set()).add(i)
        primaries = {self.nodes[h].name for h in heads if h is not None}
        for alias, claimed_by in owners.items():
            if not alias:
                continue
            if len(claimed_by) > 1 or (
                alias in primaries and local.get(alias) not in {heads[i] for i in claimed_by}
            ):
                self.notes.append(
                    f"article {aid}: alias {alias!r} is claimed by several parties; not merged"
                )
                continue
            (i,) = claimed_by
            head = heads[i]
            a = node(alias)
            if head is None or a is None:
                continue
            self.nodes[a].types = self.nodes[a].types | self.nodes[head].types
            # The detail is written only if the merge is logged (see _describe).
            self.graph.union(head, a, "alias", "rules", None)
        for position in analysis.positions:
            node(position.party)
        self.by_article[aid] = range(first, len(self.nodes))
        for n in self.by_article[aid]:
            here = self.nodes[n]
            here.types = self._types.setdefault(here.types, here.types)
            here.roles = self._roles.setdefault(here.roles, here.roles)
            here.key = self._name_key(here.name, here.person_like)

    # -- rules ----------------------------------------------------------------------------

    def _pin_of(self, n: int) -> str | None:
        name = self.nodes[n].name
        for key in (self._name_key(name, True).key, self._name_key(name, False).key):
            if key in self.pins:
                return self.pins[key]
        return None

    def _country_of(self, n: int) -> str | None:
        node = self.nodes[n]
        if "person" in node.types:
            return None  # "Washington" the person is not the United States
        return self.metonyms.get(self._name_key(node.name, False).key)

    def _index_people(self) -> None:
        # Node ids in arrays, not lists: a list of ints costs 36 bytes an id, an array 8.
        self.people_by_key: dict[str, array[int]] = {}
        self.people_by_last: dict[str, array[int]] = {}
        for n, node in enumerate(self.nodes):
            if node.full_person:
                self.people_by_key.setdefault(node.key.key, array("l")).append(n)
                self.people_by_last.setdefault(node.key.parts[-1], array("l")).append(n)

    def _has_full_person(self, n: int) -> bool:
        return self.graph.find(n) in self._full_roots

    def _fits(self, n: int, candidates: Sequence[int], article: str | None) -> dict[int, int]:
        """Clusters (root → one candidate node) among ``candidates``, other than ``n``'s own."""
        own = self.graph.find(n)
        out: dict[int, int] = {}
        for c in candidates:
            if article is None or self.nodes[c].article == article:
                root = self.graph.find(c)
                if root != own:
                    out.setdefault(root, c)
        return out

    def _among(self, nodes: Sequence[int], article: str | None) -> Sequence[int]:
        """``nodes`` (ascending ids) that belong to ``article``; all of them for None.

        An article's nodes are numbered together, so this is a slice, found by bisection:
        filtering the whole corpus's list for every node of every article is quadratic.
        """
        if article is None:
            return nodes
        span = self.by_article[article]
        return nodes[bisect_left(nodes, span.start) : bisect_left(nodes, span.stop)]

    def _title_fits(self, n: int, article: str | None) -> dict[int, int]:
        """Clusters whose full name ends ``n``'s name: "US President-elect Donald Trump"."""
        parts = self.nodes[n].key.parts
        candidates = [
            c
            for k in range(2, len(parts))
            for c in self._among(self.people_by_key.get(" ".join(parts[-k:]), []), article)
        ]
        return self._fits(n, candidates, article)

    def _surname_fits(self, n: int, article: str | None) -> dict[int, int]:
        people: Sequence[int] = self.people_by_last.get(self.nodes[n].key.parts[0], ())
        return self._fits(n, self._among(people, article), article)

    def _is_bare(self, n: int) -> bool:
        node = self.nodes[n]
        return node.person_like and len(node.key.parts) == 1

    def run(self, llm_merge: LlmMerge | None = None) -> PartyResolution:
        """Every step: the rules, then (given a hook) the model, then the result."""
        self.run_rules()
        if llm_merge is not None:
            answer = ask_hook(llm_merge, self.heads, "party", self.notes)
            if answer is not None:
                self.apply_model(answer)
        return self.result()

    def run_rules(self) -> None:
        """Steps 2–6 (step 1, the article's own aliases, happens in :meth:`read`)."""
        graph, nodes = self.graph, self.nodes
        self._index_people()
        pinned = {n: p for n in range(len(nodes)) if (p := self._pin_of(n)) is not None}
        # Pins first: every later union that would join two different pins is refused.
        for n, canonical in pinned.items():
            graph.pin(n, canonical)

        # 2. Within one article: equal names, then titles, then surnames, each only when
        # exactly one person in that article fits.
        for aid, members in self.by_article.items():
            mine = [n for n in members if n not in pinned and self._country_of(n) is None]
            same: dict[str, list[int]] = {}
            for n in mine:
                same.setdefault(nodes[n].key.key, []).append(n)
            for key, group in same.items():
                self._join_group("name", key, group)
            for n in mine:
                if nodes[n].person_like and len(nodes[n].key.parts) >= 3:
                    self._join_unique(n, self._title_fits(n, aid), "title", "the same article")
            for n in mine:
                if self._is_bare(n):
                    self._join_unique(n, self._surname_fits(n, aid), "surname", "the same article")

        # 3–5. One key per node: user pin, country, or the normalised name. A bare surname
        # ("Smith", "Mr Smith") never joins by name across articles: if its article tied it
        # to a full name it is settled, otherwise it waits for step 6.
        self._full_roots = {graph.find(n) for n, node in enumerate(nodes) if node.full_person}
        deferred: list[int] = []
        groups: dict[tuple[str, str], array[int]] = {}
        for n in range(len(nodes)):
            if n in pinned:
                groups.setdefault(("user", pinned[n]), array("l")).append(n)
            elif (country := self._country_of(n)) is not None:
                groups.setdefault(("country", country), array("l")).append(n)
            elif self._is_bare(n) and nodes[n].key.key in self.people_by_last:
                if not self._has_full_person(n):
                    deferred.append(n)
            else:
                groups.setdefault(("name", nodes[n].key.key), array("l")).append(n)
        for (kind, label), ids in groups.items():
            self._join_group(kind, label, ids)
        del groups
        self._full_roots = set()

        # 6. Across articles: titles, then bare surnames, when the corpus has one candidate.
        for n in range(len(nodes)):
            if n not in pinned and nodes[n].person_like and len(nodes[n].key.parts) >= 3:
                self._join_unique(n, self._title_fits(n, None), "title", "the corpus")
        by_surname: dict[str, list[int]] = {}
        for n in deferred:
            by_surname.setdefault(nodes[n].key.key, []).append(n)
        for surname, group in by_surname.items():
            fits = self._surname_fits(group[0], None)
            if len(fits) == 1:
                for n in group:
                    self._join_unique(n, self._surname_fits(n, None), "surname", "the corpus")
                continue
            self._join_group("name", surname, group)
            who = sorted({nodes[c].name for c in fits.values()})
            arts = sorted({nodes[n].article for n in group})
            self.notes.append(
                f"{nodes[group[0]].name!r} (articles {', '.join(arts)}) not merged: "
                f"several people share that surname ({', '.join(who)})"
            )

        del self.people_by_key, self.people_by_last
        self.heads = {}
        for cluster in graph.clusters():
            self.heads.setdefault(self._name(cluster, None), cluster[0])

    def model_names(self) -> list[MergeName]:
        """The distinct names the rules left, with type, roles and how many articles use them."""
        graph, nodes = self.graph, self.nodes
        types: dict[int, Counter[PartyType]] = {}
        roles: dict[int, list[str]] = {}
        articles: dict[int, set[str]] = {}
        countries: set[int] = set()
        for n, node in enumerate(nodes):
            root = graph.find(n)
            if self._country_of(n) is not None:
                countries.add(root)
            types.setdefault(root, Counter()).update(node.types)
            mine = roles.setdefault(root, [])
            mine.extend(r for r in node.roles if r not in mine and len(mine) < 2)
            articles.setdefault(root, set()).add(node.article)
        out = []
        for name, n in self.heads.items():
            root = graph.find(n)
            specific = [t for t, _ in types[root].most_common() if t != "other"]
            if root in countries:
                specific = ["country"]
            out.append(
                MergeName(
                    name,
                    "party",
                    type=specific[0] if specific else "other",
                    roles=tuple(roles[root]),
                    weight=len(articles[root]),
                )
            )
        return out

    def apply_model(self, answer: Mapping[str, str]) -> int:
        """Step 7: merge by a model's answer; returns how many names it merged."""
        return apply_model_answer(self.graph, self.heads, self.forced, answer, "party")

    def result(self) -> PartyResolution:
        """The canonical names, entries, merge records and notes."""
        return self._result(self.forced)

    def _join_unique(self, n: int, fits: dict[int, int], rule: str, scope: str) -> None:
        node = self.nodes[n]
        if len(fits) > 1:
            who = sorted({self.nodes[c].name for c in fits.values()})
            self.notes.append(
                f"{node.name!r} in article {node.article} not merged: it could be any of "
                f"{', '.join(who)}"
            )
        if len(fits) != 1:
            return
        ((root, candidate),) = fits.items()
        what = "surname" if rule == "surname" else "name (after a title)"
        self.graph.union(
            root,
            n,
            rule,
            "rules",
            f"{node.name!r} matches the {what} of {self.nodes[candidate].name!r}, the only "
            f"such person in {scope}",
        )

    def _join_group(self, kind: str, label: str, members: Sequence[int]) -> None:
        if len(members) < 2:
            return
        anchor = self._anchor(members, label if kind != "name" else None)
        for n in members:
            if n == anchor:
                continue
            a, b = self.nodes[anchor], self.nodes[n]
            rule: str
            source: MergeSource
            if kind == "user":
                rule, source, detail = (
                    "user_alias",
                    "user",
                    f"{b.name!r} is listed under {label!r} in the alias file",
                )
            elif kind == "country" and not stage_rule(a.name, b.name, person_like=False):
                rule, source, detail = (
                    "metonym",
                    "rules",
                    f"{b.name!r} stands for {label} (metonym table)",
                )
            else:
                stage = stage_rule(a.name, b.name, person_like=a.person_like and b.person_like)
                rule, source = stage or "case", "rules"
                if stage == "exact":
                    # Never shown: explain() lets a node inherit its same-named neighbour's
                    # reason, and one string per such edge is megabytes on a large corpus.
                    detail = None
                else:
                    detail = f"{b.name!r} and {a.name!r} are {_STAGE_DETAIL.get(rule, rule)}"
            self.graph.union(anchor, n, rule, source, detail)

    def _anchor(self, members: Sequence[int], canonical: str | None) -> int:
        """The node a set is explained from: the one written as the canonical name, if any."""
        if canonical is not None:
            for n in members:
                if self.nodes[n].name == canonical:
                    return n
            want = name_key(canonical, person_like=False).key
            for n in members:
                if self._name_key(self.nodes[n].name, False).key == want:
                    return n
        return members[0]

    # -- naming and output ----------------------------------------------------------------

    def _name(self, members: Sequence[int], forced: str | None) -> str:
        graph, nodes = self.graph, self.nodes
        pinned = graph.pinned(members[0])
        if pinned is not None:
            return pinned
        if forced is not None:
            return forced
        countries = {c for n in members if (c := self._country_of(n)) is not None}
        if len(countries) == 1:
            return countries.pop()
        per_name: dict[str, set[str]] = {}
        for n in members:
            per_name.setdefault(nodes[n].name, set()).add(nodes[n].article)
        primary = {nodes[n].name for n in members if nodes[n].primary}

        def rank(name: str) -> tuple[bool, bool, bool, int, bool, int, str]:
            key = self._name_key(name, True)
            return (
                name not in primary,  # a party's own name over an alias or a position string
                len(key.parts) < 2,  # a full name over a bare surname
                key.untitled != key.folded,  # without a title over with one
                -len(per_name[name]),  # the form most articles use
                # "Emmanuel Macron" over "EMMANUEL MACRON" or "emmanuel macron"; "NATO" stays
                name.islower() or (name.isupper() and len(key.parts) > 1),
                len(name),
                name,
            )

        return min(per_name, key=rank)

    def _result(self, forced: dict[int, str]) -> PartyResolution:
        graph, nodes = self.graph, self.nodes
        canon: list[str] = [""] * len(nodes)
        entries: list[PartyEntry] = []
        merges: list[MergeRecord] = []
        for members in graph.clusters():
            root_forced = forced.get(graph.find(members[0]))
            name = self._name(members, root_forced)
            root = self._anchor(members, name)
            reasons = graph.explain(
                members, root, lambda a, b: nodes[a].name == nodes[b].name, self._describe
            )
            # One record per name and rule; the articles say where it was written so.
            logged: dict[tuple[str, str, str], tuple[Reason, set[str]]] = {}
            for n in members:
                node = nodes[n]
                canon[n] = name
                if node.name == name:
                    continue
                reason = reasons.get(n) or self._naming_reason(n, name, root_forced)
                if reason is not None:
                    key = (node.name, reason.rule, reason.source)
                    logged.setdefault(key, (reason, set()))[1].add(node.article)
            for (variant, _, _), (reason, arts) in logged.items():
                merges.append(
                    MergeRecord.model_validate(
                        {
                            "from": variant,
                            "to": name,
                            "kind": "party",
                            "rule": reason.rule,
                            "source": reason.source,
                            "articles": sorted(arts),
                            "detail": reason.detail,
                        }
                    )
                )
            entries.append(self._entry(name, members))
        entries.sort(key=lambda e: fold(e.name))
        return PartyResolution(
            spans=self.by_article,
            names=[node.name for node in nodes],
            canon=canon,
            primary=bytearray(node.primary for node in nodes),
            entries=entries,
            merges=merges,
            notes=self.notes,
        )

    def _describe(self, edge: Edge) -> str:
        """The detail of a merge whose text was left unwritten when it was made."""
        if edge.rule == "alias":
            alias, head = self.nodes[edge.b].name, self.nodes[edge.a].name
            return f"{alias!r} is listed as an alias of {head!r} in the same article"
        return "the same name"

    def _naming_reason(self, n: int, name: str, forced: str | None) -> Reason | None:
        node = self.nodes[n]
        if self.graph.pinned(n) == name:
            return Reason(
                "user_alias", "user", f"{node.name!r} is listed under {name!r} in the alias file"
            )
        if forced == name:
            return Reason("model", "model", f"the model named this party {name!r}")
        if self._country_of(n) == name:
            return Reason("metonym", "rules", f"{node.name!r} stands for {name} (metonym table)")
        rule = stage_rule(node.name, name, person_like=node.person_like)
        if rule and rule != "exact":
            return Reason(rule, "rules", f"{node.name!r} and {name!r} are {_STAGE_DETAIL[rule]}")
        return None

    def _entry(self, name: str, members: Sequence[int]) -> PartyEntry:
        nodes = self.nodes
        types: Counter[PartyType] = Counter(t for n in members for t in nodes[n].types)
        if any(self._country_of(n) == name for n in members):
            ptype: PartyType = "country"
        else:
            specific = [t for t, _ in types.most_common() if t != "other"]
            ptype = specific[0] if specific else "other"
        roles: list[str] = []
        variants: dict[str, set[str]] = {}
        for n in members:
            roles.extend(r for r in nodes[n].roles if r not in roles)
            variants.setdefault(nodes[n].name, set()).add(nodes[n].article)
        return PartyEntry(
            name=name,
            type=ptype,
            roles=roles,
            variants=[Variant(name=v, articles=sorted(a)) for v, a in variants.items()],
            articles=sorted({nodes[n].article for n in members}),
        )


def canonicalise_parties(
    analyses: Iterable[ArticleAnalysis],
    *,
    pins: Mapping[str, str] | None = None,
    metonyms: Mapping[str, str] | None = None,
    llm_merge: LlmMerge | None = None,
) -> PartyResolution:
    """Merge party names across a corpus (rules, then optionally one model call).

    Args:
        analyses: The per-article results (unique ids); party names, their aliases and
            every position's party are read.
        pins: Normalised name → canonical, from the user's alias file; these win.
        metonyms: Normalised name → country (see :func:`stance.compare.names.load_metonyms`).
        llm_merge: Optional hook, called once with the distinct names left after the rules.

    Returns:
        (article id, name as written) → canonical name, entries with their variants, merge
        records explaining every name shown under another, and notes on merges refused.
    """
    resolver = PartyResolver(pins or {}, metonyms or {})
    for analysis in analyses:
        resolver.read(analysis)
    return resolver.run(llm_merge)
