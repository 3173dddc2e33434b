"""`citebot cite` as a user runs it, on the real index of the seed corpus (the lookups
themselves: tests/index/cite/test_cite.py)."""

import json

from conftest import assert_exact_quotes, body_of, run_cli


def test_cli_exact_argument_text(cli_env, seed_dir):
    r = run_cli("cite", "the Haitian government's urgent request", env=cli_env)
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    assert "Found word for word once" in out and "“the Haitian government’s urgent request”" in out
    body = body_of("mss-renewal", seed_dir)
    s = body.index("the Haitian government’s urgent request")
    assert f"[mss-renewal:p2] (mss-renewal:{s}-{s + 39})" in " ".join(out.split())


def test_cli_stdin_json_lines(cli_env, seed_dir):
    lines = ["the trust fund raised only 21 million dollars", "", "\u2003",
             "BOTH COUNTRIES expressed concerns", "The Premier League season starts in August.",
             "?!"]
    r = run_cli("cite", "--json", input="\n".join(lines).encode(), env=cli_env)
    assert r.returncode == 2, r.stderr  # the last line has no words
    out = [json.loads(x) for x in r.stdout.decode().splitlines()]
    assert [x.get("kind") for x in out] == ["close", "exact", "none", None]
    assert "no words" in out[3]["error"]
    assert out[0]["matches"][0]["id"] == "mss-deployment:p2"
    for x in out[:3]:
        assert_exact_quotes(x["matches"], seed_dir)
    assert "Traceback" not in r.stderr.decode()


def test_cli_markdown_format(cli_env, seed_dir):
    text = "not conducive to a new peacekeeping operation"
    r = run_cli("cite", "--format", "markdown", text, env=cli_env)
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode().strip().split("\n\n")
    assert out[0] == f"> {text}"
    assert out[1] == ("— UN Security Council renews the Multinational Security Support mission "
                      "in Haiti, The Clarity Times, ¶4")


def test_cli_bad_input_exit_2(cli_env):
    for args in (["cite", "  "], ["cite", "--format", "html", "x"]):
        r = run_cli(*args, env=cli_env)
        assert r.returncode == 2 and "Traceback" not in r.stderr.decode()
    r = run_cli("cite", "“ ”", env=cli_env)
    assert r.returncode == 2 and "empty" in r.stderr.decode()
