"""Pipeline logic with a fake chat model and recorded responses."""

from __future__ import annotations

import pytest
from conftest import REAL_ARTICLE, recorded

from stance.analyze import aanalyze, build_analysis
from stance.backends.base import ExtractResult
from stance.errors import InvalidOutput, Refusal, TruncatedOutput
from stance.loaders import load_file, make_article
from stance.schema import ExtractedParty, ExtractedPosition, Extraction


async def test_valid_response_is_grounded_with_spans(fake_chat, llm_extractor, real_article_text):
    fake_chat.enqueue(recorded("valid"))
    a = await aanalyze(REAL_ARTICLE, model=llm_extractor())
    assert [p.name for p in a.parties] == ["Donald Trump", "Sergey Ryabkov", "Russia"]
    assert len(a.positions) == 3
    statuses = [e.status for p in a.positions for e in p.evidence]
    # the Russia quote uses a straight apostrophe where the article has a curly one
    assert statuses == ["exact", "exact", "normalised"]
    for p in a.positions:
        for e in p.evidence:
            assert e.start is not None and e.end is not None
            span = real_article_text[e.start : e.end]
            assert span.replace("’", "'") == e.quote.replace("’", "'")
    assert a.provenance.calls == 1 and a.provenance.attempts == 1
    assert a.provenance.usage.total_tokens == 1600
    assert a.provenance.prompt_hash and a.provenance.backend == "openai"
    assert a.warnings == []


async def test_prompt_puts_static_instructions_first_and_article_last(fake_chat, llm_extractor):
    fake_chat.enqueue(recorded("valid"))
    await aanalyze(REAL_ARTICLE, model=llm_extractor())
    messages, response_format = fake_chat.history[0]
    assert [m.role for m in messages] == ["system", "user"]
    assert "DATA, not instructions" in messages[0].content
    user = messages[1].content
    body = load_file(REAL_ARTICLE)[0].text
    assert user.index("<article>") < user.index(body) < user.index("</article>")
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["strict"] is True
    assert "$defs" not in str(response_format)  # inlined for servers without $ref support


async def test_invalid_then_valid_after_one_reask(fake_chat, llm_extractor):
    fake_chat.enqueue(recorded("invalid_stance")).enqueue(recorded("valid"))
    a = await aanalyze(REAL_ARTICLE, model=llm_extractor())
    assert len(fake_chat.history) == 2
    reask_messages = fake_chat.history[1][0]
    assert [m.role for m in reask_messages] == ["system", "user", "assistant", "user"]
    assert "positions.0.stance" in reask_messages[-1].content
    assert a.provenance.calls == 2 and a.provenance.attempts == 2
    assert len(a.positions) == 3


async def test_invalid_twice_fails_with_last_raw_kept(fake_chat, llm_extractor):
    fake_chat.enqueue(recorded("invalid_stance")).enqueue(recorded("invalid_stance"))
    with pytest.raises(InvalidOutput) as err:
        await aanalyze(REAL_ARTICLE, model=llm_extractor())
    assert len(fake_chat.history) == 2  # one re-ask, no more
    assert err.value.attempts == 2
    assert err.value.last_raw and '"in favour"' in err.value.last_raw


async def test_truncated_output_is_reasked_once_then_reported_as_truncated(
    fake_chat, llm_extractor
):
    fake_chat.enqueue(recorded("truncated")).enqueue(recorded("truncated"))
    with pytest.raises(TruncatedOutput, match="finish_reason=length") as err:
        await aanalyze(REAL_ARTICLE, model=llm_extractor())
    assert len(fake_chat.history) == 2
    assert "cut off" in fake_chat.history[1][0][-1].content
    assert err.value.last_raw and err.value.attempts == 2


async def test_truncated_then_valid_succeeds(fake_chat, llm_extractor):
    fake_chat.enqueue(recorded("truncated")).enqueue(recorded("valid"))
    a = await aanalyze(REAL_ARTICLE, model=llm_extractor())
    assert len(a.positions) == 3 and a.provenance.calls == 2


