"""Bootstrap 95% intervals over articles, pure Python and seeded (reproducible reports)."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

from .metrics import METRIC_NAMES, Counts, from_vector, metrics_from_counts, to_vector

DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 0


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (``q`` in 0..1) of already sorted values."""
    if not sorted_values:
        raise ValueError("no values")
    pos = q * (len(sorted_values) - 1)
    lo, hi = math.floor(pos), math.ceil(pos)
    frac = pos - lo
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * frac


def bootstrap_ci(
    per_article: Sequence[Counts],
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> dict[str, tuple[float, float] | None]:
    """95% percentile intervals for every metric, resampling articles with replacement.

    Each resample pools the counts of the drawn articles, exactly like the corpus metric,
    so the interval describes the micro average. A metric undefined in a resample (e.g.
    no matched pairs, so no stance accuracy) is left out of that metric's distribution;
    a metric undefined in every resample gets ``None``.
    """
    n = len(per_article)
    out: dict[str, tuple[float, float] | None] = {name: None for name in METRIC_NAMES}
    if n == 0 or resamples <= 0:
        return out
    rng = random.Random(seed)
    samples: dict[str, list[float]] = {name: [] for name in METRIC_NAMES}
    vectors = [to_vector(c) for c in per_article]
    width = len(vectors[0])
    for _ in range(resamples):
        total = [0.0] * width
        for _k in range(n):
            for i, x in enumerate(vectors[rng.randrange(n)]):
                total[i] += x
        m = metrics_from_counts(from_vector(total)).model_dump()
        for name in METRIC_NAMES:
            if m[name] is not None:
                samples[name].append(float(m[name]))
    for name, values in samples.items():
        if values:
            values.sort()
            out[name] = (percentile(values, 0.025), percentile(values, 0.975))
    return out
