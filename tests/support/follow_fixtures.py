"""A tiny web site on 127.0.0.1 serving feeds and pages whose content a test changes, and the
invented articles it serves (none of them is anyone's real news)."""

from __future__ import annotations

import random
import threading
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ENTRIES = {
    "otter-count": ("Otters return to the Veldt canal",
                    ["Volunteers counted eleven otters along the Veldt canal on Saturday, the "
                     "highest number since the survey began in 1996.",
                     "The canal trust said cleaner water had brought back the fish the otters "
                     "feed on."]),
    "tram-depot": ("New tram depot opens in Harrowgate",
                   ["The Harrowgate tram depot opened on Monday with room for forty trams and "
                    "a roof covered in solar panels.",
                    "The city council said the depot cost 38 million crowns."]),
    "bell-foundry": ("Bell foundry of Marlow Cross casts its last bell",
                     ["The bell foundry of Marlow Cross cast its last bell on Friday, a "
                      "tenor bell weighing 1,240 kilograms, before closing after 310 years.",
                      "The foundry's archive of bell patterns will go to the county museum."]),
}
PAGE = ("Glassworks of Tarnby reopens",
        ["The old glassworks of Tarnby reopened on Thursday as a workshop where visitors can "
         "watch glassblowers shape lamps from recycled bottles.",
         "The workshop was restored by a cooperative of nine craftspeople."])
UNIQUE = "The saltmakers of Quillon Bay boiled their brine over peat fires until 1874."


def atom_feed(base: str, ids: list[str], title: str = "The Veldt Courier") -> bytes:
    """An Atom feed of some ENTRIES, each with its full text, link and date."""
    items = []
    for n, key in enumerate(ids, 1):
        head, paragraphs = ENTRIES[key]
        body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
        items.append(f"""<entry><title>{escape(head)}</title>
<id>tag:veldt-courier.example,2025:{key}</id><link href="{base}/news/{key}"/>
<published>2025-02-{n:02d}T09:00:00Z</published><updated>2025-02-{n:02d}T09:00:00Z</updated>
<content type="html">{escape(body)}</content></entry>""")
    return f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>{escape(title)}</title>
<id>tag:veldt-courier.example,2025:feed</id><updated>2025-02-10T09:00:00Z</updated>
{''.join(items)}</feed>""".encode()


def news_page(title: str, paragraphs: list[str], url: str) -> bytes:
    """A news page as a site serves it: the article among a menu and a footer."""
    body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>{escape(title)} | The Tarnby Post</title><meta property="og:title" content="{escape(title)}">
<meta property="og:url" content="{url}"><meta property="og:site_name" content="The Tarnby Post">
</head><body><nav><a href="/">Home</a> <a href="/local">Local</a></nav>
<article><h1>{escape(title)}</h1>{body}</article>
<footer>All rights reserved, The Tarnby Post.</footer></body></html>""".encode()


def big_article(size: int = 300_000, paragraphs: int = 1, seed: int = 7) -> str:
    """About ``size`` characters of invented prose with UNIQUE in the middle, as ``paragraphs``
    paragraphs (1: a single paragraph of ~300 KB)."""
    rng = random.Random(seed)
    words = ("harbour council river market bridge winter station village ferry museum school "
             "mayor farmers festival railway weather island library bakery museum orchard "
             "lantern quarry canal meadow chapel tannery granary windmill").split()
    sentences, total = [], 0
    while total < size:
        s = " ".join(rng.choice(words) for _ in range(rng.randint(8, 16))).capitalize() + "."
        sentences.append(s)
        total += len(s) + 1
    sentences.insert(len(sentences) // 2, UNIQUE)
    per = -(-len(sentences) // paragraphs)
    chunks = [" ".join(sentences[i:i + per]) for i in range(0, len(sentences), per)]
    return "\n\n".join(chunks)


class LocalSite:
    """``with LocalSite() as site``: site.pages[path] = (content type, bytes); site.url(path)."""

    def __init__(self):
        self.pages: dict[str, tuple[str, bytes]] = {}
        self.hits: list[str] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                site.hits.append(self.path)
                found = site.pages.get(self.path)
                status, ctype, data = (200, *found) if found else (404, "text/plain", b"gone")
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path

    def feed(self, path: str, ids: list[str]) -> str:
        self.pages[path] = ("application/atom+xml", atom_feed(self.base, ids))
        return self.url(path)

    def page(self, path: str, title: str, paragraphs: list[str]) -> str:
        self.pages[path] = ("text/html; charset=utf-8",
                            news_page(title, paragraphs, self.url(path)))
        return self.url(path)

    def __enter__(self) -> LocalSite:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
