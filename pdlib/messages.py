"""What pdlib says to its user, in one place: counts in plain grammar ("1 video", "2 videos"), the exit-code rule
every command that reads a dataset or files follows, and warnings as one plain line (no source path).

The exit-code rule (`exit_code`; README "Exit codes", each command's --help):

- 0: every row (video, landmark file) was usable and done;
- 1: some rows were unusable, each named with its reason; the others were done;
- 2: nothing was done: the request or dataset is malformed (a fault named by file, row and column, an unknown
  option), a tool is missing, or **no row at all was usable** (each named): a script reading the exit code
  never takes "1" for "there are results".
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

IRREGULAR = {"examination": "examinations", "analysis": "analyses", "was": "were", "is": "are", "has": "have"}


def plural(n: int, noun: str, many: str | None = None) -> str:
    """`noun` as it goes with the count `n`: "video" for 1, "videos" otherwise (`many`: an irregular plural)."""
    return noun if n == 1 else many or IRREGULAR.get(noun) or (noun + ("es" if noun.endswith(("s", "x", "ch", "sh"))
                                                                        else "s"))


def count(n: int, noun: str, many: str | None = None) -> str:
    """"1 video", "2 videos", "0 videos": a count in plain grammar (`plural`)."""
    return f"{n} {plural(n, noun, many)}"


def exit_code(rows: int, unusable: int, malformed: bool = False) -> int:
    """The exit code of a command that read `rows` rows of which `unusable` could not be used (module
    docstring): 2 malformed or nothing usable, 1 some unusable, 0 all done."""
    if malformed or (rows > 0 and unusable >= rows):
        return 2
    return 1 if unusable else 0


EXIT_CODES = ("0 every row done, 1 some rows unusable (each named; the others done), 2 nothing done: "
              "a malformed request or dataset, or no usable row at all")


@contextmanager
def plain_warnings(command: str) -> Iterator[None]:
    """Within it, a warning reaches the terminal as one line, `pdlib <command>: warning: <message>`, once per
    message: no file:line prefix, no source line (pdlib's DatasetWarning, VideoWarning and others alike)."""
    seen: set[str] = set()

    def show(message, category, filename, lineno, file=None, line=None):  # noqa: ARG001 (warnings' signature)
        text = " ".join(str(message).split()) if "\n" not in str(message).strip() else str(message).strip()
        if text not in seen:
            seen.add(text)
            print(f"pdlib {command}: warning: {text}", file=file or sys.stderr)

    with warnings.catch_warnings():  # the filters as they were; only how a warning is shown changes
        warnings.showwarning = show
        yield
