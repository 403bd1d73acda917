"""All printing lives here: tables for people, JSON for scripts, progress bars."""
from __future__ import annotations

import datetime as _dt
import decimal
import json
import math
import sys
from pathlib import Path
from typing import Any, Iterable, Sequence

from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

console = Console()
err_console = Console(stderr=True)

# Wide enough for any table a command prints; a piped table is measured within it.
_UNBOUNDED = 1_000_000


def _default(value: Any) -> Any:
    if isinstance(value, (_dt.datetime, _dt.date)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if hasattr(value, "__dataclass_fields__"):
        import dataclasses

        return dataclasses.asdict(value)
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def to_json(data: Any) -> str:
    return json.dumps(_clean_floats(data), default=_default, indent=2, sort_keys=False)


def _clean_floats(data: Any) -> Any:
    if isinstance(data, float) and (math.isnan(data) or math.isinf(data)):
        return None
    if isinstance(data, dict):
        return {k: _clean_floats(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [_clean_floats(v) for v in data]
    return data


def print_json(data: Any) -> None:
    """JSON on stdout, nothing else: for scripts."""
    sys.stdout.write(to_json(data) + "\n")
    sys.stdout.flush()


def print_table(
    columns: Sequence[str], rows: Iterable[Sequence[Any]], *, title: str | None = None
) -> None:
    """A table on stdout. Cells are plain text: ``[x]`` in a value is printed, not read as markup.

    On a terminal, long cells fold to fit the window. Printed to a pipe or a file,
    each row stays on one line at the table's natural width, so ``grep``, ``awk``
    and copy-paste see whole feature refs; the title goes on its own line above.
    """
    piped = not console.is_terminal
    table = Table(title=None if piped else title, show_lines=False, header_style="bold")
    for col in columns:
        table.add_column(col, overflow="fold", no_wrap=piped)
    for row in rows:
        table.add_row(*(Text("" if v is None else str(v)) for v in row))
    if not piped:
        console.print(table)
        return
    if title:
        console.print(title, highlight=False, markup=False, soft_wrap=True)
    width = Measurement.get(console, console.options.update(max_width=_UNBOUNDED), table).maximum
    # Console.print caps width= at the console's own width (80 on a pipe): print through one as wide as the table.
    Console(file=console.file, width=max(width, console.width)).print(table)


def info(message: str) -> None:
    err_console.print(message, highlight=False, markup=False, soft_wrap=True)


def warn(message: str) -> None:
    err_console.print(f"warning: {message}", style="yellow", highlight=False, markup=False)


def progress(*, transient: bool = False):
    """A rich progress bar with rows and rows/s, on stderr (quiet when not a TTY)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=transient,
        disable=not err_console.is_terminal,
    )
