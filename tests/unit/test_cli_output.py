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
