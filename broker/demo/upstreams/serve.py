"""Run an ASGI app with uvicorn in a background thread, for tests, benchmarks and `make demo`.

    with BackgroundServer(create_weather_app()) as server:
        httpx.get(f"{server.url}/v1/current", params={"city": "Paris"})

    async with BackgroundServer(app) as server:   # start/stop without blocking the event loop
        ...

The listening socket is bound before uvicorn starts, so `port=0` picks a free port with no
race, and `url` is known as soon as `start()` returns.
"""

import asyncio
import socket
import threading
import time
import warnings
from types import TracebackType
from typing import Any, Self

import uvicorn
from starlette.types import ASGIApp


class ServerStartError(RuntimeError):
    """The server could not bind its port or did not come up within the startup timeout."""


class BackgroundServer:
    """One uvicorn server on `host:port` (port 0: a free one), running in a daemon thread."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        startup_timeout: float = 10.0,
        shutdown_timeout: float = 1.0,
        **options: Any,
    ) -> None:
        """`options`: more uvicorn.Config keyword arguments (e.g. `broker.serving.server_options`).

        `shutdown_timeout` is uvicorn's graceful period for requests still open at `stop()`. It
        is short: in a thread there are no signal handlers, so SSE streams (sse_starlette ends
        them on SIGTERM) are never told to end and always use up the whole period."""
        self.app = app
        self.host = host
        self.port = port
        self.startup_timeout = startup_timeout
        self.shutdown_timeout = shutdown_timeout
        self._server: uvicorn.Server | None = None
        self._socket: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._options = options

    @property
    def url(self) -> str:
        """Base URL without a trailing slash, e.g. http://127.0.0.1:53127."""
        if self._thread is None:
            raise RuntimeError("BackgroundServer is not running; call start() or use it as a context manager")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def running(self) -> bool:
        """Whether the server thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> Self:
        """Bind, start uvicorn and wait until it accepts connections; raise ServerStartError if not."""
        if self._thread is not None:
            raise RuntimeError("BackgroundServer is already running")
        self._socket = self._bind()
        self.port = self._socket.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="auto",
            timeout_graceful_shutdown=max(1, int(self.shutdown_timeout)),
            **self._options,
        )
        self._server = uvicorn.Server(config)
        self._error = None
        self._thread = threading.Thread(target=self._run, name=f"uvicorn:{self.port}", daemon=True)
        self._thread.start()
        try:
            self._wait_until_serving()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Ask uvicorn to shut down gracefully, force it after `shutdown_timeout`, join the thread."""
        thread, server = self._thread, self._server
        if thread is None or server is None:
            return
        server.should_exit = True
        thread.join(self.shutdown_timeout + 10)  # the app's own shutdown (lifespan) comes after
        if thread.is_alive():
            server.force_exit = True
            thread.join(5)
        if self._socket is not None:
            self._socket.close()
        self._thread = self._server = self._socket = None
        if thread.is_alive():
            warnings.warn(f"uvicorn on port {self.port} did not stop in time", RuntimeWarning, stacklevel=2)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await asyncio.to_thread(self.stop)

    def _bind(self) -> socket.socket:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets that say so,
        # and without it every small response waits ~40 ms for a delayed ACK.
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
            sock.listen(128)
        except OSError as exc:
            sock.close()
            raise ServerStartError(f"cannot listen on {self.host}:{self.port}: {exc}") from exc
        sock.setblocking(False)
        return sock

    def _run(self) -> None:
        assert self._server is not None and self._socket is not None
        try:
            self._server.run(sockets=[self._socket])
        except BaseException as exc:  # uvicorn ends a failed startup with sys.exit()
            self._error = exc

    def _wait_until_serving(self) -> None:
        assert self._server is not None and self._thread is not None
        deadline = time.monotonic() + self.startup_timeout
        while not self._server.started:
            if not self._thread.is_alive():
                cause = f": {self._error!r}" if self._error is not None else ""
                raise ServerStartError(
                    f"uvicorn on {self.host}:{self.port} exited during startup{cause} "
                    "(see the uvicorn.error log for the application's lifespan error)"
                ) from self._error
            if time.monotonic() > deadline:
                raise ServerStartError(
                    f"uvicorn on {self.host}:{self.port} did not start within {self.startup_timeout:g}s"
                )
            time.sleep(0.01)
        try:
            with socket.create_connection((self.host, self.port), timeout=self.startup_timeout):
                pass
        except OSError as exc:
            raise ServerStartError(f"uvicorn on {self.host}:{self.port} does not accept connections") from exc
