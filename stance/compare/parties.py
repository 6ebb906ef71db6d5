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
7. ``model`` – optionally, one call to a caller-supplied hook over the distinct names left.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from ..schema import ArticleAnalysis, PartyType
from .graph import MergeGraph, Reason
from .models import MergeRecord, MergeSource, PartyEntry, Variant
from .names import NameKey, fold, name_key, stage_rule
from .topics import LlmMerge, apply_model_merges

_STAGE_DETAIL = {
    "case": "the same name once case, accents and punctuation are set aside",
    "honorific": "the same name once leading titles are dropped",
    "initials": "the same name once middle initials are dropped",
}


@dataclass
class _Node:
    article: str
    name: str
    types: set[PartyType] = field(default_factory=set)
    roles: list[str] = field(default_factory=list)
    primary: bool = False  # a party's own name in its article, not an alias or position string

    @property
    def person_like(self) -> bool:
        return not (self.types - {"person", "other"})

    @cached_property
    def key(self) -> NameKey:  # read only once every article has been read
        return name_key(self.name, person_like=self.person_like)

    @property
    def full_person(self) -> bool:
        return self.person_like and len(self.key.parts) >= 2


@dataclass
class PartyResolution:
    canonical: dict[tuple[str, str], str]  # (article id, name as written) -> canonical name
    entries: list[PartyEntry]
    merges: list[MergeRecord]
    notes: list[str] = field(default_factory=list)


