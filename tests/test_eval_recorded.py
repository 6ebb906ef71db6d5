"""An eval over articles of evals/ with recorded model responses served at the wire.

The responses are chat.completion bodies kept in tests/fixtures/responses (valid.json for
the real article, ua-kremlin-short.json for the Kremlin brief). The Kremlin one makes two
typical mistakes on purpose: it reads the outlet's framing ("brushed aside") as the
Kremlin's stance (gold: neutral), and it gives a position to Donald Trump, whom the label
lists as mentioned only. Expected figures, by hand:

* real article: gold holders Trump, Ryabkov, Russia, the unnamed officials (4); predicted
  Trump, Ryabkov, Russia -> parties TP 3 FN 1; positions 3 predicted, all matched, of 8 gold.
* Kremlin brief: holders the Kremlin, Orlov, Melnyk (3) + Trump (mentioned only: FP);
  positions 4 predicted, 3 matched, of 3 gold; stance right for Orlov and Melnyk only.
* pooled: party P = 6/7, R = 6/7; position P = 6/7, R = 6/11; stance accuracy 5/6.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import httpx2
import openai
import pytest
from conftest import recorded

from stance.backends import resolve_extractor
from stance.evaluate import evaluate

ROOT = Path(__file__).resolve().parents[1]
RECORDED = {"ua-peacekeepers-real": "valid", "ua-kremlin-short": "ua-kremlin-short"}


@pytest.fixture
def small_set(tmp_path: Path) -> Path:
    for aid in RECORDED:
        for sub in ("articles", "labels"):
            (tmp_path / sub).mkdir(exist_ok=True)
            src = next((ROOT / "evals" / sub).glob(f"{aid}.*"))
            shutil.copy(src, tmp_path / sub / src.name)
    return tmp_path


def test_eval_with_recorded_responses_gives_the_hand_computed_metrics(small_set, tmp_path):
    seen: list[str] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        user = json.loads(request.content)["messages"][1]["content"]
        aid = next(a for a in RECORDED if f"- id: {a}\n" in user)
        seen.append(aid)
        return httpx2.Response(200, json=recorded(RECORDED[aid]))

    client = openai.AsyncOpenAI(
        api_key="sk-test",
        base_url="http://llm.test/v1",
        max_retries=0,
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(handler)),
    )
    extractor = resolve_extractor("gpt-4o-mini", client=client)
    report = evaluate(small_set, model=extractor, output=tmp_path / "report")
    assert sorted(seen) == sorted(RECORDED)  # one call per article, no re-asks
    m = report.metrics
    assert m.party_precision == pytest.approx(6 / 7)
    assert m.party_recall == pytest.approx(6 / 7)
    assert m.position_precision == pytest.approx(6 / 7)
    assert m.position_recall == pytest.approx(6 / 11)
    assert m.stance_accuracy == pytest.approx(5 / 6)
    assert m.grounding_rate == 1.0
    assert m.calls_per_article == 1.0
    assert m.tokens_per_article == pytest.approx((1600 + 1270) / 2)
    # the baseline row is computed on the same set, without the model
    assert report.baseline.position_f1 > 0
    written = json.loads((tmp_path / "report" / "report.json").read_text())
    assert set(written["metrics"]) >= {"party_f1", "position_f1", "stance_macro_f1"}
