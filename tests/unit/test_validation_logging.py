"""GX's housekeeping INFO lines stay off the terminal once something configured root logging; warnings still show."""
from __future__ import annotations

import subprocess
import sys
import textwrap

CHILD = textwrap.dedent("""
    import logging
    logging.basicConfig()  # what dbt's snowplow_tracker does when dbt is imported (fwctl demo)
    from featurewarehouse.validation.gx_docs import gx_context
    gx_context(None)
    logging.getLogger("great_expectations.data_context.types.base").warning("fw test warning")
    logging.getLogger("great_expectations.core").error("fw test error")
""")


def test_gx_context_prints_no_info_but_keeps_warnings_and_errors():
    proc = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "INFO:great_expectations" not in proc.stderr
    assert "WARNING:great_expectations.data_context.types.base:fw test warning" in proc.stderr
    assert "ERROR:great_expectations.core:fw test error" in proc.stderr
