"""Scripted shell sessions against a member, recorded as a transcript that is the same on any etcd.

A session is a list of ``Step``s, each one bash command line run with etcdctl's environment pointing at the
member (``ETCDCTL_API=3``, ``ETCDCTL_ENDPOINTS``) and a few variables: ``$EP`` (host:port), ``$URL``
(http://host:port), ``$TMP`` (a scratch dir), every value an earlier step captured, and on the PATH
``etcdctl2`` (etcdctl with ``ETCDCTL_API=2``) and ``curlh`` (curl -i, header lines sorted). The transcript
keeps each command's stdout, stderr and exit code, with what must differ between two members masked:
member and cluster ids, ports, leases, scratch paths, timings, and the etcdctl client's own log lines. Two
members that behave alike give equal transcripts.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from tests.interop.member import Member

STEP_TIMEOUT = 20.0  # seconds; bounded commands use `timeout N` themselves, well below this

# Helper programs put on the PATH of every step (scripts, so that `timeout` can run them too).
HELPERS = {
    # etcdctl speaking the v2 API.
    "etcdctl2": '#!/bin/sh\nETCDCTL_API=2 ETCDCTL_ENDPOINTS="$URL" exec etcdctl "$@"\n',
    # curl -i with the header lines sorted: their order carries no meaning (RFC 9110 §5.3), Go sorts them.
    "curlh": (
        '#!/bin/sh\ncurl -sS -D "$TMP/.headers" -o "$TMP/.body" "$@"; rc=$?\n'
        'tr -d "\\r" < "$TMP/.headers" | head -n 1\n'
        'tr -d "\\r" < "$TMP/.headers" | tail -n +2 | grep -v "^$" | sort\n'
        'echo; cat "$TMP/.body"; echo; exit $rc\n'
    ),
}

# Masks applied to every transcript: (pattern, replacement).
_GLOBAL_MASKS: tuple[tuple[str, str], ...] = (
    (r"took = [0-9.]+[µnm]?s", "took = <T>"),
    (r'"took":[0-9.e-]+', '"took":<T>'),
    (r'"took":"[0-9.]+[µnm]?s"', '"took":"<T>"'),
)


@dataclass(frozen=True)
class Step:
    """One command line.

    ``capture`` names a variable and the regex (one group, matched on stdout) that sets it for later steps; a
    captured hex value is masked in every transcript as ``<NAME>``, in its hex and decimal spellings.
    ``masks`` are extra (pattern, replacement) pairs for this step's output only, for values two correct
    members may differ in (database size in bytes, raft index).
    """

    cmd: str
    stdin: str = ""
    capture: tuple[tuple[str, str], ...] = ()
    masks: tuple[tuple[str, str], ...] = ()


@dataclass
class Session:
    """Runs steps against one member and collects the masked transcript."""

    member: Member
    scratch: Path
    variables: dict[str, str] = field(default_factory=dict)
    replacements: dict[str, str] = field(default_factory=dict)
    chunks: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        (self.scratch / "bin").mkdir(parents=True, exist_ok=True)
        for name, text in HELPERS.items():
            helper = self.scratch / "bin" / name
            helper.write_text(text)
            helper.chmod(0o755)
        status = self._etcdctl_json(["endpoint", "status"])
        header = status[0]["Status"]["header"]
        self._mask_id(int(header["member_id"]), "MEMBER_ID")
        self._mask_id(int(header["cluster_id"]), "CLUSTER_ID")
        self.replacements[self.member.endpoint] = "<EP>"
        self.replacements[f"127.0.0.1:{self.member.peer_port}"] = "<PEER>"
        self.replacements[str(self.scratch)] = "<TMP>"

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            ETCDCTL_API="3",
            ETCDCTL_ENDPOINTS=self.member.endpoint,
            ETCDCTL_DIAL_TIMEOUT="3s",
            ETCDCTL_COMMAND_TIMEOUT="10s",
            EP=self.member.endpoint,
            URL=self.member.url,
            TMP=str(self.scratch),
            PATH=f"{self.scratch / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        )
        env.update(self.variables)
        return env

    def _etcdctl_json(self, args: list[str]) -> list[dict[str, dict[str, dict[str, str]]]]:
        out = subprocess.run(
            ["etcdctl", *args, "-w", "json"],
            env=self._env(),
            capture_output=True,
            timeout=STEP_TIMEOUT,
            check=True,
        )
        parsed: list[dict[str, dict[str, dict[str, str]]]] = json.loads(out.stdout)
        return parsed

    def _mask_id(self, value: int, name: str) -> None:
        self.replacements[str(value)] = f"<{name}>"
        self.replacements[format(value, "x")] = f"<{name}>"

    def mask(self, text: str, step_masks: tuple[tuple[str, str], ...] = ()) -> str:
        # Longest first, so a decimal id is not half-replaced by a shorter value inside it.
        for old in sorted(self.replacements, key=len, reverse=True):
            text = re.sub(rf"(?<![0-9a-zA-Z]){re.escape(old)}(?![0-9a-zA-Z])", self.replacements[old], text)
        for pattern, repl in (*_GLOBAL_MASKS, *step_masks):
            text = re.sub(pattern, repl, text)
        return text

    def run(self, step: Step) -> str:
        """Run one step, add it to the transcript, return its raw stdout."""
        proc = subprocess.run(
            ["bash", "-c", step.cmd],
            input=step.stdin.encode(),
            env=self._env(),
            capture_output=True,
            timeout=STEP_TIMEOUT,
            cwd=self.scratch,
        )
        stdout = proc.stdout.decode(errors="replace")
        for name, pattern in step.capture:
            m = re.search(pattern, stdout)
            value = m.group(1) if m else "<no match>"
            self.variables[name] = value
            if m and re.fullmatch(r"[0-9a-f]+", value):
                self._mask_id(int(value, 16), name)
                self.replacements[value] = f"<{name}>"  # as printed, leading zeros and all
        # etcdctl's client library logs retries as JSON lines with times and client uuids: not part of
        # what the server answered (its "Error: ..." line follows and is kept).
        stderr = "\n".join(
            line
            for line in proc.stderr.decode(errors="replace").splitlines()
            if not line.startswith('{"level"')
        )
        chunk = f"$ {step.cmd}\n{stdout}"
        if stderr:
            chunk += f"[stderr]\n{stderr}\n"
        chunk += f"[exit {proc.returncode}]\n"
        self.chunks.append(self.mask(chunk, step.masks))
        return stdout

    def transcript(self) -> str:
        return "".join(self.chunks)


def run_session(member: Member, scratch: Path, steps: list[Step]) -> str:
    """The masked transcript of ``steps`` run in order against ``member``."""
    session = Session(member, scratch)
    for step in steps:
        session.run(step)
    return session.transcript()
