"""Bounded work (issue 14, defect 9): URL fetches have an overall deadline and follow only a
few http(s) redirects to public hosts; a deeply nested JSON line fails alone; /cite's caches
are bounded."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import HashEmbedder, assert_exact_quotes, run_cli

PAGE = (b"<html><head><title>Harbour news</title></head><body><article><h1>Harbour news</h1>"
        b"<p>The ferry to the island left at noon with forty passengers aboard, the harbour "
        b"master said on Monday after the storm had passed.</p></article></body></html>")


class _Handler(BaseHTTPRequestHandler):
    hits: list[str] = []

    def log_message(self, *args):  # quiet
        pass

    def do_GET(self):  # noqa: N802 - http.server's name
        self.hits.append(self.path)
        port = self.server.server_address[1]
        if self.path == "/trickle":
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            try:
                for _ in range(600):
                    self.wfile.write(b"<")
                    self.wfile.flush()
                    time.sleep(0.2)
            except OSError:
                return
        elif self.path == "/to-ftp":
            self._redirect("ftp://127.0.0.1/file.html")
        elif self.path == "/to-localhost":
            self._redirect(f"http://localhost:{port}/page")
        elif self.path.startswith("/loop"):
            n = int(self.path.removeprefix("/loop") or 0)
            self._redirect(f"/loop{n + 1}")
        elif self.path == "/page":
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(PAGE)))
            self.end_headers()
            self.wfile.write(PAGE)
        else:
            self.send_error(404)

    def _redirect(self, where):
        self.send_response(302)
        self.send_header("Location", where)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_a_trickling_server_is_cut_at_the_overall_deadline(server):
    from index.errors import IngestError
    from index.ingest.fetch import fetch_url

    t0 = time.monotonic()
    with pytest.raises(IngestError, match="not fetched within 2 s"):
        fetch_url(server + "/trickle", timeout=20, deadline=2)
    assert time.monotonic() - t0 < 6  # every read came within the 20 s timeout


def test_redirects_only_to_http_and_https(server):
    from index.errors import IngestError
    from index.ingest.fetch import fetch_url

    with pytest.raises(IngestError, match="only http and https"):
        fetch_url(server + "/to-ftp")


def test_at_most_a_few_redirects(server):
    from index.errors import IngestError
    from index.ingest.fetch import MAX_REDIRECTS, fetch_url

    _Handler.hits.clear()
    with pytest.raises(IngestError):
        fetch_url(server + "/loop")
    assert len([h for h in _Handler.hits if h.startswith("/loop")]) <= MAX_REDIRECTS + 1


def test_a_public_page_cannot_redirect_into_a_private_address(server, monkeypatch):
    from index.errors import IngestError
    from index.ingest import fetch

    # The URL given is on a local address: the user chose it, and its redirects are followed.
    data, _ = fetch.fetch_url(server + "/to-localhost")
    assert data == PAGE
    # Taken as a public host (127.0.0.1 standing in for one), its redirect into localhost is not.
    monkeypatch.setattr(fetch, "is_private_host", lambda host: host != "127.0.0.1")
    with pytest.raises(IngestError, match="local or private address"):
        fetch.fetch_url(server + "/to-localhost")


@pytest.mark.parametrize("host, private", [("127.0.0.1", True), ("10.1.2.3", True),
                                           ("192.168.0.1", True), ("169.254.169.254", True),
                                           ("::1", True), ("0.0.0.0", True),
                                           ("8.8.8.8", False), ("::ffff:127.0.0.1", True)])
def test_private_addresses(host, private):
    from index.ingest.fetch import is_private_host

    assert is_private_host(host) is private


def test_a_deeply_nested_json_line_fails_alone(tmp_path):
    export = tmp_path / "export.jsonl"
    export.write_text("\n".join([
        json.dumps({"title": "Ferry news", "text": "The ferry left at noon [on time]."}),
        "[" * 200_000,
        json.dumps({"title": "Nested fine", "text": "A storm {warning} was lifted.",
                    "meta": {"a": {"b": [1, 2]}}}),
        '{"title": "' + "[" * 5000 + '", "text": "Brackets inside a string are just text."}',
    ]), encoding="utf-8")
    corpus = tmp_path / "corpus"
    r = run_cli("add", "--no-index", "--json", str(export), "--corpus", str(corpus))
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert (out["added"], out["failed"]) == (3, 1)
    failed = [o for o in out["outcomes"] if o["status"] == "failed"]
    assert failed[0]["origin"].endswith("export.jsonl:2")
    assert "nested more than 64 levels" in failed[0]["message"]


def test_cite_caches_stay_within_their_budget(tmp_path, monkeypatch):
    from index.build import build_index
    from index.cite import bounded_cache
    from index.cite.lookup import _data, lookup
    from index.store.store import IndexStore

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for n in range(30):
        (corpus / f"harbour-{n}.md").write_text(
            f"---\ntitle: Harbour report {n}\n---\n"
            + f"Boats in the harbour numbered {n} on the day of report {n}. " * 30,
            encoding="utf-8")
    build_index(corpus, tmp_path / "index", HashEmbedder(), export_onnx=False)
    monkeypatch.setattr(bounded_cache, "CITE_CACHE_CHARS", 20_000)
    store = IndexStore(tmp_path / "index")
    result = lookup(store, "boats in the harbour")
    assert result.kind == "exact" and result.total == 30 * 30
    assert_exact_quotes(result.matches, corpus)
    bodies = _data(store).bodies
    assert 0 < bodies.size <= 20_000
    assert len(bodies) < 2 * 30  # not every article's folded and normalized body
    again = lookup(store, "boats in the harbour")  # evicted entries are simply made again
    assert again.to_dict() == result.to_dict()
