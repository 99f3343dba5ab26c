"""MI over mi_http: ``POST`` the JSON-RPC body to the MI URL with httpx.

Real-server quirks handled here (tests/fixtures/opensips-wire/*/http/):

* JSON-RPC errors come with HTTP 200, so the status alone says nothing;
* some answers (202 for a notification, 405 for GET, 400 for an empty body)
  start a chunked body that never ends: every read has a timeout, the whole
  call has a deadline, and a non-200 body is never waited for;
* with keep-alive, a request whose header block and body arrive in two TCP
  segments is sometimes never answered. httpcore writes them with two
  ``send()`` calls on a TCP_NODELAY socket, so our network streams coalesce
  every write into one ``send()`` made just before the first read.
"""

from __future__ import annotations

import base64
import contextlib
import socket
import ssl
import threading
from typing import Any, Iterable, Iterator
from urllib.parse import urlsplit

import httpcore
import httpx

from .errors import (
    OpenSIPSMIConfigError,
    OpenSIPSMIConnectionError,
    OpenSIPSMITimeoutError,
)
from .options import as_bool, as_str
from .transport import Deadline, Transport, wait_socket

DEFAULT_URL = "http://127.0.0.1:8888/mi"
#: Replies larger than this are refused instead of filling memory.
MAX_REPLY = 64 * 1024 * 1024


# The deadline of the call running on this thread. httpx bounds each network
# wait separately; clamping every wait to what is left of the call keeps the
# whole call (connect + headers + a trickling body) within its timeout.
_call = threading.local()


def _clamp(timeout: float | None) -> float | None:
    deadline: Deadline | None = getattr(_call, "deadline", None)
    if deadline is None:
        return timeout
    left = max(deadline.remaining(), 0.001)
    return left if timeout is None else min(timeout, left)


