"""Hostile and odd input through the CLI: clear messages, exit codes, no tracebacks, exact quotes."""

import json

from conftest import assert_exact_quotes, run_cli

ODD_LINES = [
    "   ",                                        # whitespace only: skipped
    "Who\u200b led the\u200d mission?",           # zero-width characters
    "\u202eWhich countries threatened a veto?\u202c",         # right-to-left override
    "من يقود البعثة في هايتي؟",                  # Arabic
    "¿Cuántos policías kenianos llegaron?",       # Spanish
    "🙂🙂🙂",                                      # emoji only: refused
    "<b>x</b> & <script>alert(1)</script> veto?",  # HTML injection
    "**bold** _it_ [link](http://x) `code` Kenya police?",  # Markdown injection
    "Who\x00 leads\x07 the mission?",             # NUL and control characters
    "x" * 100_000,                                # huge: refused
]


def test_odd_questions_on_stdin(cli_env, seed_dir):
    data = "\n".join(ODD_LINES).encode("utf-8") + b"\n\xc3\x28 invalid utf-8\n"
    r = run_cli("ask", "--json", input=data, env=cli_env, process=True)
    assert r.returncode == 2  # some lines were refused; the rest were answered
    assert b"Traceback" not in r.stderr
    rows = [json.loads(x) for x in r.stdout.decode().splitlines()]
    assert len(rows) == len(ODD_LINES)  # blank line skipped, invalid UTF-8 reported
    errors = [row for row in rows if "error" in row]
    assert {e["error"] for e in errors} == {  # each prefixed once with its line
        "line 6: the question has no words to search for",
        "line 10: the question is too long (100000 characters; the limit is 1000)",
        "line 11: not valid UTF-8 text",
    }
    for row in rows:
        if "error" not in row:
            assert isinstance(row["answered"], bool)
            assert_exact_quotes(row["citations"], seed_dir)
    veto = next(row for row in rows if row.get("question", "").startswith("Which countries threatened"))
    assert veto["answered"] and "veto" in veto["citations"][0]["quote"]


def test_huge_question_argument(cli_env):
    r = run_cli("ask", "y" * 100_000, env=cli_env, process=True)
    assert r.returncode == 2
    err = r.stderr.decode()
    assert "too long" in err and len(err.splitlines()) == 1 and len(err) < 300


def test_html_in_question_is_plain_text_in_json(cli_env):
    q = "<b>x</b> & <script>alert(1)</script> Who threatened a veto?"
    r = run_cli("ask", "--json", q, env=cli_env, process=True)
    assert r.returncode == 0
    assert json.loads(r.stdout)["question"] == q
