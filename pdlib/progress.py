"""Progress bars that go where a reader looks: the terminal of `pdlib reproduce`, never its executed notebooks.

`pdlib reproduce` sets PDLIB_PROGRESS=terminal for the kernels it starts (and starts them with
`IPKernelApp.capture_fd_output=False`, so the kernel's file descriptor 2 is the terminal's again). There, every
bar is a plain text tqdm on `sys.__stderr__`: the terminal shows a long cell's live progress and the executed
notebook stores none of it. Anywhere else (JupyterLab, a script, `pdlib preprocess`) it is `tqdm.auto`: a
widget in an interactive notebook, text on stderr in a terminal.
"""

import os
import sys

from tqdm import std
from tqdm.auto import tqdm as auto_tqdm

ENV = "PDLIB_PROGRESS"
TERMINAL = "terminal"
OFF = "off"  # `reproduce(progress=False)`: no bars at all (the tests)


def to_terminal() -> bool:
    """Whether bars go to the terminal of `pdlib reproduce` (set for its kernels), not to the notebook."""
    return os.environ.get(ENV) == TERMINAL and sys.__stderr__ is not None


def progress_bar(iterable=None, **kwargs):
    """`tqdm(iterable, **kwargs)`: on the runner's terminal when `to_terminal()`, else `tqdm.auto`'s.

    On the terminal each bar disappears when done (the runner prints a line per notebook). When stderr is not
    a terminal (a log file, a pipe, a CI job) a bar redraws at most every 10 s instead of ten times a second,
    and the nested ones (`leave=False`: one epoch's batches, one prediction pass) are not drawn at all: without
    a terminal's cursor moves they would interleave, line by line, with the bar around them."""
    if os.environ.get(ENV) == OFF:
        kwargs["disable"] = True
    if not to_terminal():
        return auto_tqdm(iterable, **kwargs)
    stream = sys.__stderr__
    try:
        tty = stream.isatty()
        columns = os.get_terminal_size(stream.fileno()).columns if tty else 0
    except (AttributeError, ValueError, OSError):
        tty, columns = False, 0
    if not tty and kwargs.get("leave") is False:
        kwargs["disable"] = True
    kwargs.update(file=stream, leave=False)
    kwargs.setdefault("mininterval", 0.1 if tty else 10.0)
    kwargs.setdefault("dynamic_ncols", columns > 0)  # a terminal without a size (0 columns) would show nothing
    return std.tqdm(iterable, **kwargs)
