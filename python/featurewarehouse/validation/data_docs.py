"""Data Docs that render offline.

Great Expectations' page templates load Bootstrap, bootstrap-table, jQuery,
Popper, Font Awesome and Vega from CDNs; its package ships only its own
stylesheet, fonts and images (copied to ``static/``), and no Python package
here ships the others. So after each build every page's remote ``<link>`` and
``<script src>`` tags are removed, remote images point to GX's local copies (its logo), and a small local stylesheet
(:data:`OFFLINE_CSS`, written to ``static/styles/``) is linked instead: tables,
cards, navigation and badges stay readable without a network. What needs the
removed JavaScript (table filtering, Vega charts, collapsible sections) does
not work offline; everything else does.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from featurewarehouse.files import atomic_write

OFFLINE_CSS = "fw_offline.css"
_REMOTE_LINK = re.compile(r"""<link\b[^>]*\bhref\s*=\s*["']?(?:https?:)?//[^>]*>""", re.I)
_REMOTE_IMG_SRC = re.compile(r"""(<img\b[^>]*\bsrc\s*=\s*["']?)((?:https?:)?//[^"'\s>]+)""", re.I)
_REMOTE_SCRIPT = re.compile(r"""<script\b[^>]*\bsrc\s*=\s*["']?(?:https?:)?//[^>]*>\s*</script\s*>""", re.I)
# A remote asset left in a page: what make_offline removes and the tests look for.
REMOTE_ASSET = re.compile(r"""<(?:link|script|img)\b[^>]*\b(?:href|src)\s*=\s*["']?(?:https?:)?//""", re.I)
_MARK = "<!-- fw: offline assets -->"

_STYLESHEET = """/* Feature Warehouse: a small offline stand-in for the CDN stylesheets of GX Data Docs. */
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; color: #212529;
       background: #fff; line-height: 1.45; font-size: 14px; }
a { color: #0b5ed7; text-decoration: none; } a:hover { text-decoration: underline; }
.container, .container-fluid { width: 100%; padding: 0 15px; box-sizing: border-box; }
.container { max-width: 1280px; margin: 0 auto; }
.row { display: flex; flex-wrap: wrap; margin: 0 -15px; }
[class^="col"], [class*=" col"] { padding: 0 15px; box-sizing: border-box; flex: 1 1 0; min-width: 0; }
.col-12, .col-md-12 { flex: 0 0 100%; } .col-md-2, .col-2 { flex: 0 0 16.6%; }
.col-md-3, .col-3 { flex: 0 0 25%; } .col-md-9, .col-9 { flex: 0 0 75%; } .col-md-10, .col-10 { flex: 0 0 83.3%; }
.navbar { display: flex; align-items: center; padding: 8px 16px; background: #f8f9fa;
          border-bottom: 1px solid #dee2e6; margin-bottom: 16px; }
.navbar-brand img { height: 28px; }
.card { border: 1px solid #dee2e6; border-radius: 6px; margin-bottom: 16px; background: #fff; }
.card-header { padding: 8px 12px; background: #f8f9fa; border-bottom: 1px solid #dee2e6; font-weight: 600; }
.card-body { padding: 12px; }
.table, table { border-collapse: collapse; width: 100%; margin-bottom: 12px; }
.table th, .table td, table th, table td { border-top: 1px solid #dee2e6; padding: 6px 8px; text-align: left;
                                           vertical-align: top; }
.table thead th, table thead th { border-bottom: 2px solid #dee2e6; background: #f8f9fa; }
.table-striped tbody tr:nth-of-type(odd) { background: #f6f8fa; }
.table-sm th, .table-sm td { padding: 4px 6px; }
.badge { display: inline-block; padding: 2px 6px; border-radius: 4px; font-size: 12px; font-weight: 600; }
.badge-success, .text-success { color: #146c43; } .badge-success { background: #d1e7dd; }
.badge-danger, .text-danger { color: #b02a37; } .badge-danger { background: #f8d7da; }
.badge-info, .badge-secondary { background: #e2e3e5; color: #41464b; }
.alert { padding: 10px 14px; border-radius: 6px; margin-bottom: 12px; border: 1px solid transparent; }
.alert-success { background: #d1e7dd; } .alert-danger { background: #f8d7da; }
.alert-warning, .alert-info { background: #fff3cd; }
.list-group { list-style: none; padding: 0; margin: 0 0 12px; }
.list-group-item { display: block; padding: 6px 10px; border: 1px solid #dee2e6; margin-top: -1px; }
.nav { display: flex; flex-wrap: wrap; list-style: none; padding: 0; margin: 0; gap: 8px; }
.sticky, .sticky-top { position: sticky; top: 0; }
.d-none, .collapse:not(.show) { display: none; }
code, pre { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 12px; background: #f6f8fa;
            border-radius: 4px; padding: 1px 4px; }
.fas, .far, .fa { display: none; }  /* Font Awesome icons need its CDN font */
"""


def _link_for(page: Path, css: Path) -> str:
    href = os.path.relpath(css, page.parent).replace(os.sep, "/")
    return f'{_MARK}<link rel="stylesheet" href="{href}">'


def _local_image(site: Path, page: Path, url: str) -> str:
    """GX's remote logo has a local copy in ``static/images`` (same file name); any other
    remote image becomes an empty data URI (its alt text shows)."""
    name = url.split("?", 1)[0].rsplit("/", 1)[-1]
    local = site / "static" / "images" / name
    if name and local.is_file():
        return os.path.relpath(local, page.parent).replace(os.sep, "/")
    return "data:,"


def make_offline(site: Path) -> int:
    """Rewrite every page of the Data Docs site under ``site`` to use local assets only;
    return how many pages changed. Pages already rewritten are left as they are."""
    css = site / "static" / "styles" / OFFLINE_CSS
    atomic_write(css, _STYLESHEET)
    changed = 0
    for page in site.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        new = _REMOTE_SCRIPT.sub("", _REMOTE_LINK.sub("", text))
        new = _REMOTE_IMG_SRC.sub(lambda m: m.group(1) + _local_image(site, page, m.group(2)), new)
        if _MARK not in new:
            new = new.replace("</head>", _link_for(page, css) + "\n</head>", 1) if "</head>" in new \
                else _link_for(page, css) + new
        if new != text:
            atomic_write(page, new)
            changed += 1
    return changed
