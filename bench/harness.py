"""What the benchmark (run.py) and the two-node check (multinode.py) share: output, ports,
a clean environment for the app, and the ``fitstore`` command."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def say(message: str = "") -> None:
    print(message, flush=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def clean_env(**settings: str) -> dict[str, str]:
    """This process's environment without any of the caller's FITSTORE_* settings, plus
    ``settings``: nothing of the operator's own configuration leaks into a run."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("FITSTORE_")}
    env.update(settings)
    return env


def fitstore_cli(env: dict[str, str], *args: str, timeout: float = 900) -> str:
    """Run our venv's ``fitstore`` command; its output, or RuntimeError with its last words."""
    result = subprocess.run(  # noqa: S603  (our own venv's command, fixed arguments)
        [str(BIN / "fitstore"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"fitstore {' '.join(args)} exited {result.returncode}: "
            f"{(result.stderr or result.stdout).strip()[-3000:]}"
        )
    return result.stdout
