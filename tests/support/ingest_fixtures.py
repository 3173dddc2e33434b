"""Source files the ingest tests write themselves: a news page, a PDF, a feed, an export."""

from __future__ import annotations

import json
from pathlib import Path

PAGE_PARAGRAPHS = [
    "The Créac'h lighthouse on the island of Ouessant switched to a fully electric lamp on "
    "Tuesday, ending more than a century of oil and gas lighting at one of the busiest "
    "shipping lanes in Europe.",
    "The keeper of the lighthouse, Jean Malgorn, said the old lamp had burned whale oil until "
    "1902 and paraffin for decades after that. \"We kept the flame alive through two wars,\" "
    "he told the Gazette.",
    "A busy strait",
    "More than 150 ships pass through the Ushant traffic separation scheme every day, "
    "according to the French maritime prefecture. The new lamp can be seen from 60 kilometres "
    "away in clear weather.",
    "The conversion cost 2.3 million euros and was funded by the regional council of Brittany.",
]
PAGE_URL = "https://harbour-gazette.example/2024/03/lighthouse-ouessant"
# Words of the page that are not the article: menus, ads, related links, comments, footer.
PAGE_BOILERPLATE = ["Subscribe now", "FerryDeals", "Win a cruise", "Related stories",
                    "Ferry strikes continue", "seafan77", "What a shame", "twenty years ago",
                    "All rights reserved", "Cookie settings", "Comments (2)"]

NEWS_PAGE = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Lighthouse of Ouessant goes electric | The Harbour Gazette</title>
<meta property="og:title" content="Lighthouse of Ouessant goes electric">
<meta property="og:site_name" content="The Harbour Gazette">
<meta property="og:url" content="{PAGE_URL}">
<meta property="article:published_time" content="2024-03-14T08:30:00+01:00">
<meta name="author" content="Marie Le Goff">
</head>
<body>
<header><nav><ul><li><a href="/">Home</a></li><li><a href="/world">World</a></li>
<li><a href="/sport">Sport</a></li><li><a href="/subscribe">Subscribe now</a></li></ul></nav>
</header>
<div class="ad-banner">ADVERTISEMENT: Buy cheap ferry tickets today at FerryDeals!</div>
<main>
<article>
<h1>Lighthouse of Ouessant goes electric</h1>
<p class="byline">By Marie Le Goff, <time datetime="2024-03-14">March 14, 2024</time></p>
<p>{PAGE_PARAGRAPHS[0]}</p>
<p>{PAGE_PARAGRAPHS[1]}</p>
<h2>{PAGE_PARAGRAPHS[2]}</h2>
<p>{PAGE_PARAGRAPHS[3]}</p>
<p>{PAGE_PARAGRAPHS[4]}</p>
</article>
<aside class="related"><h3>Related stories</h3><ul><li><a href="/a">Ferry strikes continue</a>
</li><li><a href="/b">Storm Ciarán damage</a></li></ul></aside>
<div class="ad">Sponsored: Win a cruise to the Caribbean! Click here.</div>
<section id="comments" class="comments">
<h3>Comments (2)</h3>
<div class="comment"><p class="comment-author">seafan77</p>
<p>What a shame, the old lamp was so beautiful. I visited it in 1998.</p></div>
<div class="comment"><p class="comment-author">brestois</p>
<p>Finally! This should have happened twenty years ago.</p></div>
</section>
</main>
<footer><p>© 2024 The Harbour Gazette. All rights reserved. Privacy policy. Cookie settings.</p>
</footer>
</body>
</html>
"""

ATOM_FEED = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Harbour Gazette</title>
  <link href="https://harbour-gazette.example/"/>
  <updated>2024-03-16T10:00:00Z</updated>
  <id>urn:uuid:feed</id>
  <entry>
    <title>Ferry strike ends</title>
    <link href="https://harbour-gazette.example/2024/03/ferry-strike-ends"/>
    <id>urn:uuid:1</id>
    <published>2024-03-15T23:30:00-05:00</published>
    <updated>2024-03-16T09:30:00Z</updated>
    <author><name>Yann Kerv</name></author>
    <summary>The strike is over.</summary>
    <content type="html">&lt;p&gt;The ferry workers' strike ended on Friday after
      &lt;b&gt;nine days&lt;/b&gt; of talks.&lt;/p&gt;&lt;p&gt;Services to the islands resume
      on Monday.&lt;br/&gt;Tickets bought before the strike remain valid.&lt;/p&gt;
      &lt;script&gt;alert("x")&lt;/script&gt;</content>
  </entry>
  <entry>
    <title>Storm warning for Brittany</title>
    <link href="https://harbour-gazette.example/2024/03/storm"/>
    <id>urn:uuid:2</id>
    <updated>2024-03-16T07:00:00Z</updated>
    <content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>Météo-France issued an
      orange warning for the coast of Finistère.</p><p>Winds of 130 km/h are expected
      on Sunday night.</p></div></content>
  </entry>
  <entry>
    <title>Fish market reopens</title>
    <link href="https://harbour-gazette.example/2024/03/fish-market"/>
    <id>urn:uuid:3</id>
    <summary>The fish market of Brest reopened on Saturday after a two-year renovation.</summary>
  </entry>
</feed>
"""

