"""Crash points for the crash-safety tests: a real ``kill -9`` of the running process.

Set ``BILLING_CRASH_AT=<name>`` and the process SIGKILLs itself when it reaches the named
point (``load``, ``dbt``, ``finalize``, ``pdf``, ``deliver``). Unset, a crash point does nothing.
"""

from __future__ import annotations

import os
import signal


def crash_point(name: str) -> None:
    if os.environ.get("BILLING_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)


def crash_after(name: str, seconds: float) -> None:
    """SIGKILL this process ``seconds`` from now if ``BILLING_CRASH_AT=<name>`` (for killing
    a long step, such as the dbt build, while it runs)."""
    if os.environ.get("BILLING_CRASH_AT") == name:
        import threading

        timer = threading.Timer(seconds, os.kill, (os.getpid(), signal.SIGKILL))
        timer.daemon = True
        timer.start()
