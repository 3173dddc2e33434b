"""Builds off the caller's thread: at most one at a time per index, later requests coalesced.

A server keeps answering while its corpus is indexed again, so BackgroundBuilder runs each
build in a child process (``python -m index.live.builder``) at a lower CPU priority: the build's
pure-Python work (sentence splitting, BM25) never holds the answering process's GIL, its memory
is returned when it ends, and a build that fails or is killed cannot take the server with it.
The child takes the index's build lock (engine.build_lock, fileio.folder_lock: tried without
waiting, then waited for), so builds of one index never overlap across processes. Requests made
while a build runs are served by one follow-up build, which is skipped when the index is current
by then.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

from ..config import Config
from ..errors import CitebotError

_ROOT = Path(__file__).resolve().parents[2]  # where the `index` package can be imported
SUMMARY = ("generation", "articles", "passages", "sentences", "built_at")
_SECRETS = ("TELEGRAM_BOT_TOKEN", "TELEGRAM_WEBHOOK_SECRET")


class BuildFailed(CitebotError):
    """A background build did not produce a new index (the loaded one keeps answering)."""


@dataclass
class BuildResult:
    """What one background build did."""

    built: bool                  # False: the index was already current (nothing to do)
    manifest: dict               # SUMMARY fields of the index now current
    seconds: float
    log: list[str] = field(default_factory=list)  # the build's progress lines


class BackgroundBuilder:
    """One build thread per index: ``request()`` returns a Future of the build covering it."""

    def __init__(self, config: Config, nice: int = 10,
                 on_done: Callable[[BuildResult | None, Exception | None], None] | None = None):
        self.config = config
        self.nice = nice
        self.on_done = on_done  # called in the build thread before the futures are resolved
        self._cv = threading.Condition()
        self._waiting: list[Future] = []
        self._thread: threading.Thread | None = None
        self._proc: subprocess.Popen | None = None
        self._closed = False
        self.builds = 0  # child processes run (tests and logs)

    @property
    def busy(self) -> bool:
        """A build is running or requested."""
        with self._cv:
            return self._thread is not None

    def request(self) -> Future:
        """Ask for a build of the corpus as it is now. Returns at once; the Future resolves to
        a BuildResult (or BuildFailed) once a build that started after this call is done."""
        fut: Future = Future()
        with self._cv:
            if self._closed:
                fut.set_exception(BuildFailed("shutting down: no more builds"))
                return fut
            self._waiting.append(fut)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="citebot-build",
                                                daemon=True)
                self._thread.start()
        return fut

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until no build runs or is requested; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cv:
            while self._thread is not None:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._cv.wait(left)
        return True

    def close(self) -> None:
        """No more builds; a running one is stopped (its unfinished generation is never used)."""
        with self._cv:
            self._closed = True
            proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()

    # -- the build thread ---------------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            with self._cv:
                if not self._waiting or self._closed:
                    batch, self._waiting = self._waiting, []
                    self._thread = None
                    self._cv.notify_all()
                    for fut in batch:  # closed meanwhile
                        fut.set_exception(BuildFailed("shutting down: no more builds"))
                    return
                batch, self._waiting = self._waiting, []
            result, error = None, None
            try:
                result = self._run_child()
            except Exception as exc:  # noqa: BLE001 - reported through the futures
                error = exc
            if self.on_done is not None:
                try:
                    self.on_done(result, error)
                except Exception as exc:  # noqa: BLE001 - e.g. the new index cannot be loaded
                    error = error or exc
            for fut in batch:
                if error is None:
                    fut.set_result(result)
                else:
                    fut.set_exception(error)

    def _run_child(self) -> BuildResult:
        cfg = self.config
        cmd = [sys.executable, "-m", "index.live.builder", "--corpus", str(cfg.corpus),
               "--index", str(cfg.index), "--model", str(cfg.model), "--only-if-stale"]
        if cfg.precision_given:  # else the child keeps the index's own (Citebot.build_precision)
            cmd += ["--precision", cfg.precision]
        if cfg.sentence_vectors_given:  # likewise (Citebot.build_sentence_vectors)
            cmd += ["--sentence-vectors", cfg.sentence_vectors]
        path = os.environ.get("PYTHONPATH")
        env = {k: v for k, v in os.environ.items() if k not in _SECRETS}  # it needs none
        env["PYTHONPATH"] = str(_ROOT) + (os.pathsep + path if path else "")
        t0 = time.monotonic()
        with self._cv:
            if self._closed:
                raise BuildFailed("shutting down: no more builds")
            proc = self._proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                                 stderr=subprocess.PIPE, env=env,
                                                 stdin=subprocess.DEVNULL)
            self.builds += 1
        try:
            try:  # questions first: the build takes the CPU they leave
                os.setpriority(os.PRIO_PROCESS, proc.pid, self.nice)
            except (OSError, AttributeError):
                pass
            out, err = proc.communicate()
        finally:
            with self._cv:
                self._proc = None
        lines = err.decode("utf-8", "replace").splitlines()
        if proc.returncode != 0:
            errors = [ln[len("error: "):] for ln in lines if ln.startswith("error: ")]
            raise BuildFailed(errors[-1] if errors else
                              f"the build stopped (exit code {proc.returncode})")
        summary = json.loads(out.decode("utf-8").strip().splitlines()[-1])
        return BuildResult(built=bool(summary.pop("built")), manifest=summary,
                           seconds=time.monotonic() - t0, log=lines)


def main(argv: list[str] | None = None) -> int:
    """The child process: build when the index is not current; one JSON line on stdout."""
    parser = argparse.ArgumentParser(prog="python -m index.live.builder")
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--index", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--only-if-stale", action="store_true")
    parser.add_argument("--precision", default=None)
    parser.add_argument("--sentence-vectors", default=None)
    args = parser.parse_args(argv)
    from ..config import resolve
    from ..engine import Citebot
    from ..store.store import read_manifest

    def say(message: str) -> None:
        print(f"citebot: {message}", file=sys.stderr, flush=True)

    try:
        bot = Citebot(resolve(args.corpus, args.index, args.model, auto_build=True,
                              precision=args.precision,
                              sentence_vectors=args.sentence_vectors), progress=say)
        try:
            before = read_manifest(bot.config.index).get("generation")
        except CitebotError:
            before = None
        manifest = bot.build(only_if_stale=args.only_if_stale)
    except CitebotError as exc:
        print(f"error: {exc.user_message()}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - one line for the parent's log
        print(f"error: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    summary = {k: manifest.get(k) for k in SUMMARY}
    summary["built"] = manifest.get("generation") != before
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