EXPORT_RECORDS = [
    {"title": "Tram line extended to the airport", "text": "The city's tram line now reaches "
     "the airport.\n\nThe extension cost 80 million euros and opened on Monday.",
     "url": "https://city-news.example/tram", "published": "Mon, 06 May 2024 08:00:00 +0200",
     "source": "City News", "author": ["A. Martin", "B. Roux"], "language": "en"},
    {"headline": "Bakery wins national prize", "body": "<p>A bakery in Quimper won the national "
     "baguette prize.</p><p>The jury tasted 170 baguettes.</p>",
     "link": "https://city-news.example/bakery", "date": "2024-05-07"},
]


def write_news_page(folder: Path, name: str = "lighthouse.html") -> Path:
    path = folder / name
    path.write_text(NEWS_PAGE, encoding="utf-8")
    return path


def write_feed(folder: Path, name: str = "gazette.atom") -> Path:
    path = folder / name
    path.write_text(ATOM_FEED, encoding="utf-8")
    return path


def write_export(folder: Path, name: str = "export.jsonl", extra_lines=()) -> Path:
    path = folder / name
    lines = [json.dumps(r, ensure_ascii=False) for r in EXPORT_RECORDS] + list(extra_lines)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# The PDF's text: two paragraphs a page, a word split at a line end ("chan-/nel"), and a
# compound split at a line end ("long-/term") that the text also writes whole.
PDF_PARAGRAPHS = [
    "The dredging of the inner harbour began in April as part of a long-term plan and will "
    "continue until the end of the summer season. Engineers expect to remove about forty "
    "thousand cubic metres of silt from the main channel before the first cruise ships "
    "arrive, under a long-term contract.",
    "The mayor said the work was overdue. Local fishermen complained that the noise scared "
    "the fish away, but the port authority promised compensation for lost catches.",
    "A second phase, planned for next year, will deepen the outer basin to twelve metres so "
    "that container ships can dock at any tide.",
]


def write_pdf(folder: Path, name: str = "dredging.pdf") -> Path:
    """A two-page PDF made with fpdf2, with a running header and page numbers."""
    from fpdf import FPDF

    class Doc(FPDF):
        def header(self):
            self.set_font("Helvetica", size=8)
            self.cell(0, 5, "Harbour Bulletin - internal", new_x="LMARGIN", new_y="NEXT")

        def footer(self):
            self.set_y(-15)
            self.set_font("Helvetica", size=8)
            self.cell(0, 5, f"Page {self.page_no()}", align="C")

    pdf = Doc()
    pdf.set_author("Port Authority of Brest")
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 10, "The harbour dredging report", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=11)
    # Explicit line breaks put "chan-" and "long-" at line ends, as a typesetter would.
    first = PDF_PARAGRAPHS[0].replace("main channel", "main chan-\nnel")
    first = first.replace("under a long-term", "under a long-\nterm")
    pdf.multi_cell(0, 6, first)
    pdf.ln(4)
    pdf.multi_cell(0, 6, PDF_PARAGRAPHS[1])
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    pdf.multi_cell(0, 6, PDF_PARAGRAPHS[2])
    path = folder / name
    pdf.output(str(path))
    return path
