"""Files written whole or not at all, with the user's umask, as any file they write.

A new file is created beside the target (mode 0666 less the umask: not mkstemp's 0600, which
would make a shared result unreadable to the group) and renamed over it; `os.replace` is atomic
on POSIX, so a reader never sees half a file, and an interrupted write leaves the old one.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def write_text(target: Path, text: str) -> None:
    temporary = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(handle, "w") as out:
            out.write(text)
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