class _Resolver:
    def __init__(
        self,
        analyses: Sequence[ArticleAnalysis],
        pins: Mapping[str, str],
        metonyms: Mapping[str, str],
    ) -> None:
        self.nodes: list[_Node] = []
        self.local: dict[tuple[str, str], int] = {}
        self.graph = MergeGraph(0)
        self.pins = pins
        self.metonyms = metonyms
        self.notes: list[str] = []
        self.by_article: dict[str, list[int]] = {}
        self.members: dict[int, list[int]] = {}
        for analysis in analyses:
            self._read_article(analysis)

    # -- building -------------------------------------------------------------------------

    def _node(self, article: str, name: str) -> int | None:
        name = " ".join(name.split())
        if not name:
            return None
        n = self.local.get((article, name))
        if n is None:
            n = self.graph.add()
            self.nodes.append(_Node(article, name))
            self.local[(article, name)] = n
            self.by_article.setdefault(article, []).append(n)
        return n

    def _read_article(self, analysis: ArticleAnalysis) -> None:
        aid = analysis.article.id
        owners: dict[str, set[int]] = {}
        heads: list[int | None] = []
        for i, party in enumerate(analysis.parties):
            n = self._node(aid, party.name)
            heads.append(n)
            if n is None:
                continue
            node = self.nodes[n]
            node.primary = True
            node.types.add(party.type)
            if party.role and party.role not in node.roles:
                node.roles.append(party.role)
            for alias in party.aliases:
                owners.setdefault(" ".join(alias.split()), set()).add(i)
        primaries = {self.nodes[h].name for h in heads if h is not None}
        for alias, claimed_by in owners.items():
            if not alias:
                continue
            if len(claimed_by) > 1 or (
                alias in primaries
                and self.local.get((aid, alias)) not in {heads[i] for i in claimed_by}
            ):
                self.notes.append(
                    f"article {aid}: alias {alias!r} is claimed by several parties; not merged"
                )
                continue
            (i,) = claimed_by
            head = heads[i]
            a = self._node(aid, alias)
            if head is None or a is None:
                continue
            self.nodes[a].types.update(self.nodes[head].types)
            self.graph.union(
                head,
                a,
                "alias",
                "rules",
                f"{alias!r} is listed as an alias of {self.nodes[head].name!r} in the same article",
            )
        for position in analysis.positions:
            self._node(aid, position.party)

    # -- rules ----------------------------------------------------------------------------

    def _pin_of(self, n: int) -> str | None:
        name = self.nodes[n].name
        for key in (name_key(name).key, name_key(name, person_like=False).key):
            if key in self.pins:
                return self.pins[key]
        return None

    def _country_of(self, n: int) -> str | None:
        node = self.nodes[n]
        if "person" in node.types:
            return None  # "Washington" the person is not the United States
        return self.metonyms.get(name_key(node.name, person_like=False).key)

    def _index_people(self) -> None:
        self.people_by_key: dict[str, list[int]] = {}
        self.people_by_last: dict[str, list[int]] = {}
        for n, node in enumerate(self.nodes):
            if node.full_person:
                self.people_by_key.setdefault(node.key.key, []).append(n)
                self.people_by_last.setdefault(node.key.parts[-1], []).append(n)

    def _has_full_person(self, n: int) -> bool:
        return any(self.nodes[m].full_person for m in self.members[self.graph.find(n)])

    def _fits(self, n: int, candidates: list[int], article: str | None) -> dict[int, int]:
        """Clusters (root → one candidate node) among ``candidates``, other than ``n``'s own."""
        own = self.graph.find(n)
        out: dict[int, int] = {}
        for c in candidates:
            if article is None or self.nodes[c].article == article:
                root = self.graph.find(c)
                if root != own:
                    out.setdefault(root, c)
        return out

    def _title_fits(self, n: int, article: str | None) -> dict[int, int]:
        """Clusters whose full name ends ``n``'s name: "US President-elect Donald Trump"."""
        parts = self.nodes[n].key.parts
        candidates = [
            c
            for k in range(2, len(parts))
            for c in self.people_by_key.get(" ".join(parts[-k:]), [])
        ]
        return self._fits(n, candidates, article)

    def _surname_fits(self, n: int, article: str | None) -> dict[int, int]:
        return self._fits(n, self.people_by_last.get(self.nodes[n].key.parts[0], []), article)

    def _is_bare(self, n: int) -> bool:
        node = self.nodes[n]
        return node.person_like and len(node.key.parts) == 1

    def run(self, llm_merge: LlmMerge | None) -> PartyResolution:
        graph, nodes = self.graph, self.nodes
        self._index_people()
        pinned = {n: p for n in range(len(nodes)) if (p := self._pin_of(n)) is not None}
        # Pins first: every later union that would join two different pins is refused.
        for n, canonical in pinned.items():
            graph.pin(n, canonical)
        free = [n for n in range(len(nodes)) if n not in pinned]

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
        self.members = {}
        for n in range(len(nodes)):
            self.members.setdefault(graph.find(n), []).append(n)
        deferred: list[int] = []
        groups: dict[tuple[str, str], list[int]] = {}
        for n in range(len(nodes)):
            if n in pinned:
                groups.setdefault(("user", pinned[n]), []).append(n)
            elif (country := self._country_of(n)) is not None:
                groups.setdefault(("country", country), []).append(n)
            elif self._is_bare(n) and nodes[n].key.key in self.people_by_last:
                if not self._has_full_person(n):
                    deferred.append(n)
            else:
                groups.setdefault(("name", nodes[n].key.key), []).append(n)
        for (kind, label), group in groups.items():
            self._join_group(kind, label, group)

        # 6. Across articles: titles, then bare surnames, when the corpus has one candidate.
        for n in free:
            if nodes[n].person_like and len(nodes[n].key.parts) >= 3:
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

        # 7. Optionally, the model.
        forced: dict[int, str] = {}
        if llm_merge is not None:
            heads: dict[str, int] = {}
            for members in graph.clusters():
                heads.setdefault(self._name(members, None), members[0])
            apply_model_merges(graph, heads, forced, llm_merge, "party", self.notes)
        return self._result(forced)

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

    def _join_group(self, kind: str, label: str, members: list[int]) -> None:
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
                    detail = f"the same name in articles {a.article} and {b.article}"
                else:
                    detail = f"{b.name!r} and {a.name!r} are {_STAGE_DETAIL.get(rule, rule)}"
            self.graph.union(anchor, n, rule, source, detail)

    def _anchor(self, members: list[int], canonical: str | None) -> int:
        """The node a set is explained from: the one written as the canonical name, if any."""
        if canonical is not None:
            for n in members:
                if self.nodes[n].name == canonical:
                    return n
            want = name_key(canonical, person_like=False).key
            for n in members:
                if name_key(self.nodes[n].name, person_like=False).key == want:
                    return n
        return members[0]

    # -- naming and output ----------------------------------------------------------------

    def _name(self, members: list[int], forced: str | None) -> str:
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
            key = name_key(name)
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
        canonical: dict[tuple[str, str], str] = {}
        entries: list[PartyEntry] = []
        merges: list[MergeRecord] = []
        for members in graph.clusters():
            root_forced = forced.get(graph.find(members[0]))
            name = self._name(members, root_forced)
            root = self._anchor(members, name)
            reasons = graph.explain(members, root, lambda a, b: nodes[a].name == nodes[b].name)
            # One record per name and rule; the articles say where it was written so.
            logged: dict[tuple[str, str, str], tuple[Reason, set[str]]] = {}
            for n in members:
                node = nodes[n]
                canonical[(node.article, node.name)] = name
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
        return PartyResolution(canonical, entries, merges, self.notes)

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

    def _entry(self, name: str, members: list[int]) -> PartyEntry:
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
    analyses: Sequence[ArticleAnalysis],
    *,
    pins: Mapping[str, str] | None = None,
    metonyms: Mapping[str, str] | None = None,
    llm_merge: LlmMerge | None = None,
) -> PartyResolution:
    """Merge party names across a corpus (rules, then optionally one model call).

    Args:
        analyses: The per-article results; party names, their aliases and every
            position's party are read.
        pins: Normalised name → canonical, from the user's alias file; these win.
        metonyms: Normalised name → country (see :func:`stance.compare.names.load_metonyms`).
        llm_merge: Optional hook, called once with the distinct names left after the rules.

    Returns:
        (article id, name as written) → canonical name, entries with their variants, merge
        records explaining every name shown under another, and notes on merges refused.
    """
    resolver = _Resolver(analyses, pins or {}, metonyms or {})
    return resolver.run(llm_merge)