class _CoalescingStream(httpcore.NetworkStream):
    """Buffers writes and sends them as one ``send()`` right before reading.

    A plain TCP socket is driven directly, non-blocking: send() and recv() are
    one syscall each and only real waits poll. httpcore's stream calls
    settimeout() (an ioctl) before every send and recv, and Python then polls
    before each of them: 6 syscalls per exchange instead of 3. TLS streams
    keep httpcore's own I/O.
    """

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner
        self._pending: list[bytes] = []
        self._pending_timeout: float | None = None
        sock = inner.get_extra_info("socket")
        self._sock: socket.socket | None = None
        if type(sock) is socket.socket:  # not an ssl.SSLSocket
            sock.setblocking(False)
            self._sock = sock

    def _flush(self) -> None:
        if self._pending:
            data = b"".join(self._pending)
            self._pending.clear()
            sock = self._sock
            if sock is None:
                self._inner.write(data, timeout=_clamp(self._pending_timeout))
                return
            try:
                while data:
                    try:
                        data = data[sock.send(data):]
                    except BlockingIOError:
                        if not wait_socket(sock, False, _clamp(self._pending_timeout)):
                            raise httpcore.WriteTimeout("timed out sending the request") from None
            except OSError as exc:
                raise httpcore.WriteError(str(exc) or type(exc).__name__) from exc

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if buffer:
            self._pending.append(buffer)
            self._pending_timeout = timeout

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        self._flush()
        sock = self._sock
        if sock is None:
            return self._inner.read(max_bytes, timeout=_clamp(timeout))
        try:
            while True:
                if not wait_socket(sock, True, _clamp(timeout)):
                    raise httpcore.ReadTimeout("timed out waiting for the reply")
                try:
                    return sock.recv(max_bytes)
                except BlockingIOError:
                    continue  # woken without data after all
        except OSError as exc:
            raise httpcore.ReadError(str(exc) or type(exc).__name__) from exc

    def close(self) -> None:
        self._pending.clear()
        self._inner.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        self._flush()
        return _CoalescingStream(self._inner.start_tls(ssl_context, server_hostname, _clamp(timeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _CoalescingBackend(httpcore.SyncBackend):
    def connect_tcp(
        self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        return _CoalescingStream(super().connect_tcp(host, port, _clamp(timeout), local_address, socket_options))

    def connect_unix_socket(self, path: str, timeout: float | None = None, socket_options: Any = None) -> httpcore.NetworkStream:
        return _CoalescingStream(super().connect_unix_socket(path, _clamp(timeout), socket_options))


# httpcore's errors as the httpx ones of the same name (subclasses before their bases).
_HTTPX_ERRORS: tuple[tuple[type[Exception], type[httpx.HTTPError]], ...] = tuple(
    (getattr(httpcore, name), getattr(httpx, name)) for name in (
        "ConnectTimeout", "ReadTimeout", "WriteTimeout", "PoolTimeout", "TimeoutException",
        "ConnectError", "ReadError", "WriteError", "NetworkError",
        "RemoteProtocolError", "LocalProtocolError", "UnsupportedProtocol", "ProtocolError",
    )
)


@contextlib.contextmanager
def _as_httpx_errors() -> Iterator[None]:
    try:
        yield
    except httpx.HTTPError:
        raise
    except Exception as exc:
        for core, mapped in _HTTPX_ERRORS:
            if isinstance(exc, core):
                raise mapped(str(exc) or type(exc).__name__) from exc
        raise


class _Body(httpx.SyncByteStream):
    """An httpcore response body as an httpx stream (its errors as httpx errors)."""

    def __init__(self, stream: Iterable[bytes]) -> None:
        self._stream = stream

    def __iter__(self) -> Iterator[bytes]:
        with _as_httpx_errors():
            yield from self._stream

    def close(self) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            close()


class OneWriteTransport(httpx.BaseTransport):
    """An httpx transport whose sockets write each request with one ``send()``.

    ``httpx.HTTPTransport`` takes no network backend, so this is its
    equivalent through public interfaces only: ``httpx.BaseTransport`` over an
    ``httpcore.ConnectionPool`` given our coalescing ``network_backend``, with
    requests, responses and errors mapped between the two.
    """

    def __init__(self, ssl_context: ssl.SSLContext | None, limits: httpx.Limits) -> None:
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_CoalescingBackend(),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        assert isinstance(request.stream, httpx.SyncByteStream)  # we only send bytes
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _as_httpx_errors():
            response = self._pool.handle_request(core_request)
        assert isinstance(response.stream, Iterable)  # a sync pool gives a sync body
        return httpx.Response(status_code=response.status, headers=response.headers,
                              stream=_Body(response.stream), extensions=response.extensions)

    def close(self) -> None:
        self._pool.close()


def _verify_option(value: Any) -> ssl.SSLContext | bool:
    """``verify``: a bool (or INI-style string), or a path to a CA bundle."""
    if isinstance(value, ssl.SSLContext):
        return value
    if isinstance(value, str) and ("/" in value or value.endswith((".pem", ".crt"))):
        try:
            return ssl.create_default_context(cafile=value)
        except (OSError, ssl.SSLError) as exc:
            raise OpenSIPSMIConfigError(f"verify: cannot load CA bundle {value}: {exc}") from None
    return as_bool("verify", value, True)


def _auth_option(kwargs: dict[str, Any]) -> tuple[str, str] | None:
    auth = kwargs.get("auth")
    if auth is None and kwargs.get("username") is not None:
        auth = (kwargs.get("username"), kwargs.get("password") or "")
    if auth is None:
        return None
    if isinstance(auth, (tuple, list)) and len(auth) == 2:
        return (str(auth[0]), str(auth[1]))
    raise OpenSIPSMIConfigError("auth must be a (username, password) pair")


class HttpTransport(Transport):
    """Talks to mi_http through one shared, thread-safe httpx transport (connection pool)."""

    kind = "http"

    def __init__(self, timeout: float, **kwargs: Any) -> None:
        super().__init__(timeout)
        self.url = as_str("url", kwargs.get("url"), DEFAULT_URL) or DEFAULT_URL
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise OpenSIPSMIConfigError(f"url must be http(s)://host[:port]/path, not {self.url!r}")
        self._host = parts.hostname
        verify = _verify_option(kwargs.get("verify"))
        auth = _auth_option(kwargs)
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=16, keepalive_expiry=5.0)
        # httpx's own transport (connection pool, TLS, HTTP/1.1), driven directly:
        # httpx.Client's per-request layer (URL merging, cookie jar, auth flow,
        # redirect loop, event hooks, logging) cost more CPU per call than a
        # whole urllib exchange, and MI needs none of it. What the Client gave
        # us is prepared once here: the URL, the headers (basic auth included),
        # the timeouts.
        ssl_context = (httpx.create_ssl_context(verify=verify, trust_env=False)
                       if parts.scheme == "https" else None)
        self._transport = OneWriteTransport(ssl_context, limits)
        self._url = httpx.URL(self.url)
        headers = [("Content-Type", "application/json"), ("Accept", "application/json")]
        if auth:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode("ascii")
            headers.append(("Authorization", f"Basic {token}"))
        # Sent as given (bytes, in this order) with our own Host and Content-Length:
        # httpx.Request would otherwise rebuild and re-validate them on every call.
        self._headers = [(b"Host", self._url.netloc)] + [(k.encode(), v.encode()) for k, v in headers]
        self._extensions = {"timeout": httpx.Timeout(timeout).as_dict()}
        self._closed = False
        self._lock = threading.Lock()

    @property
    def target(self) -> str:
        return self.url

    @property
    def remote_host(self) -> str | None:
        return self._host

    def valid(self) -> tuple[bool, list[str] | None]:
        if self._closed:
            return (False, ["the connector is closed"])
        return (True, None)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._transport.close()

    def exchange(self, request: bytes, req_id: int | str) -> bytes:
        if self._closed:
            raise OpenSIPSMIConnectionError("the MI connector is closed")
        deadline = Deadline(self.timeout)
        _call.deadline = deadline
        try:
            response = self._transport.handle_request(
                httpx.Request("POST", self._url, headers=[*self._headers, (b"Content-Length", b"%d" % len(request))],
                              stream=httpx.ByteStream(request), extensions=self._extensions)
            )
            try:
                if response.status_code != 200:
                    raise OpenSIPSMIConnectionError(self._status_message(response, deadline))
                return self._read_body(response, deadline)
            finally:
                response.close()
        except httpx.TimeoutException:
            raise OpenSIPSMITimeoutError(
                f"no reply from {self.url} within {self.timeout:g}s: is OpenSIPS busy or the URL wrong?"
            ) from None
        except httpx.ConnectError as exc:
            raise OpenSIPSMIConnectionError(
                f"cannot connect to {self.url} ({_reason(exc)}): is OpenSIPS running with httpd and mi_http loaded?"
            ) from None
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as exc:
            raise OpenSIPSMIConnectionError(
                f"HTTP exchange with {self.url} failed ({_reason(exc)}): is this the mi_http URL?"
            ) from None
        except RuntimeError as exc:  # httpcore raises it when the pool was closed meanwhile
            raise OpenSIPSMIConnectionError(f"the MI connector is closed ({exc})") from None
        finally:
            _call.deadline = None
            if self._closed:  # close() ran during this call: drop any connection it opened
                self._transport.close()

    def _read_body(self, response: httpx.Response, deadline: Deadline) -> bytes:
        chunks: list[bytes] = []
        size = 0
        # The raw stream: we send no Accept-Encoding, so the body is never
        # compressed and httpx's decoder/chunker layers would only copy it.
        assert isinstance(response.stream, httpx.SyncByteStream)  # OneWriteTransport's is always sync
        for chunk in response.stream:
            chunks.append(chunk)
            size += len(chunk)
            if size > MAX_REPLY:
                raise OpenSIPSMIConnectionError(f"reply from {self.url} is larger than {MAX_REPLY} bytes")
            if deadline.expired():
                raise OpenSIPSMITimeoutError(f"the reply from {self.url} did not end within {self.timeout:g}s")
        return b"".join(chunks)

    def _status_message(self, response: httpx.Response, deadline: Deadline) -> str:
        status = f"HTTP {response.status_code} {response.reason_phrase}".rstrip()
        hint = {
            401: "check the username and password",
            403: "check the username and password",
            404: "check the URL path (mi_http root)",
            400: "check the URL path (mi_http root) and that this is OpenSIPS mi_http",
            405: "mi_http only accepts POST",
        }.get(response.status_code, "is this the OpenSIPS mi_http URL?")
        body = ""
        # Only read a short body with a known length: some error answers start
        # a chunked body that never ends.
        length = response.headers.get("content-length", "")
        if length.isdigit() and 0 < int(length) <= 512 and not deadline.expired():
            try:
                body = response.read().decode("utf-8", errors="replace").strip()
            except httpx.HTTPError:
                body = ""
        text = f"{status} from {self.url}: {hint}"
        return f"{text} ({body[:200]})" if body else text


def _reason(exc: Exception) -> str:
    text = str(exc).strip()
    return text or type(exc).__name__


def __getattr__(name: str) -> Any:
    """``HTTP``, 0.1.11's connection class, importable from here as it was (see ``connection``)."""
    if name == "HTTP":
        from .connection import HTTP

        return HTTP
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
