"""What the CLI prints: version, tables sent to a pipe, and `fwctl validate`'s report."""
from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

from featurewarehouse.cli.main import main
from featurewarehouse.validation.results import ExpectationOutcome, ModelValidation
from featurewarehouse.validation.run import MISSING, ValidationRun

LONG_REF = "customer_merchant_features:pair_amount_sum_30d_in_usd_excluding_disputed_and_refunded_payments"


def test_version_prints_the_installed_package_version(capsys):
    import featurewarehouse

    # pyproject.toml and featurewarehouse.__version__ both state it: they must agree
    assert featurewarehouse.__version__ == importlib.metadata.version("featurewarehouse")
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"fwctl (featurewarehouse) {featurewarehouse.__version__}\n"


def _table_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def test_a_table_printed_to_a_pipe_keeps_each_row_on_one_line(capsys):
    from featurewarehouse.cli.output import print_table

    refs = [LONG_REF, LONG_REF.replace("30d", "90d")]
    print_table(("feature", "status"), [(r, "PRESENT") for r in refs], title=f"online read: {', '.join(refs)}")
    out = capsys.readouterr().out
    lines = _table_lines(out)
    assert lines[0] == f"online read: {', '.join(refs)}"  # the title on one line of its own
    for ref in refs:
        (row,) = [line for line in lines[1:] if ref in line]
        assert "PRESENT" in row
    # box top, header, rule, two rows, box bottom: nothing folded onto extra lines
    assert len(lines) == 1 + 6
    assert max(len(line) for line in lines[1:]) > 80


def test_a_table_through_a_real_pipe_is_not_wrapped_at_80_columns():
    code = (
        "from featurewarehouse.cli.output import print_table; "
        f"print_table(('feature', 'value'), [({LONG_REF!r} * 2, '1')])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PATH": "/usr/bin:/bin", "COLUMNS": "80"}).stdout
    assert any(LONG_REF * 2 in line for line in out.splitlines())


def test_cell_text_is_printed_literally_not_read_as_markup(capsys):
    from featurewarehouse.cli.output import print_table

    print_table(("expectation",), [("expect_column_to_exist(id) [hand-written]",), ("[bold]x[/bold]",)])
    out = capsys.readouterr().out
    assert "expect_column_to_exist(id) [hand-written]" in out
    assert "[bold]x[/bold]" in out
