"""``python -m etcd``: the process around one member (etcd's ``etcdmain/etcd.go`` ``startEtcdOrProxyV2``).

``main(argv, environ)`` reads the configuration (``config.load``: flags, ``ETCD_*``, ``--config-file``;
``--help``/``--version`` print and exit), sets up the JSON log, identifies the data dir, runs the member on a
uvloop event loop until SIGINT/SIGTERM or a fatal error, and returns the exit code. After a signal, once the
member has closed in order, ``exit_by_signal`` restores the default disposition and re-sends the signal, so
the exit status says "killed by SIGTERM" as etcd's ``osutil.HandleInterrupts`` does (as PID 1: exit 0).

Exit codes: 0 done, 1 a configuration, data-dir or start-up failure, 2 a malformed flag; by the signal after
SIGINT/SIGTERM.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Mapping, Sequence

import uvloop

from etcd.embed.config import DEFAULT_INITIAL_CLUSTER, Config
from etcd.embed.etcd import Parts, ServerStopped, start_etcd
from etcd.etcdmain import config as etcdmain_config
from etcd.etcdmain.datadir import DIR_MEMBER, DIR_PROXY, DataDirError, identify
from etcd.pkg import logutil, netutil, systemd
from etcd.pkg.logutil import fields

log = logging.getLogger("etcd.etcdmain")

EXIT_FAILURE = 1
SHUTDOWN_SIGNALS = (signal.SIGINT, signal.SIGTERM)
# etcd 3.4 compat: pkg/osutil/interrupt_unix.go logs Go's name of the signal.
_GO_SIGNAL_NAMES = {signal.SIGINT: "interrupt", signal.SIGTERM: "terminated"}
PROXY_NOT_AVAILABLE = "the v2 proxy is not available yet (issue 9): this data dir or --proxy asks for a proxy"


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Runs etcd for ``argv`` (without the program name) and ``environ``; returns the exit code.

    Returns only after the member has closed. When a signal ended the run, the caller should call
    ``exit_by_signal(code)`` for a negative code (``-signum``), as ``python -m etcd`` does.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    environ = os.environ if environ is None else environ
    # Until the loop's handlers are in place a Ctrl-C ends the process by the signal, as it does etcd,
    # rather than with Python's KeyboardInterrupt traceback.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    logutil.configure()  # JSON on stderr while the flags are read, so their warnings are JSON too
    loaded = etcdmain_config.load(argv, environ, sys.stdout, sys.stderr)
    if isinstance(loaded, int):
        return loaded
    cfg = loaded
    try:
        logutil.configure(cfg.log_outputs, cfg.effective_log_level(), logger=cfg.logger)
    except OSError as e:
        print(f"failed to set up logging: {e}", file=sys.stderr)
        return EXIT_FAILURE
    # etcd 3.4 compat: etcdmain/etcd.go; a default --initial-cluster follows --name, and a wildcard listener
    # with the default advertise URL advertises the default route's host instead.
    host = netutil.default_host()
    used = cfg.update_default_cluster_from_name(DEFAULT_INITIAL_CLUSTER, host)
    if used:
        log.info("detected default host for advertise", extra=fields({"host": used}))
    elif host is None:
        log.info("failed to detect default host", extra=fields({"error": "could not find default route"}))
    data_dir = cfg.effective_data_dir()
    if not cfg.data_dir:
        log.warning("'data-dir' was empty; using default", extra=fields({"data-dir": data_dir}))
    try:
        kind = identify(data_dir)
    except DataDirError as e:
        msg = str(e)
        if cfg.logger == "zap" and "Both member and proxy" in msg:
            msg = "invalid datadir; both member and proxy directories exist"  # zap's wording in etcd 3.4
        log.critical(msg, extra=fields({"data-dir": data_dir}))
        return EXIT_FAILURE
    if kind in (DIR_MEMBER, DIR_PROXY):
        log.info(
            "server has been already initialized", extra=fields({"data-dir": data_dir, "dir-type": kind})
        )
    if kind == DIR_PROXY or (kind != DIR_MEMBER and etcdmain_config.is_proxy(cfg)):
        log.critical(PROXY_NOT_AVAILABLE, extra=fields({"data-dir": data_dir, "proxy": cfg.proxy}))
        return EXIT_FAILURE
    try:
        return uvloop.run(run_member(cfg, environ))
    except Exception:
        # A bug, not a refusal: say so in the log's format, with the stack, rather than a bare traceback.
        log.critical("etcd crashed", exc_info=True)
        return EXIT_FAILURE


async def run_member(cfg: Config, environ: Mapping[str, str], parts: Parts | None = None) -> int:
    """Starts the member, notifies systemd once it is ready, waits for a signal, a serving error or the
    server stopping, closes it, and returns 0, 1 (start-up failed) or ``-signum``."""
    loop = asyncio.get_running_loop()
    got_signal: list[signal.Signals] = []
    wake = asyncio.Event()

    def on_signal(sig: signal.Signals) -> None:
        if not got_signal:
            got_signal.append(sig)
            log.info("received signal; shutting down", extra=fields({"signal": _GO_SIGNAL_NAMES[sig]}))
        wake.set()

    # etcd installs its handlers only once the member is ready (a signal before that kills it outright);
    # here a signal during start-up also closes what was opened, then exits by the signal all the same.
    for sig in SHUTDOWN_SIGNALS:
        loop.add_signal_handler(sig, on_signal, sig)
    try:
        return await _run(cfg, environ, parts, got_signal, wake)
    finally:
        for sig in SHUTDOWN_SIGNALS:
            loop.remove_signal_handler(sig)


async def _run(
    cfg: Config,
    environ: Mapping[str, str],
    parts: Parts | None,
    got_signal: list[signal.Signals],
    wake: asyncio.Event,
) -> int:
    start = asyncio.ensure_future(start_etcd(cfg, parts))
    waiter = asyncio.ensure_future(wake.wait())
    try:
        await asyncio.wait({start, waiter}, return_when=asyncio.FIRST_COMPLETED)
        if not start.done():
            start.cancel()  # start_etcd closes what it opened before the cancellation goes on
        try:
            e = await start
        except asyncio.CancelledError:
            if got_signal:
                return -got_signal[0]
            raise
        except Exception as err:
            # etcd 3.4 compat: etcdmain/etcd.go logs both lines for any start-up failure.
            log.warning("failed to start etcd", extra=fields({"error": str(err)}))
            log.critical("discovery failed", extra=fields({"error": str(err)}))
            return EXIT_FAILURE
        ready = asyncio.ensure_future(e.ready.wait())
        failed = asyncio.ensure_future(e.errors.get())
        try:
            await asyncio.wait({ready, waiter, failed}, return_when=asyncio.FIRST_COMPLETED)
            if ready.done() and not waiter.done() and not failed.done():
                _notify_systemd(environ)
                await asyncio.wait({waiter, failed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ready.cancel()
            failed.cancel()
        code = 0
        if failed.done() and not failed.cancelled() and not got_signal:
            error = failed.result()
            # etcd 3.4: a server that stops by itself (this member removed) ends the process with 0; a
            # listener error or a fatal server error is logged at fatal level, exit 1.
            if not isinstance(error, ServerStopped) or error.cause is not None:
                log.critical("etcd stopped", extra=fields({"error": str(error)}))
                code = EXIT_FAILURE
            else:
                log.info("etcd server stopped")
        await e.close()
        return -got_signal[0] if got_signal else code
    finally:
        waiter.cancel()


def _notify_systemd(environ: Mapping[str, str]) -> None:
    try:
        systemd.notify(systemd.READY, environ)
    except OSError as e:
        log.error("failed to notify systemd for readiness", extra=fields({"error": str(e)}))


def exit_by_signal(code: int) -> int:
    """For ``code = -signum``: re-sends the signal with its default disposition (the process ends here);
    as PID 1, or for a non-negative code, returns the code to exit with (0 for PID 1)."""
    if code >= 0:
        return code
    if os.getpid() == 1:
        return 0
    sig = -code
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    signal.signal(sig, signal.SIG_DFL)
    os.kill(os.getpid(), sig)
    return 128 + sig  # not reached unless the signal is blocked