async def test_refusal_is_reasked_once_then_reported(fake_chat, llm_extractor):
    fake_chat.enqueue(recorded("refusal")).enqueue(recorded("refusal"))
    with pytest.raises(Refusal, match="refused"):
        await aanalyze(REAL_ARTICLE, model=llm_extractor())
    assert len(fake_chat.history) == 2


async def test_ungrounded_quote_is_flagged_or_dropped(fake_chat, llm_extractor):
    fake_chat.enqueue(recorded("ungrounded")).enqueue(recorded("ungrounded"))
    a = await aanalyze(REAL_ARTICLE, model=llm_extractor())
    invented = [p for p in a.positions if p.topic == "US troops in Ukraine"]
    assert len(invented) == 1 and invented[0].evidence[0].status == "not_found"
    assert invented[0].evidence[0].start is None
    assert any("not found in the text" in w for w in a.warnings)
    strict = await aanalyze(REAL_ARTICLE, model=llm_extractor(), strict_grounding=True)
    assert [p.topic for p in strict.positions if p.topic == "US troops in Ukraine"] == []
    assert any("no grounded evidence" in w for w in strict.warnings)


def _result(parties, positions):
    return ExtractResult(
        extraction=Extraction(summary="s", key_points=[], parties=parties, positions=positions)
    )


@pytest.mark.parametrize(
    ("party", "aliases", "kept"),
    [
        ("Acme Corp", [], False),  # not in the text: invented
        ("Anna Lind", [], True),
        ("The Environment Minister", ["Lind"], True),  # named through an alias
    ],
)
def test_parties_not_named_in_the_article_are_dropped(party, aliases, kept):
    from stance.backends.baseline import BaselineExtractor

    art = make_article("Environment Minister Anna Lind said the plan “will not work”.", id="a")
    ex = _result(
        [ExtractedParty(name=party, type="person", role=None, aliases=aliases)],
        [
            ExtractedPosition(
                party=party, topic="the plan", position="Against.", stance="oppose",
                attribution="direct_quote", via=None, evidence=["“will not work”"],
            )
        ],
    )  # fmt: skip
    a = build_analysis(art, ex, BaselineExtractor())
    assert (len(a.positions) == 1) is kept
    assert (len(a.parties) == 1) is kept
    if not kept:
        assert any("not named in the article" in w for w in a.warnings)


async def test_long_article_is_chunked_and_merged(fake_chat, llm_extractor):
    from stance.analyze import analyze_one

    sentences = [
        f"Minister Number{i} said the levy was needed in district {i}." for i in range(300)
    ]
    art = make_article(" ".join(sentences), id="long")
    per_chunk = recorded("valid")
    import json

    for i in range(3):
        body = json.loads(json.dumps(per_chunk))
        body["choices"][0]["message"]["content"] = json.dumps(
            {
                "summary": f"part {i}",
                "key_points": [f"k{i}"],
                "parties": [{"name": "Number1", "type": "person", "role": None, "aliases": []}],
                "positions": [
                    {
                        "party": "Number1", "topic": "the levy", "position": "Needed.",
                        "stance": "support", "attribution": "reported_speech", "via": None,
                        "evidence": [sentences[i * 10 + 1]],
                    }
                ],
            }
        )  # fmt: skip
        fake_chat.enqueue(body)
    outcome, result = await analyze_one(art, llm_extractor(), chunk_tokens=2000)
    assert result is not None and result.chunks == len(fake_chat.history) == 3
    assert outcome.summary.text == "part 0"
    assert outcome.summary.key_points == ["k0", "k1", "k2"]
    # one row per party and topic, evidence from every chunk
    assert len(outcome.positions) == 1 and len(outcome.positions[0].evidence) == 3
    for _, (messages, _fmt) in enumerate(fake_chat.history):
        assert "part " in messages[1].content and " of 3 of the article" in messages[1].content
