"""Union–find over name occurrences that remembers why each pair was joined.

Parties and topics are both merged this way: nodes are names as written, every union is an
edge with a rule and a one-line reason, and :meth:`MergeGraph.explain` walks those edges from
the node that carries the canonical name so the merge log can say, for every other name,
which rule brought it in.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .models import MergeSource


@dataclass(frozen=True)
class Edge:
    a: int
    b: int
    rule: str
    source: MergeSource
    detail: str


@dataclass(frozen=True)
class Reason:
    rule: str
    source: MergeSource
    detail: str


class MergeGraph:
    """Disjoint sets of node ids, with user pins that never merge with one another."""

    def __init__(self, size: int) -> None:
        self._parent = list(range(size))
        self._pin: dict[int, str] = {}
        self._edges: list[Edge] = []

    def add(self) -> int:
        self._parent.append(len(self._parent))
        return len(self._parent) - 1

    def __len__(self) -> int:
        return len(self._parent)

    def find(self, x: int) -> int:
        root = x
        while self._parent[root] != root:
            root = self._parent[root]
        while self._parent[x] != root:  # path compression keeps later finds cheap
            self._parent[x], x = root, self._parent[x]
        return root

    def pin(self, x: int, canonical: str) -> None:
        """Tie ``x``'s set to a user-given canonical name."""
        self._pin[self.find(x)] = canonical

    def pinned(self, x: int) -> str | None:
        return self._pin.get(self.find(x))

    def union(self, a: int, b: int, rule: str, source: MergeSource, detail: str) -> bool:
        """Join the sets of ``a`` and ``b``; refused when both carry different user pins.

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
        self._edges.append(Edge(a, b, rule, source, detail))
        return True

    def clusters(self) -> list[list[int]]:
        """Sets as sorted member lists, ordered by their smallest member."""
        groups: dict[int, list[int]] = {}
        for x in range(len(self._parent)):
            groups.setdefault(self.find(x), []).append(x)
        return sorted(groups.values(), key=lambda members: members[0])

    def explain(
        self, members: Iterable[int], root: int, same: Callable[[int, int], bool]
    ) -> dict[int, Reason | None]:
        """For each member, the reason that linked it, walking outward from ``root``.

        An edge between two nodes for which ``same`` holds (the same name written in two
        articles) adds nothing to explain, so the far node inherits the near node's reason.

        Returns:
            member → reason; None for ``root`` and for nodes that inherit "no reason" from it.
        """
        wanted = set(members)
        adjacent: dict[int, list[Edge]] = {}
        for e in self._edges:
            if e.a in wanted and e.b in wanted:
                adjacent.setdefault(e.a, []).append(e)
                adjacent.setdefault(e.b, []).append(e)
        reasons: dict[int, Reason | None] = {root: None}
        queue = deque([root])
        while queue:
            here = queue.popleft()
            for e in adjacent.get(here, []):
                there = e.b if e.a == here else e.a
                if there in reasons:
                    continue
                if same(here, there):
                    reasons[there] = reasons[here]
                else:
                    reasons[there] = Reason(e.rule, e.source, e.detail)
                queue.append(there)
        return reasons
