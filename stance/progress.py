"""A progress line for long runs: done / failed / cached, tokens and cost so far.

Drawn with rich on stderr, and only on a terminal: piped or redirected output, ``--quiet``
and CI logs get nothing but the final summary line.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from .loaders import discover
from .pricing import PriceTable
from .schema import ArticleAnalysis, ArticleFailure, Usage

_MULTI = (".json", ".jsonl")  # files that may hold several articles


def count_articles(inputs: Iterable[str | Path]) -> int | None:
    """How many articles ``inputs`` hold, or ``None`` if JSON files make that unknowable cheaply."""
    n = 0
    for path in discover(inputs):
        if path.suffix.lower() in _MULTI:
            return None
        n += 1
    return n


class RunProgress:
    """Live counts for one run; a no-op unless ``enabled`` and stderr is a terminal.

    Args:
        total: articles expected, or ``None`` when unknown (see :meth:`set_total`).
        enabled: ``False`` for ``--quiet``.
        model, backend: for the cost estimate.
        prices: the price table; costs show only for models it knows.
    """

    def __init__(
        self,
        *,
        total: int | None = None,
        enabled: bool = True,
        model: str | None = None,
        backend: str | None = None,
        prices: PriceTable | None = None,
        console: Console | None = None,
    ) -> None:
        self.console = console or Console(stderr=True)
        self.enabled = enabled and self.console.is_terminal
        self.model = model
        self.backend = backend
        self.prices = prices
        self.done = 0
        self.failed = 0
        self.cached = 0
        self.usage = Usage()
        self._progress: Progress | None = None
        self._task = None
        if self.enabled:
            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("[bold]stance[/]"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[counts]}"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=self.console,
                transient=True,
                refresh_per_second=5,
            )
            self._task = self._progress.add_task("run", total=total, counts=self._counts())

    def _counts(self) -> str:
        parts = [f"ok {self.done}", f"failed {self.failed}", f"cached {self.cached}"]
        parts.append(f"{self.usage.total_tokens:,} tok")
        cost = self.cost()
        if cost is not None:
            parts.append(f"${cost:.4f}")
        return " · ".join(parts)

    def cost(self) -> float | None:
        """Estimated dollars spent so far, or ``None`` for a model without a price."""
        if self.prices is None:
            return None
        return self.prices.cost(self.model, self.usage, backend=self.backend)

    def add(self, outcome: ArticleAnalysis | ArticleFailure) -> None:
        """Count one finished article."""
        if isinstance(outcome, ArticleFailure):
            self.failed += 1
        else:
            self.done += 1
            if outcome.provenance.cached:
                self.cached += 1
            else:
                self.usage = self.usage + outcome.provenance.usage
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, advance=1, counts=self._counts())

    def set_total(self, total: int | None) -> None:
        """Set how many articles to expect (``None``: unknown)."""
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, total=total)

    def echo(self, line: str) -> None:
        """Print a line on stderr above the live bar (so the two do not garble each other)."""
        self.console.print(line, markup=False, highlight=False, soft_wrap=True)

    def __enter__(self) -> RunProgress:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()
