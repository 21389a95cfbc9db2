"""Writing files so that a crash never leaves half of one, and generated text sections.

- :func:`atomic_path`: a temporary file beside ``path`` that replaces ``path`` (one
  ``os.replace``, atomic on POSIX) only when the ``with`` block ends without an error;
  on an error it is removed and ``path`` is untouched. :func:`atomic_write_bytes` and
  :func:`atomic_write_text` are the one-call forms.
- :func:`replace_section` / :func:`section_text`: the body between the markers
  ``<!-- <name>:begin -->`` and ``<!-- <name>:end -->`` of a Markdown file (generated
  README sections).
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path in ``path``'s folder; on success it replaces ``path``.

    The temporary name keeps ``path``'s suffix (``.<name>.<random>.tmp<suffix>``) so that
    writers which infer the format from it (matplotlib, ``np.savez``) behave as for
    ``path``. Parent folders are created.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=f".tmp{path.suffix}"
    )
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_path`); returns ``path``."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically (see :func:`atomic_path`); returns ``path``."""
    return atomic_write_bytes(path, text.encode("utf-8"))


class SectionError(ValueError):
    """A file without the markers of a generated section."""


def markers(name: str) -> tuple[str, str]:
    """The begin and end marker lines of section ``name``."""
    return f"<!-- {name}:begin -->", f"<!-- {name}:end -->"


def replace_section(text: str, name: str, body: str, where: str = "README") -> str:
    """``text`` with everything between section ``name``'s markers replaced by ``body``.

    ``body`` ends with a newline (added when missing). Raises :class:`SectionError`
    naming ``where`` and the markers when they are absent.
    """
    begin, end = markers(name)
    pattern = re.compile(rf"({re.escape(begin)}\n).*?({re.escape(end)})", re.S)
    if not pattern.search(text):
        raise SectionError(f"{where}: no '{begin}' … '{end}' markers")
    body = body if body.endswith("\n") else body + "\n"
    return pattern.sub(lambda m: m.group(1) + body + m.group(2), text, count=1)


def section_text(text: str, name: str) -> str | None:
    """The current body between section ``name``'s markers, ``None`` without markers."""
    begin, end = markers(name)
    found = re.search(rf"{re.escape(begin)}\n(.*?){re.escape(end)}", text, re.S)
    return found.group(1) if found else None
