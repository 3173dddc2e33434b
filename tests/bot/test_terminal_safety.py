"""Terminal output carries no control sequences, and no token in any case or encoding
(issue 14, defects 7 and 10)."""

from __future__ import annotations

import json
import logging
from urllib.parse import quote, quote_plus

import pytest
from conftest import run_cli

ESCAPES = ("\x1b", "\x07", "\x9b", "\r", "\u202e")
ARTICLE = ('---\ntitle: "Harbour \\e]0;pwned\\a news \\e[2J"\nsource: "Gazette \\e[31mred"\n'
           'url: "https://example.org/h\\e]8;;https://evil.example/\\e\\\\"\n---\n'
           "The harbour master counted eleven trawlers in the bay on Monday.\x1b[2J\x1b[H "
           "Fishermen said the catch was good.\r Fake line\x9b31m.\n\n"
           "The ferry to the island left at noon with \u202eforty\u202c passengers aboard.\n")


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    root = tmp_path_factory.mktemp("escapes")
    corpus = root / "corpus"
    corpus.mkdir()
    (corpus / "harbour.md").write_bytes(ARTICLE.encode("utf-8"))
    env = {"CITEBOT_CORPUS": str(corpus), "CITEBOT_INDEX": str(root / "index")}
    r = run_cli("index", "build", env=env)
    assert r.returncode == 0, r.stderr
    return corpus, env


def _clean(out: bytes) -> str:
    text = out.decode("utf-8")
    for ch in ESCAPES:
        assert ch not in text, (ch, text)
    return text


@pytest.mark.parametrize("args", [
    ["ask", "How many trawlers were in the bay?"],
    ["ask", "--format", "markdown", "How many trawlers were in the bay?"],
    ["list"],
    ["source", "harbour:p1"],
    ["source", "--format", "markdown", "harbour:p1"],
    ["cite", "the catch was good"],
])
def test_text_output_has_no_terminal_controls(hostile, args):
    _corpus, env = hostile
    r = run_cli(*args, env=env)
    assert r.returncode == 0, r.stderr
    text = _clean(r.stdout)
    _clean(r.stderr)
    assert "harbour" in text.lower() or "Harbour" in text


def test_json_output_keeps_the_exact_text_with_controls_escaped(hostile):
    corpus, env = hostile
    r = run_cli("ask", "--json", "How many trawlers were in the bay?", env=env)
    assert r.returncode == 0
    raw = r.stdout.decode("utf-8")
    for ch in ESCAPES:
        assert ch not in raw
    answer = json.loads(raw)
    body = ARTICLE.split("---\n", 2)[2]
    assert answer["citations"][0]["article"]["title"].startswith("Harbour \x1b]0;pwned")
    for c in answer["citations"]:
        assert body[c["start"]:c["end"]] == c["quote"]


def test_error_lines_have_no_terminal_controls(hostile):
    _corpus, env = hostile
    r = run_cli("source", "harbour\x1b]0;pwned\x07:p1", env=env)
    assert r.returncode == 2
    _clean(r.stderr)


TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


@pytest.mark.parametrize("form", [TOKEN, TOKEN.lower(), TOKEN.upper(), quote(TOKEN, safe=""),
                                  quote(TOKEN, safe="").lower(), quote_plus(TOKEN),
                                  TOKEN.capitalize()])
def test_the_token_is_scrubbed_in_any_case_and_encoding(form, caplog):
    from bot.telegram.logging import REDACTED, protect, scrub

    protect(TOKEN)
    line = f"Invalid token: https://api.example/bot{form}/getMe"
    assert scrub(line) == f"Invalid token: https://api.example/bot{REDACTED}/getMe"
    with caplog.at_level(logging.DEBUG):
        try:
            raise RuntimeError(f"Unauthorized {form.capitalize()}")
        except RuntimeError:
            logging.getLogger("telegram.ext").debug("failed %s", form, exc_info=True)
    assert caplog.text and "[REDACTED]" in caplog.text
    for variant in (TOKEN, TOKEN.lower(), TOKEN.upper(), "aahdqtcvch1vgwjxfseofsas0k5paldsaw"):
        assert variant.lower() not in caplog.text.lower()


def test_the_cli_error_line_scrubs_the_token(tmp_path):
    # The real command: the fake Bot API is not running, so Telegram cannot be reached and the
    # error line quotes the URL; whatever case it is in, the token must not show.
    env = {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE_URL": "http://127.0.0.1:9/BOT",
           "CITEBOT_CORPUS": str(tmp_path / "none")}
    r = run_cli("telegram", env=env, timeout=120)
    assert r.returncode in (1, 2) and r.stderr.count(b"\n") == 1
    err = r.stderr.decode().lower()
    assert "aahdqtcvch1vgwjxfseofsas0k5paldsaw" not in err and "traceback" not in err
