"""Cross-article comparison: canonical parties and topics, then who agrees, disagrees, shifts.

>>> from stance.compare import compare
>>> comparison = compare(analyses)            # rules only, no model calls
>>> comparison.model_dump_json(indent=2)      # the comparison.json contract (DESIGN.md §10)
>>> light = compare_light(iter_analyses())    # compact records, for large corpora
>>> merger = LlmMerger(chat, model="gpt-4o-mini")  # one model call for what rules leave
>>> comparison = await acompare(analyses, llm_merge=merger)
"""

from __future__ import annotations

from .aliases import Aliases, load_aliases, parse_aliases
from .build import acompare, acompare_light, compare, compare_light
from .evidence import parse_date, summarise
from .light import LightComparison
from .llm_merge import (
    DEFAULT_MAX_NAMES,
    LlmMerger,
    MergeAnswer,
    MergeName,
    MergeQuestion,
    NameMerger,
    merger_for,
)
from .models import (
    Agreement,
    ArticleInfo,
    Comparison,
    Conflict,
    EvidenceRef,
    MatrixCell,
    MergeRecord,
    OutletCoverage,
    PartyEntry,
    Shift,
    TopicEntry,
    Variant,
    VoiceGap,
)
from .names import load_metonyms, name_key
from .topics import DEFAULT_THRESHOLD, LlmMerge, topic_key

__all__ = [
    "DEFAULT_MAX_NAMES",
    "DEFAULT_THRESHOLD",
    "Agreement",
    "Aliases",
    "ArticleInfo",
    "Comparison",
    "Conflict",
    "EvidenceRef",
    "LightComparison",
    "LlmMerge",
    "LlmMerger",
    "MatrixCell",
    "MergeAnswer",
    "MergeName",
    "MergeQuestion",
    "MergeRecord",
    "NameMerger",
    "OutletCoverage",
    "PartyEntry",
    "Shift",
    "TopicEntry",
    "Variant",
    "VoiceGap",
    "acompare",
    "acompare_light",
    "compare",
    "compare_light",
    "load_aliases",
    "load_metonyms",
    "merger_for",
    "name_key",
    "parse_aliases",
    "parse_date",
    "summarise",
    "topic_key",
]
