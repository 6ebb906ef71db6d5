"""The eval runner end to end on a foreign §6 set, with fake extractors (no model, no network)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from stance.backends.base import ExtractResult
from stance.cli.eval import eval_cmd
from stance.errors import ModelError
from stance.evaluate import EvalReport, evaluate, load_report, rescore
from stance.evaluate import runner as runner_mod
from stance.prepare import PreparedArticle
from stance.schema import Extraction, Usage

ROOT = Path(__file__).resolve().parents[1]
ARTICLE = ROOT / "examples" / "articles" / "ukraine-peacekeepers.txt"
LABEL = Path(__file__).resolve().parent / "fixtures" / "eval" / "ukraine-peacekeepers.json"
ID = "ukraine-peacekeepers"

SECTION_10_METRICS = {
    "party_precision", "party_recall", "party_f1", "position_precision", "position_recall",
    "position_f1", "stance_accuracy", "stance_macro_f1", "grounding_rate", "key_fact_coverage",
    "calls_per_article", "tokens_per_article",
}  # fmt: skip

Q_P0 = (
    "Trump argued that \u201cEurope\u201d should play the main role in monitoring a ceasefire "
    "and that no US troops would be involved"
)
Q_G0 = "Trump argued that \u201cEurope\u201d should play the main role in monitoring a ceasefire"


def _party(name: str, *aliases: str) -> dict[str, Any]:
    return {"name": name, "type": "person", "role": None, "aliases": list(aliases)}


def _pos(party: str, topic: str, stance: str, *quotes: str) -> dict[str, Any]:
    return {
        "party": party,
        "topic": topic,
        "position": f"{party} on {topic}.",
        "stance": stance,
        "attribution": "reported_speech",
        "via": None,
        "evidence": list(quotes),
    }


UKRAINE = Extraction.model_validate(
    {
        "summary": "Trump proposed that EU countries send peacekeepers to Ukraine to monitor "
        "a ceasefire.",
        "key_points": ["No US troops would take part."],
        "parties": [
            _party("Donald Trump", "Trump", "US President-elect Donald Trump"),
            _party("Emmanuel Macron", "Macron"),
            _party("Sergey Ryabkov", "Ryabkov"),
        ],
        "positions": [
            # overlaps gold #0 and gold #1; gold #1 goes to the exact quote below
            _pos("US President-elect Donald Trump", "Europe monitoring a truce", "support", Q_P0),
            _pos("Trump", "US troops in Ukraine", "neutral", "no US troops would be involved"),
            # Macron is mentioned_only in the gold label; the topic carries markup to escape
            _pos("Emmanuel Macron", "<script>alert(1)</script> peacekeeping", "support",
                 "Speaking with French President Emmanuel Macron"),
            # a fabricated quote: not grounded, so only the topic (similarity 75) can match
            _pos("Ryabkov", "Ukraine joining NATO", "oppose", "Ryabkov said NATO is a menace"),
        ],
    }
)  # fmt: skip
EMPTY = Extraction(summary="", key_points=[], parties=[], positions=[])


class FakeExtractor:
    """An Extractor returning canned extractions by article id; counts its calls."""

    backend = "test"
    endpoint_host: str | None = None

    def __init__(
        self,
        model: str,
        canned: dict[str, Extraction] | None = None,
        *,
        fail: set[str] = frozenset(),  # type: ignore[assignment]
    ) -> None:
        self.model = model
        self.canned = canned or {}
        self.fail = fail
        self.calls: list[str] = []
        self.closed = False

    def fingerprint(self) -> dict[str, Any]:
        return {"model": self.model}

    async def extract(self, doc: PreparedArticle) -> ExtractResult:
        art_id = doc.article.id
        self.calls.append(art_id)
        if art_id in self.fail:
            raise ModelError("endpoint kept failing", attempts=3, last_raw="{not json")
        return ExtractResult(
            extraction=self.canned.get(art_id, EMPTY),
            usage=Usage(prompt_tokens=80, completion_tokens=20, total_tokens=100),
            calls=1,
            attempts=1,
            latency_s=0.5,
            raw=[f"RAW-{art_id}"],
        )

    async def aclose(self) -> None:
        self.closed = True


@pytest.fixture
def evalset(tmp_path: Path) -> Path:
    root = tmp_path / "foreign-set"
    (root / "articles").mkdir(parents=True)
    (root / "labels").mkdir()
    shutil.copy(ARTICLE, root / "articles" / f"{ID}.txt")
    shutil.copy(LABEL, root / "labels" / f"{ID}.json")
    return root


def add_second_article(root: Path) -> None:
    (root / "articles" / "levy.md").write_text(
        "---\ntitle: Levy\n---\nAna Ruiz said the levy was overdue.\n", encoding="utf-8"
    )
    (root / "labels" / "levy.json").write_text(
        json.dumps(
            {
                "article": "levy",
                "key_facts": ["Ana Ruiz backs the levy"],
                "parties": [{"name": "Ana Ruiz", "aliases": []}],
                "positions": [
                    {
                        "party": "Ana Ruiz",
                        "topic": "the levy",
                        "stance": "support",
                        "evidence": ["Ana Ruiz said the levy was overdue"],
                    }
                ],
            }
        ),  # fmt: skip
        encoding="utf-8",
    )


def forbid_model_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    """From here on, resolving a model or running the pipeline fails the test."""

    def boom(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a model was resolved or called")

    monkeypatch.setattr(runner_mod, "resolve_extractor", boom)
    monkeypatch.setattr(runner_mod, "analyze_articles", boom)


def run_fake(evalset: Path, out: Path | None, **kw: Any) -> tuple[EvalReport, FakeExtractor]:
    model = FakeExtractor("fake-llm", {ID: UKRAINE})
    kw.setdefault("baseline", FakeExtractor("baseline"))
    report = evaluate(evalset, model=model, output=out, resamples=50, **kw)
    return report, model


def test_foreign_set_gives_the_hand_computed_metrics(evalset: Path, tmp_path: Path) -> None:
    report, model = run_fake(evalset, tmp_path / "report")
    assert model.calls == [ID]
    m = report.metrics
    # parties: Trump and Ryabkov found, Macron is mentioned_only (FP), Russia missed
    assert (m.party_precision, m.party_recall, m.party_f1) == pytest.approx((2 / 3, 2 / 3, 2 / 3))
    # positions: 3 matched of 4 predicted and 5 gold
    assert (m.position_precision, m.position_recall) == pytest.approx((0.75, 0.6))
    assert m.position_f1 == pytest.approx(2 / 3)
    # stances of the pairs: support/support, oppose/neutral, oppose/oppose
    assert m.stance_accuracy == pytest.approx(2 / 3)
    assert m.stance_macro_f1 == pytest.approx(5 / 9)
    assert report.confusion.matrix == [[1, 0, 0, 0], [0, 1, 0, 1], [0, 0, 0, 0], [0, 0, 0, 0]]
    # evidence: 3 of 4 quotes found, all three exactly
    assert (m.grounding_rate, m.evidence_exact_rate) == (0.75, 0.75)
    ratio = len(Q_G0) / len(Q_P0)
    assert m.span_overlap == pytest.approx((ratio + 1.0 + 0.0) / 3, abs=1e-3)
    # key facts: proposal (6/7 words) and no US troops (4/5) covered; Russia's view (1/6) not
    assert m.key_fact_coverage == pytest.approx(2 / 3)
    assert (m.calls_per_article, m.tokens_per_article, m.latency_s_per_article) == (1, 100, 0.5)

    art = report.articles[0]
    assert [(p.pred, p.gold, p.method) for p in art.pairs] == [
        (0, 0, "evidence"), (1, 1, "evidence"), (3, 3, "topic"),
    ]  # fmt: skip
    reasons = [d.reason for d in art.decisions]
    assert "false positive: party 'Emmanuel Macron' is mentioned_only" in reasons
    assert "missed: no predicted position for party 'Russia'" in reasons
    assert any(r.startswith(f"matched gold #0 by evidence overlap {ratio:.2f}") for r in reasons)

    assert report.baseline is not None and report.baseline.position_f1 == 0.0
    assert report.baseline_detail is not None and report.baseline_detail.model == "baseline"
    assert report.failures == []


def test_report_files_keys_and_raw_outputs(evalset: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    report, _ = run_fake(evalset, out)
    data = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert {"model", "evalset", "metrics", "ci95", "articles", "baseline"} <= set(data)
    assert data["model"] == "fake-llm" and data["evalset"] == str(evalset)
    assert SECTION_10_METRICS <= set(data["metrics"])
    assert set(data["baseline"]) == set(data["metrics"])
    assert set(data["ci95"]) == set(data["metrics"])
    lo, hi = data["ci95"]["position_f1"]
    assert lo == hi == pytest.approx(2 / 3)  # one article: every resample is the same
    assert data["articles"][0]["id"] == ID and "decisions" in data["articles"][0]
    assert load_report(out / "report.json") == report

    stored = json.loads((out / "raw" / "fake-llm" / f"{ID}.json").read_text(encoding="utf-8"))
    assert stored["raw"] == [f"RAW-{ID}"]
    assert stored["analysis"]["positions"][0]["party"] == "Donald Trump"
    assert (out / "raw" / "baseline" / f"{ID}.json").is_file()

    md = (out / "report.md").read_text(encoding="utf-8")
    assert "| position_f1 | 0.667 | [0.667, 0.667] | 0.000 |" in md
    assert "| oppose | 0 | 1 | 0 | 1 |" in md
    assert "mentioned_only" in md
    html = (out / "report.html").read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "<link" not in html and "<script" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; peacekeeping" in html
    assert "&lt;script&gt;" in md and "<script>" not in md


def test_rescore_reproduces_metrics_without_model_calls(
    evalset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "report"
    first, _ = run_fake(evalset, out)

    forbid_model_calls(monkeypatch)
    again = rescore(out, output=tmp_path / "rescored", resamples=50)
    assert again.metrics == first.metrics
    assert again.ci95 == first.ci95
    assert again.baseline == first.baseline
    assert [a.decisions for a in again.articles] == [a.decisions for a in first.articles]
    assert (tmp_path / "rescored" / "raw" / "fake-llm" / f"{ID}.json").is_file()
    # re-scoring with other rules really re-scores: at 80 the topic-only match is gone
    stricter = rescore(out, output=tmp_path / "strict", topic_threshold=80, resamples=50)
    assert stricter.metrics.position_precision == pytest.approx(0.5)


def test_cli_rescore(evalset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "report"
    first, _ = run_fake(evalset, out, baseline=None)
    forbid_model_calls(monkeypatch)
    res = CliRunner().invoke(eval_cmd, [str(evalset), "--rescore", str(out)])
    assert res.exit_code == 0, res.output
    again = load_report(out / "report.json")
    assert again.metrics == first.metrics and again.created_at >= first.created_at
    assert any(r.split()[:2] == ["position_f1", "0.667"] for r in res.stdout.splitlines())


def test_compare_to_flags_a_regression(evalset: Path, tmp_path: Path) -> None:
    old_dir = tmp_path / "old"
    run_fake(evalset, old_dir)
    old = json.loads((old_dir / "report.json").read_text(encoding="utf-8"))
    old["metrics"]["position_f1"] = 0.95
    old["ci95"]["position_f1"] = [0.90, 1.0]  # half-width 0.05; new 0.667 is far below
    old["metrics"]["party_f1"] = 0.70
    old["ci95"]["party_f1"] = [0.40, 1.0]  # half-width 0.30; new 0.667 is within it
    (old_dir / "report.json").write_text(json.dumps(old), encoding="utf-8")

    new_dir = tmp_path / "new"
    report, _ = run_fake(evalset, new_dir, compare_to=old_dir / "report.json")
    assert report.deltas is not None
    assert report.deltas["position_f1"].regression is True
    assert report.deltas["position_f1"].delta == pytest.approx(2 / 3 - 0.95)
    assert report.deltas["party_f1"].regression is False
    assert report.regressions == ["position_f1"]
    md = (new_dir / "report.md").read_text(encoding="utf-8")
    assert "Regression rule: A metric is flagged as a regression" in md
    assert "| position_f1 | 0.667 | [0.667, 0.667] | 0.000 | -0.283 | **yes** |" in md
    assert 'class="regression"' in (new_dir / "report.html").read_text(encoding="utf-8")


def test_failed_article_counts_as_empty_and_is_listed(evalset: Path, tmp_path: Path) -> None:
    add_second_article(evalset)
    model = FakeExtractor("fake-llm", {ID: UKRAINE}, fail={"levy"})
    report = evaluate(evalset, model=model, output=tmp_path / "r", baseline=None, resamples=20)
    assert [f.article_id for f in report.failures] == ["levy"]
    levy = next(a for a in report.articles if a.id == "levy")
    assert levy.failed and levy.metrics.position_recall == 0.0
    assert levy.decisions[-1].reason.startswith("missed: no prediction (ModelError")
    # pooled: the failed article's gold row is a miss, so recall drops from 3/5 to 3/6
    assert report.metrics.position_recall == pytest.approx(0.5)
    assert report.baseline is None
    stored = json.loads((tmp_path / "r" / "raw" / "fake-llm" / "levy.json").read_text("utf-8"))
    assert stored["failure"]["error"] == "ModelError" and stored["raw"] == ["{not json"]


def test_model_that_is_the_baseline_runs_once(evalset: Path, tmp_path: Path) -> None:
    add_second_article(evalset)
    model = FakeExtractor("baseline", {ID: UKRAINE})
    report = evaluate(evalset, model=model, baseline="baseline", resamples=20)
    assert sorted(model.calls) == ["levy", ID]  # no second run for the baseline row
    assert report.baseline == report.metrics
    assert model.closed is False  # a caller's extractor is the caller's to close


def _patch_resolver(monkeypatch: pytest.MonkeyPatch) -> dict[str, FakeExtractor]:
    made: dict[str, FakeExtractor] = {}

    def resolve(spec: str | None, **kw: Any) -> FakeExtractor:
        made[str(spec)] = FakeExtractor(str(spec), {ID: UKRAINE} if spec != "baseline" else {})
        made[str(spec)].kw = kw  # type: ignore[attr-defined]
        return made[str(spec)]

    monkeypatch.setattr(runner_mod, "resolve_extractor", resolve)
    return made


def test_cli_eval_prints_model_beside_baseline(
    evalset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = _patch_resolver(monkeypatch)
    out = tmp_path / "r"
    res = CliRunner().invoke(
        eval_cmd,
        [
            str(evalset),
            "--model",
            "fake-llm",
            "--base-url",
            "http://127.0.0.1:9/v1",
            "-o",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    header, _rule, *rows = res.stdout.strip().splitlines()
    assert header.split() == ["metric", "fake-llm", "95%", "CI", "baseline"]
    assert any(r.split()[:2] == ["position_f1", "0.667"] and r.split()[-1] == "0.000" for r in rows)
    assert set(made) == {"fake-llm", "baseline"}
    assert made["fake-llm"].kw["base_url"] == "http://127.0.0.1:9/v1"
    assert made["fake-llm"].closed and made["baseline"].closed  # resolved here, closed here
    assert (out / "report.html").is_file()


def test_cli_eval_exit_codes(
    evalset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _patch_resolver(monkeypatch)
    no_out = CliRunner().invoke(eval_cmd, [str(evalset), "--model", "fake-llm"])
    assert no_out.exit_code == 2 and "-o/--output" in no_out.output

    (evalset / "labels" / f"{ID}.json").write_text("{", encoding="utf-8")
    bad = CliRunner().invoke(eval_cmd, [str(evalset), "--model", "x", "-o", str(tmp_path / "r")])
    assert bad.exit_code == 1
    assert bad.stderr.count("\n") == 1 and bad.stderr.startswith("stance: error: eval set")

    missing = CliRunner().invoke(eval_cmd, [str(evalset), "--rescore", str(tmp_path / "none")])
    assert missing.exit_code == 1 and "no stored eval run" in missing.stderr


def test_cli_json_without_baseline(
    evalset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = _patch_resolver(monkeypatch)
    res = CliRunner().invoke(
        eval_cmd,
        [str(evalset), "--model", "fake-llm", "--no-baseline", "--json", "-o", str(tmp_path / "r")],
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["baseline"] is None and data["metrics"]["position_f1"] == pytest.approx(2 / 3)
    assert set(made) == {"fake-llm"}


def test_stance_evaluate_is_callable_after_the_package_is_imported(evalset: Path) -> None:
    import stance
    import stance.evaluate  # binds the package to the name; it must still be callable

    model = FakeExtractor("fake-llm", {ID: UKRAINE})
    report = stance.evaluate(evalset, model=model, baseline=None, resamples=10)  # type: ignore[operator]
    assert isinstance(report, EvalReport) and report.model == "fake-llm"
