"""Synthetic news articles for benchmarks: deterministic, varied, with attributed quotes.

Every article is built from templates with a seeded random generator, so runs are
repeatable; each has a unique body (and content hash), a title, a handful of named parties
and several attributed statements, so the baseline and grounding do real work. The text is
written for this purpose and describes no real event.
"""

from __future__ import annotations

import random
from pathlib import Path

# fmt: off
FIRST = ["Ana", "Ben", "Chloe", "Dmitri", "Elif", "Farid", "Greta", "Hiro", "Ines", "Jonas",
         "Kemal", "Lena", "Marek", "Nadia", "Omar", "Petra", "Quentin", "Rosa", "Sven", "Tala"]
LAST = ["Alder", "Brandt", "Castell", "Dorne", "Eklund", "Farrow", "Grady", "Holm", "Ivers",
        "Jarl", "Kovac", "Lind", "Marsh", "Novak", "Orlov", "Pike", "Quill", "Reyes", "Stroud"]
ROLES = ["the finance minister", "the opposition leader", "a senior diplomat", "the mayor",
         "the union's general secretary", "the central bank governor", "a government spokesperson",
         "the committee chair", "the defence minister", "an industry lobbyist"]
ORGS = ["the Harbour Council", "the Northern Alliance", "the Transport Union", "Greenfield Energy",
        "the Ministry of Trade", "the Civic Party", "the Farmers' Federation", "Meridian Bank"]
TOPICS = ["the bridge toll", "the fuel levy", "the port expansion", "the rail strike",
          "the pension reform", "the border checks", "the water tariff", "the housing quota"]
VERBS_SUPPORT = ["backed", "welcomed", "defended", "endorsed"]
VERBS_OPPOSE = ["rejected", "criticised", "condemned", "opposed"]
SAY = ["said", "told reporters", "argued", "warned", "insisted"]
QUOTES = ["a necessary step for the region", "a burden the poorest cannot carry",
          "long overdue and broadly fair", "rushed through without proper debate",
          "the only serious plan on the table", "a gift to a handful of insiders",
          "good for jobs and good for the budget", "a mistake we will pay for for years"]
FILLER = ["The debate has run for months and is expected to reach a vote before the summer.",
          "Officials said the final figures would be published next week.",
          "Several regional papers have covered the dispute in detail.",
          "Analysts expect the issue to shape the coming budget negotiations.",
          "Talks resumed on Tuesday after a short pause over the weekend.",
          "The plan was first announced in the spring and revised twice since."]
# fmt: on


def article_text(i: int, rng: random.Random) -> tuple[str, str]:
    """Title and body of synthetic article ``i``."""
    topic = rng.choice(TOPICS)
    people = [(f"{rng.choice(FIRST)} {rng.choice(LAST)}", rng.choice(ROLES)) for _ in range(4)]
    paras = [
        f"Dispatch {i}: the row over {topic} deepened on Monday as {rng.choice(ORGS)} "
        f"{rng.choice(VERBS_SUPPORT + VERBS_OPPOSE)} the latest proposal."
    ]
    for name, role in people:
        surname = name.split()[-1]
        quote = rng.choice(QUOTES)
        paras.append(
            f"{name}, {role}, {rng.choice(SAY)} that {topic} was \u201c{quote}\u201d. "
            f"{surname} {rng.choice(VERBS_SUPPORT + VERBS_OPPOSE)} the measure in a statement "
            f"and added that talks would continue. {rng.choice(FILLER)}"
        )
    paras.append(
        f"According to {rng.choice(ORGS)}, the cost of {topic} has risen by {rng.randint(2, 40)} "
        f"per cent since the plan was drafted. {rng.choice(FILLER)} {rng.choice(FILLER)}"
    )
    paras.append(f"Reference number {i}-{rng.getrandbits(32):08x}.")
    return f"Dispute over {topic} (report {i})", "\n\n".join(paras)


def synthesise(folder: Path, n: int, *, seed: int = 7) -> Path:
    """Write ``n`` articles as ``folder/NNNNN.txt`` (title on the first line); return folder."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        title, body = article_text(i, rng)
        (folder / f"{i:05d}.txt").write_text(f"{title}\n{body}\n", encoding="utf-8")
    return folder
