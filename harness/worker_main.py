"""A worker process: `python -m harness.worker_main REQUESTS REPLIES` (two pipe descriptors).

Started by the coordinator (harness.processes) in a process group of its own, it reads one
request at a time, answers it through `harness.worker_calls`, and writes the reply, until it
is asked to exit or its request pipe closes. Ctrl-C is the coordinator's to handle, so the
worker ignores SIGINT; a fatal signal prints the Python stack to stderr (faulthandler), which
the coordinator keeps with the call that crashed. JAX's compilation cache is set up before
any plugin can import JAX.
"""

from __future__ import annotations

import contextlib
import faulthandler
import signal
import sys


def main(argv: list[str]) -> int:
    requests, replies = int(argv[0]), int(argv[1])
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    faulthandler.enable()
    from harness import compile_cache, wire, worker_calls

    compile_cache.enable()
    while True:
        try:
            request = wire.read(requests)
        except EOFError:
            return 0
        if not isinstance(request, dict) or request.get("call") == "exit":
            return 0
        reply = worker_calls.serve(request)
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):  # a plugin may have replaced or closed them
                stream.flush()
        wire.write(replies, reply)
        if reply.get("exit"):
            return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
