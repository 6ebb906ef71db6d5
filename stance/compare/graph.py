"""Union–find over name occurrences that remembers why each pair was joined.

Parties and topics are both merged this way: nodes are names as written, every union is an
edge with a rule and a one-line reason, and :meth:`MergeGraph.explain` walks those edges from
the node that carries the canonical name so the merge log can say, for every other name,
which rule brought it in.
"""

from __future__ import annotations

from array import array
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .models import MergeSource


@dataclass(frozen=True, slots=True)
class Edge:
    a: int
    b: int
    rule: str
    source: MergeSource
    detail: str | None  # None: the same name on both ends, which needs no explaining


@dataclass(frozen=True)
class Reason:
    rule: str
    source: MergeSource
    detail: str


class MergeGraph:
    """Disjoint sets of node ids, with user pins that never merge with one another.

    Parents and edges live in flat arrays rather than one object per node or edge: a large
    corpus has ~80k party nodes, and this graph is the comparison's biggest structure.
    """

    def __init__(self, size: int) -> None:
        self._parent = array("l", range(size))
        self._pin: dict[int, str] = {}
        # Edge i joins _ea[i] and _eb[i], by rule _rule[i] from _source[i], because _detail[i].
        self._ea = array("l")
        self._eb = array("l")
        self._rule: list[str] = []
        self._source: list[MergeSource] = []
        self._detail: list[str | None] = []
        # Edges by node, built on demand for explain(): node n's edge ids are
        # _adj[_adj_start[n]:_adj_start[n + 1]], in the order they were made.
        self._adj_start: array[int] | None = None
        self._adj = array("l")

    def add(self) -> int:
        n = len(self._parent)
        self._parent.append(n)
        return n

    def __len__(self) -> int:
        return len(self._parent)

    def find(self, x: int) -> int:
        parent = self._parent
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:  # path compression keeps later finds cheap
            parent[x], x = root, parent[x]
        return root

    def pin(self, x: int, canonical: str) -> None:
        """Tie ``x``'s set to a user-given canonical name."""
        self._pin[self.find(x)] = canonical

    def pinned(self, x: int) -> str | None:
        return self._pin.get(self.find(x))

    def union(self, a: int, b: int, rule: str, source: MergeSource, detail: str | None) -> bool:
        """Join the sets of ``a`` and ``b``; refused when both carry different user pins.

        ``detail`` may be None when the caller can write it later (see :meth:`explain`).

        Returns:
            True if the sets were joined, False if already one set or the join was refused.
        """
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return False
        pa, pb = self._pin.get(ra), self._pin.get(rb)
        if pa is not None and pb is not None and pa != pb:
            return False
        self._parent[rb] = ra
        if pb is not None:
            self._pin[ra] = self._pin.pop(rb)
        self._ea.append(a)
        self._eb.append(b)
        self._rule.append(rule)
        self._source.append(source)
        self._detail.append(detail)
        self._adj_start = None
        return True

    def clusters(self) -> list[array[int]]:
        """Sets as sorted member arrays, ordered by their smallest member."""
        groups: dict[int, array[int]] = {}
        for x in range(len(self._parent)):
            groups.setdefault(self.find(x), array("l")).append(x)
        return sorted(groups.values(), key=lambda members: members[0])

    def _edge(self, i: int) -> Edge:
        return Edge(self._ea[i], self._eb[i], self._rule[i], self._source[i], self._detail[i])

    def _index(self) -> array[int]:
        """Edges by node (compressed rows): one pass to count, one to fill, in edge order."""
        if self._adj_start is None:
            n, ea, eb = len(self._parent), self._ea, self._eb
            start = array("l", [0]) * (n + 1)
            for i in range(len(ea)):
                start[ea[i] + 1] += 1
                start[eb[i] + 1] += 1
            for x in range(n):
                start[x + 1] += start[x]
            fill = array("l", start)
            adj = array("l", [0]) * (2 * len(ea))
            for i in range(len(ea)):
                for end in (ea[i], eb[i]):
                    adj[fill[end]] = i
                    fill[end] += 1
            self._adj_start, self._adj = start, adj
        return self._adj_start

    def explain(
        self,
        members: Iterable[int],
        root: int,
        same: Callable[[int, int], bool],
        describe: Callable[[Edge], str] | None = None,
    ) -> dict[int, Reason | None]:
        """For each member, the reason that linked it, walking outward from ``root``.

        An edge between two nodes for which ``same`` holds (the same name written in two
        articles) adds nothing to explain, so the far node inherits the near node's reason.
        ``describe`` writes the detail of an edge made without one (``detail=None``).

        Returns:
            member → reason; None for ``root`` and for nodes that inherit "no reason" from it.
        """
        start, adj = self._index(), self._adj
        wanted = set(members)
        reasons: dict[int, Reason | None] = {root: None}
        queue = deque([root])
        while queue:
            here = queue.popleft()
            for k in range(start[here], start[here + 1]):
                i = adj[k]
                a, b = self._ea[i], self._eb[i]
                if a not in wanted or b not in wanted:
                    continue
                there = b if a == here else a
                if there in reasons:
                    continue
                if same(here, there):
                    reasons[there] = reasons[here]
                else:
                    detail = self._detail[i]
                    if detail is None:
                        detail = (
                            describe(self._edge(i)) if describe is not None else "the same name"
                        )
                    reasons[there] = Reason(self._rule[i], self._source[i], detail)
                queue.append(there)
        return reasons
