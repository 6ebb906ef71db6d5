"""The ``baseline`` analyser: a deterministic, rule-based extraction with no LLM (DESIGN.md §3).

It is the eval floor, like Lead-3 in summarisation, and the offline default:

* summary: the lead sentences (:mod:`.summary`);
* parties: speakers of attribution patterns — *X said*, *"...," said X*, *according to X*,
  *X described ... as* — with titles split off names and surnames mapped to full names
  (:mod:`.attribution`, :mod:`.names`);
* stance: a cue lexicon with negation and hedges (:mod:`.cues`);
* topic: the noun phrase the cue governs (:mod:`.topics`);
* evidence: the sentence the statement came from, copied exactly from the article.

Usage::

    from stance.baseline import extract
    extraction = extract(prepare(article, counter_for(None)))
"""

from __future__ import annotations

from .analyser import extract, extract_with_cues

__all__ = ["extract", "extract_with_cues"]
