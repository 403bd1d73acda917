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


def _outcome(type_: str, column: str, success: bool, **kw) -> ExpectationOutcome:
    return ExpectationOutcome(type=type_, kwargs={"column": column}, success=success, generated=True,
                              column=column, **kw)


def _run(tmp_path: Path) -> ValidationRun:
    passing = ModelValidation("stg_merchants", "main.stg_merchants", "expectations/stg_merchants.json", (
        _outcome("expect_column_to_exist", "merchant_id", True),
        _outcome("expect_column_values_to_not_be_null", "merchant_id", True),
    ), seconds=0.5)
    failing = ModelValidation("customer_spend_features", "main.customer_spend_features",
                              "expectations/customer_spend_features.json", (
        _outcome("expect_column_to_exist", "amount_sum_24h", True),
        _outcome("expect_column_values_to_be_between", "amount_sum_24h", False,
                 unexpected_count=20, sample_values=(-1.0, -1.0)),
    ), seconds=1.25)
    missing = ModelValidation("fraud_labels", "main.fraud_labels", "expectations/fraud_labels.json",
                              error=f"{MISSING}: expectations/fraud_labels.json does not exist "
                                    "(run `fwctl expectations generate --select fraud_labels`)")
    return ValidationRun((passing, failing, missing), tmp_path / "run.json", None, "abc", "2026-12-04T00:00:00+00:00")


def test_validate_prints_only_failures_and_a_summary_by_default(tmp_path, capsys):
    from featurewarehouse.cli.validate import render

    render(_run(tmp_path))
    out = capsys.readouterr().out
    assert "expect_column_values_to_be_between(amount_sum_24h)" in out and "20" in out
    assert "expect_column_to_exist" not in out  # passing expectations are not listed
    assert "expect_column_values_to_not_be_null(merchant_id)" not in out
    # the fix command stays on one line, even printed to a pipe
    assert ("fraud_labels: FAILED: no expectation suite: expectations/fraud_labels.json does not exist "
            "(run `fwctl expectations generate --select fraud_labels`)") in out.splitlines()
    summary_rows = {line.split()[1]: line for line in out.splitlines() if line.startswith("│")
                    and line.split()[1] in {"stg_merchants", "customer_spend_features", "fraud_labels"}}
    assert "passed" in summary_rows["stg_merchants"] and "2/2" in summary_rows["stg_merchants"]
    assert "FAILED" in summary_rows["customer_spend_features"] and "1/2" in summary_rows["customer_spend_features"]
    assert "1/3 models passed; 3/4 expectations passed; 1 missing suite(s)" in out


def test_validate_verbose_prints_every_expectation(tmp_path, capsys):
    from featurewarehouse.cli.validate import render

    render(_run(tmp_path), verbose=True)
    out = capsys.readouterr().out
    for label in ("expect_column_to_exist(merchant_id)", "expect_column_values_to_not_be_null(merchant_id)",
                  "expect_column_to_exist(amount_sum_24h)", "expect_column_values_to_be_between(amount_sum_24h)"):
        assert label in out
    assert "1/3 models passed" in out


def test_validate_command_takes_verbose_and_exits_1_on_failure(tmp_path, capsys, monkeypatch):
    import featurewarehouse.cli.options as options
    import featurewarehouse.validation.run as run_module

    # the warehouse side is tested in tests/dbt and tests/e2e; here: flag wiring and exit code
    monkeypatch.setattr(options, "resolve", lambda *a, **k: object())
    monkeypatch.setattr(run_module, "validate", lambda *a, **k: _run(tmp_path))
    assert main(["validate", "--verbose"]) == 1
    captured = capsys.readouterr()
    assert "expect_column_values_to_not_be_null(merchant_id)" in captured.out
    err = " ".join(captured.err.split())  # stderr wraps at 80 columns when piped
    assert "error: validation failed for 2 model(s): customer_spend_features, fraud_labels (1 without a suite)" in err
