"""Fetching a URL for `citebot add` with bounded work: an overall deadline (not only a timeout
per read: a server sending a byte every few seconds never trips one), a size cap, at most
MAX_REDIRECTS redirects, http and https only, and no redirect into loopback, private, link-local
or otherwise non-public addresses unless the URL the user gave is itself on such an address
(a local feed server is the user's choice; a public page bouncing there is not).

Limit of the redirect check: a host name is resolved when the redirect is checked and again
when connecting; a DNS server that answers differently the second time is not caught.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import threading
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from ..errors import IngestError

FETCH_TIMEOUT = 20        # seconds a single connect or read may wait
FETCH_DEADLINE = 60       # seconds for the whole fetch, redirects and body included
MAX_REDIRECTS = 5
MAX_FETCH_BYTES = 50 * 1024 * 1024
SCHEMES = ("http", "https")


def _addresses(host: str) -> list[str]:
    try:
        return [info[4][0] for info in socket.getaddrinfo(host, None)]
    except (socket.gaierror, UnicodeError, ValueError):
        return []


def is_private_host(host: str) -> bool:
    """Whether any address of ``host`` is not a public one (loopback, private, link-local,
    reserved, multicast, unspecified); an unresolvable host counts as not public."""
    addrs = _addresses(host)
    if not addrs:
        return True
    for addr in addrs:
        ip = ipaddress.ip_address(addr.split("%")[0])
        if getattr(ip, "ipv4_mapped", None):
            ip = ip.ipv4_mapped
        if not ip.is_global or ip.is_multicast:
            return True
    return False


class _Sockets:
    """The sockets a fetch opened: shut down at the deadline, which ends any blocked read."""

    def __init__(self):
        self.socks: list[socket.socket] = []
        self.expired = False
        self.lock = threading.Lock()

    def add(self, sock) -> None:
        with self.lock:
            self.socks.append(sock)
            if self.expired:
                self._shut(sock)

    def expire(self) -> None:
        with self.lock:
            self.expired = True
            for sock in self.socks:
                self._shut(sock)

    @staticmethod
    def _shut(sock) -> None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _opener(sockets: _Sockets, allow_private: bool):
    class Conn(http.client.HTTPConnection):
        def connect(self):
            super().connect()
            sockets.add(self.sock)

    class TLSConn(http.client.HTTPSConnection):
        def connect(self):
            super().connect()
            sockets.add(self.sock)

    class Plain(urllib.request.HTTPHandler):
        def http_open(self, req):
            return self.do_open(Conn, req)

    class TLS(urllib.request.HTTPSHandler):
        def https_open(self, req):
            return self.do_open(TLSConn, req, context=self._context)

    class Redirects(urllib.request.HTTPRedirectHandler):
        max_redirections = MAX_REDIRECTS

        def redirect_request(self, req, fp, code, msg, headers, newurl):
            parts = urlsplit(newurl)
            if parts.scheme.lower() not in SCHEMES:
                raise IngestError(f"redirected to a {parts.scheme or 'relative'}: URL "
                                  f"({newurl[:200]}); only http and https are followed")
            if not allow_private and is_private_host(parts.hostname or ""):
                raise IngestError(f"redirected to a local or private address "
                                  f"({parts.hostname}); not followed")
            return super().redirect_request(req, fp, code, msg, headers, newurl)

    return urllib.request.build_opener(Plain, TLS, Redirects)


def fetch_url(url: str, timeout: float = FETCH_TIMEOUT, deadline: float = FETCH_DEADLINE,
              max_bytes: int = MAX_FETCH_BYTES) -> tuple[bytes, str]:
    """The bytes and content type at a URL; a clear IngestError when it cannot be fetched
    within the limits (see the module docstring)."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in SCHEMES or not parts.hostname:
        raise IngestError(f"{url}: only http and https URLs can be fetched")
    sockets = _Sockets()
    opener = _opener(sockets, allow_private=is_private_host(parts.hostname))
    request = urllib.request.Request(url, headers={
        "User-Agent": "citebot/0.1 (article ingest)",
        "Accept": "application/atom+xml, application/rss+xml, application/xml;q=0.9, "
                  "text/html;q=0.8, */*;q=0.5"})
    timer = threading.Timer(deadline, sockets.expire)
    timer.daemon = True
    timer.start()
    t0 = time.monotonic()
    try:
        with opener.open(request, timeout=min(timeout, deadline)) as resp:
            chunks, size = [], 0
            while size <= max_bytes:
                chunk = resp.read1(1 << 16) if hasattr(resp, "read1") else resp.read(1 << 16)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
            ctype = resp.headers.get("Content-Type", "")
        if sockets.expired:
            raise OSError("deadline")
    except IngestError as exc:
        raise IngestError(f"{url}: {exc}") from None
    except urllib.error.HTTPError as exc:
        raise IngestError(f"{url}: the server answered {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
        if sockets.expired or time.monotonic() - t0 >= deadline:
            raise IngestError(f"{url}: not fetched within {deadline:g} s (the limit for one "
                              "URL)", fix="save the page or feed to a file and add that") \
                from None
        reason = getattr(exc, "reason", None) or exc
        raise IngestError(f"{url}: cannot be fetched ({reason})",
                          fix="no network? save the feed or page to a file and add that") from exc
    finally:
        timer.cancel()
    if size > max_bytes:
        raise IngestError(f"{url}: larger than {max_bytes // 2**20} MB")
    return b"".join(chunks), ctype.lower()
