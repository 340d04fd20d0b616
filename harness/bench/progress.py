"""The progress bar of `harness bench`: tqdm when installed, a line per process otherwise."""

from __future__ import annotations

import sys


class Progress:
    """Counts finished benchmarks across processes; each process announces its own total."""

    def __init__(self) -> None:
        try:
            from tqdm import tqdm
        except ImportError:
            tqdm = None
        if tqdm is None or not sys.stderr.isatty():  # CI logs get one line per process
            self.bar = None
        else:
            self.bar = tqdm(total=0, unit="bench", file=sys.stderr, dynamic_ncols=True)
        self.skipped: list[str] = []
        """"nodeid: reason" of every benchmark that was skipped."""

    def event(self, library: str, words: list[str]) -> None:
        if words[:1] == ["total"]:
            self._grow(int(words[1]), library)
        elif words[:1] == ["done"]:
            if words[1] == "skipped":
                self.skipped.append(f"{words[2]}: {' '.join(words[3:])}")
            self._advance(library, words[2])

    def note(self, message: str) -> None:
        (self.bar.write if self.bar is not None else print)(message)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

    def _grow(self, count: int, library: str) -> None:
        if self.bar is not None:
            self.bar.total += count
            self.bar.set_description(library)
            self.bar.refresh()
        else:
            print(f"{library}: {count} benchmarks", file=sys.stderr, flush=True)

    def _advance(self, library: str, nodeid: str) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(nodeid.rpartition("::")[2][:60], refresh=False)
            self.bar.update(1)
