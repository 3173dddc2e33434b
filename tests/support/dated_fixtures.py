"""Invented, dated articles for the as-of tests: an older and a newer report of a ferry fare.

Both articles are written for these tests (no real outlet, place or figure). The newer one
changes the figure the older one gave, so a question asked before it must get the older one.
"""

from __future__ import annotations

from pathlib import Path

import pytest

OLD_ID, NEW_ID = "velmora-ferry-fare-2023", "velmora-ferry-fare-2024"
OLD_DATE, NEW_DATE = "2023-03-10", "2024-08-02"
NEW_URL = "https://news.example.org/harbour/2024/08/02/velmora-ostrin-ferry-fare-rises-again"
FARE_QUESTION = "How much does a ferry crossing from Velmora to Ostrin cost?"

ARTICLES = {
    OLD_ID: (f"""---
title: "Velmora harbour sets the first fare for the new Ostrin ferry"
source: "The Harbour Ledger"
published: {OLD_DATE}
url: https://news.example.org/harbour/2023/03/10/velmora-ostrin-ferry-first-fare
---
The harbour authority of Velmora opened the ferry line to Ostrin on Friday after two years of
work on the new pier.

A single crossing from Velmora to Ostrin costs 14 crowns for adults, the harbour authority
announced, and children under twelve travel free.

The ferry Saltwind makes four crossings a day and carries up to 180 passengers and 30 cars.
"""),
    NEW_ID: (f"""---
title: "Ostrin ferry fare rises after a second ship joins the line"
source: "The Harbour Ledger"
published: {NEW_DATE}
url: {NEW_URL}
---
A second ship, the Grey Heron, joined the Velmora to Ostrin line this week, and the operator
doubled the number of daily crossings to eight.

Since August, a crossing from Velmora to Ostrin costs 19 crowns for adults, up from 14 crowns,
the operator said, blaming the price of fuel and the second crew.

Passenger numbers on the line rose by a third in the first year, according to the port office.
"""),
}


def write_dated_corpus(folder: Path) -> Path:
    """The two articles as Markdown files with front matter; returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for article_id, text in ARTICLES.items():
        (folder / f"{article_id}.md").write_text(text, encoding="utf-8")
    return folder


@pytest.fixture(scope="session")
def ferry(tmp_path_factory, embedder):
    """A Citebot over the two dated articles (real index, the session's model)."""
    from index.config import resolve
    from index.engine import Citebot

    root = tmp_path_factory.mktemp("ferry")
    corpus = write_dated_corpus(root / "corpus")
    bot = Citebot(resolve(corpus=corpus, index=root / "index"))
    bot._index_embedder = embedder
    bot.build()
    return bot
