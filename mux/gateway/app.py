"""The gateway at run time: listeners, the admin endpoint, the access log, reload and drain.

``Gateway(config)`` owns one ``Mux``. ``start()`` builds the routes (all certificates loaded first),
binds every ``listen`` address and the admin address. ``reload()`` (SIGHUP) reads the file again and
builds a complete new router off to the side; only if that succeeds does it swap the mux's router, so
new connections take the new routes while established ones stay with the routes and upstreams they were
given; on any error the old config keeps running and the error, with the offending key, is logged and
shown on ``/health``. Listen and admin addresses change only on restart. ``drain()`` (SIGTERM) marks
``/health`` unhealthy, stops accepting, and gives open connections ``drain_grace`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import io
import logging
import os
import signal
import stat
import sys
import time
from pathlib import Path
from typing import TextIO

from aiohttp import web

from mux.errors import MuxError
from mux.gateway import build
from mux.gateway.accesslog import AccessLog, LoggedTarget
from mux.gateway.admin import make_app
from mux.gateway.config import ConfigError, GatewayConfig, ProxyConfig, RouteConfig, load
from mux.handoff import Target
from mux.mux import Mux, Router

log = logging.getLogger("mux.gateway")


def split_address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host.strip("[]") or "0.0.0.0", int(port)


class Gateway:
    def __init__(self, config: GatewayConfig, *, config_path: str | Path | None = None) -> None:
        self.config = config
        self.config_path = Path(config_path) if config_path is not None else None
        self.mux = Mux(on_error=self._on_error)
        self.access_log: AccessLog | None = None
        self._access_file: TextIO | None = None
        self.generation = 0
        self.reloads_ok = 0
        self.reloads_failed = 0
        self.last_reload_error = ""
        self.draining = False
        self._admin: web.AppRunner | None = None
        self._reload_lock = asyncio.Lock()
        self.stopped = asyncio.Event()

    # building

    @staticmethod
    def _open_output(config: GatewayConfig) -> TextIO:
        """Where the config sends the access log; raises ``ConfigError`` if the file cannot be opened."""
        target = config.access_log
        if target is None:
            return _Null()
        if target == "-":
            return sys.stdout
        try:
            return open(target, "a", buffering=1)  # kept open until reload or stop
        except OSError as e:
            raise ConfigError("access_log", f"cannot open {target!r}: {e.strerror}") from None

    def _use_output(self, out: TextIO) -> None:
        """Points the access log at ``out`` (connections routed before a reload write there too)."""
        if self.access_log is not None:
            self.access_log.flush()
        self._close_access_file()
        self._access_file = out if out is not sys.stdout and not isinstance(out, _Null) else None
        if self.access_log is None:
            self.access_log = AccessLog(out)
        else:
            self.access_log.out = out

    def _close_access_file(self) -> None:
        if self._access_file is not None:
            with contextlib.suppress(OSError):
                self._access_file.close()
            self._access_file = None

    def _wrap(self, config: GatewayConfig) -> build.Wrap:
        if config.access_log is None:
            return lambda target, route: target
        if self.access_log is None:
            self.access_log = AccessLog(_Null())  # its output is set once the config is taken
        access_log = self.access_log

        def wrap(target: Target, route: RouteConfig) -> Target:
            upstream = route.target.address if isinstance(route.target, ProxyConfig) else None
            return LoggedTarget(target, access_log, upstream)

        return wrap

    def _build(self, config: GatewayConfig) -> Router:
        return build.build(config, self._wrap(config))

    def _on_error(self, error: MuxError) -> None:
        if self.access_log is not None and self.config.access_log is not None:
            self.access_log.report(error)

    # serving

    async def start(self) -> None:
        """Builds the routes and binds every address; raises ``ConfigError`` or ``OSError``."""
        router = self._build(self.config)
        self._use_output(self._open_output(self.config))
        build.apply_settings(self.mux, self.config)
        self.mux.router = router
        self.generation = 1
        try:
            for address in self.config.listen:
                if address.startswith("unix:"):
                    path = address[5:]
                    _remove_stale_socket(path)
                    await self.mux.start_unix(path)
                else:
                    host, port = split_address(address)
                    await self.mux.start(host, port)
            if self.config.admin is not None:
                await self._start_admin(self.config.admin)
        except BaseException:
            await self.mux.close(0)
            raise
        log.info(
            "serving",
            extra={
                "listen": [f"{h}:{p}" for h, p in self.mux.addresses()] + _unix(self.config.listen),
                "admin": self.config.admin,
                "routes": [r.name for r in self.mux.routes()],
            },
        )

    async def _start_admin(self, address: str) -> None:
        runner = web.AppRunner(make_app(self), handle_signals=False, access_log=None)
        await runner.setup()
        site: web.BaseSite
        if address.startswith("unix:"):
            _remove_stale_socket(address[5:])
            site = web.UnixSite(runner, address[5:])
        else:
            host, port = split_address(address)
            site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._admin = runner

    async def reload(self) -> bool:
        """Reads the config file again and swaps the routes; on any error keeps the old ones."""
        async with self._reload_lock:
            if self.config_path is None:
                log.warning("reload asked, but the gateway was started from flags: nothing to reload")
                return False
            try:
                config = load(self.config_path)
                if config.listen != self.config.listen or config.admin != self.config.admin:
                    log.warning("listen and admin addresses change only on restart; keeping the old ones")
                config = dataclasses.replace(config, listen=self.config.listen, admin=self.config.admin)
                router = self._build(config)
                out = self._open_output(config)
            except ConfigError as e:
                self.reloads_failed += 1
                self.last_reload_error = str(e)
                log.error(
                    "reload failed; the old config keeps running", extra={"error": str(e), "key": e.key}
                )
                return False
            self._use_output(out)
            build.carry_stats(self.mux.router, router)
            build.apply_settings(self.mux, config)
            self.mux.router = router
            self.config = config
            self.generation += 1
            self.reloads_ok += 1
            self.last_reload_error = ""
            log.info(
                "reloaded",
                extra={"generation": self.generation, "routes": [r.name for r in self.mux.routes()]},
            )
            return True

    async def drain(self, grace: float | None = None) -> None:
        """Stops accepting, gives open connections ``grace`` seconds (``drain_grace``), then closes all."""
        if self.draining:
            return
        grace = self.config.drain_grace if grace is None else grace
        self.draining = True
        open_before = self.mux.active_connections
        log.info("draining", extra={"grace_s": grace, "open_connections": open_before})
        if self.access_log is not None:
            self.access_log.drain_deadline = time.monotonic() + grace
        await self.mux.close(grace)
        await asyncio.sleep(0.05)  # let aborted connections report, so their access log lines are written
        if self._admin is not None:
            await self._admin.cleanup()
            self._admin = None
        if self.access_log is not None:
            self.access_log.flush()
        self._close_access_file()
        for address in self.config.listen:
            if address.startswith("unix:"):
                with contextlib.suppress(OSError):
                    os.unlink(address[5:])
        log.info("stopped", extra={"open_connections_at_start_of_drain": open_before})
        self.stopped.set()

    async def run(self) -> None:
        """Starts, then serves until SIGTERM or SIGINT (drain) with SIGHUP reloading."""
        await self.start()
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        tasks: set[asyncio.Task[bool]] = set()

        def on_hup() -> None:
            task = loop.create_task(self.reload())
            tasks.add(task)
            task.add_done_callback(tasks.discard)

        loop.add_signal_handler(signal.SIGHUP, on_hup)
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
        finally:
            for sig in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
            await self.drain()
            for task in list(tasks):
                task.cancel()


class _Null(io.StringIO):
    """The access log's output while it is off: writes go nowhere."""

    def write(self, s: str) -> int:
        return len(s)


def _unix(addresses: tuple[str, ...]) -> list[str]:
    return [a for a in addresses if a.startswith("unix:")]


def _remove_stale_socket(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        if stat.S_ISSOCK(os.stat(path).st_mode):
            os.unlink(path)
