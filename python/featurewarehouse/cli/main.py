"""``fwctl``: the app, its command groups, and the one error boundary.

Exit codes: 0 ok · 1 ran, but checks failed · 2 usage or configuration error ·
3 internal error (traceback with ``FW_DEBUG=1``).
"""
from __future__ import annotations

import importlib
import os
import sys
import traceback

import typer

from featurewarehouse.errors import FwError, redact

app = typer.Typer(
    name="fwctl",
    help="Feature Warehouse: a feature store on your SQL warehouse, with dbt at its centre.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

# Each module exposes register(app). Keep the heavy imports inside the commands.
_COMMAND_MODULES: tuple[str, ...] = (
    "init",
    "registry",
    "features",
    "lineage",
    "lint",
    "historical",
    "online",
    "serve",
    "skew",
    "demo",
    "expectations",
    "validate",
    "monitor",
)

for _name in _COMMAND_MODULES:
    importlib.import_module(f"featurewarehouse.cli.{_name}").register(app)


def _print_version(value: bool) -> None:
    if value:
        from featurewarehouse import __version__

        typer.echo(f"fwctl (featurewarehouse) {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the package version and exit."
    ),
) -> None:
    pass


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app and map every outcome to an exit code."""
    from featurewarehouse.cli.output import err_console

    try:
        app(args=argv, standalone_mode=False)
    except FwError as exc:
        _print_error(err_console, exc)
        return exc.exit_code
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except (typer.Abort, KeyboardInterrupt):
        err_console.print("aborted", style="red", highlight=False)
        return 130
    except Exception as exc:
        if _is_click_error(exc):  # usage errors: show them the way click does, exit 2
            exc.show()
            return exc.exit_code
        if os.environ.get("FW_DEBUG"):
            traceback.print_exc()
        err_console.print(f"internal error: {redact(repr(exc))}", style="red", highlight=False, markup=False)
        err_console.print("hint: rerun with FW_DEBUG=1 for a traceback and report it", highlight=False, markup=False)
        return 3
    return 0


def _is_click_error(exc: Exception) -> bool:
    """typer may bundle its own copy of click: match either copy's ClickException."""
    return any(
        cls.__name__ == "ClickException" and cls.__module__.endswith("click.exceptions")
        for cls in type(exc).__mro__
    )


def _print_error(console, exc: FwError) -> None:
    """``error:`` / ``at:`` / ``hint:`` lines, never wrapped: a printed command stays one line to copy."""
    text = str(exc)
    first, _, rest = text.partition("\n")
    console.print(f"error: {first}", style="bold red", highlight=False, markup=False, soft_wrap=True)
    if rest:
        console.print(rest, highlight=False, markup=False, soft_wrap=True)


if __name__ == "__main__":
    sys.exit(main())
