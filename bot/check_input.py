"""What `python -m bot check` reads besides settings: the files named (a folder stands
for the files under it), and what the decoders wrote to stderr while each was checked.

A folder is taken rather than refused: an operator checking what people sent keeps it
in a folder, and a shell glob would miss its subfolders.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Self


def expand(paths: Sequence[Path]) -> tuple[list[Path], list[str]]:
    """The files to check (a folder's, recursively, in sorted order, without hidden files
    and folders such as .DS_Store or .git), and what cannot be read, each said why."""
    files: list[Path] = []
    unreadable: list[str] = []
    for path in paths:
        if path.is_dir():
            inside = sorted(
                found
                for found in path.rglob("*")
                if found.is_file()
                and not any(part.startswith(".") for part in found.relative_to(path).parts)
            )
            if not inside:
                unreadable.append(f"{path} (a folder with no files)")
            files += inside
        elif path.exists():
            files.append(path)
        else:
            unreadable.append(f"{path} (no such file or folder)")
    unreadable += [f"{file} (permission denied)" for file in files if not os.access(file, os.R_OK)]
    return files, unreadable


class StderrCapture:
    """What is written to stderr while files are checked, by this process or the decode
    workers it starts (libtiff writes its warnings there from C; Pillow's Python warnings
    are caught too), read back after each file so that they are told under its name:
    Pillow's own test images printed 135 nameless lines of them. What no file took is
    written out at the end."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile()  # noqa: SIM115 - held until __exit__
        self._read = 0
        self._saved = -1

    def __enter__(self) -> Self:
        sys.stderr.flush()
        self._saved = os.dup(2)
        os.dup2(self._file.fileno(), 2)
        return self

    def __exit__(self, *exc: object) -> None:
        left = self.take()
        os.dup2(self._saved, 2)
        os.close(self._saved)
        self._file.close()
        if left:
            print("\n".join(left), file=sys.stderr)

    def take(self) -> list[str]:
        """The lines written since the last call."""
        sys.stderr.flush()
        self._file.seek(self._read)
        data = self._file.read()
        self._read += len(data)
        return [line for line in data.decode(errors="replace").splitlines() if line.strip()]


@contextlib.contextmanager
def python_warnings() -> Iterator[list[warnings.WarningMessage]]:
    # Entered per file: entering resets which warnings were shown already, so a file
    # gets its warnings even when an earlier file had the same ones. The filters stay
    # (bot/photo/images.py turns Pillow's DecompressionBombWarning into an error).
    with warnings.catch_warnings(record=True) as caught:
        yield caught
