"""``fwctl serve``: the HTTP feature server (Feast wire format) with optional feature logging."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from featurewarehouse.cli import options


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve_cmd(
        host: str = typer.Option("127.0.0.1", "--host", help="Interface to bind; 0.0.0.0 exposes the server to the network."),
        port: int = typer.Option(6566, "--port", "-p", help="TCP port (Feast's default, 6566)."),
        store: Optional[str] = options.Store,
        log: bool = typer.Option(False, "--log", help="Log served vectors to vars.fw.feature_log_path (env FW_FEATURE_LOG_PATH)."),
        log_to: Optional[Path] = typer.Option(None, "--log-to", help="Log served vectors as Parquet files in this directory."),
        log_sample_rate: float = typer.Option(1.0, "--log-sample-rate", min=0.0, max=1.0,
                                              help="Share of requests logged (1.0 = all)."),
        max_entities: int = typer.Option(1000, "--max-entities", min=1, help="Largest number of entity rows per request."),
        project_dir: Optional[Path] = options.ProjectDir,
        profiles_dir: Optional[Path] = options.ProfilesDir,
        target: Optional[str] = options.Target,
    ) -> None:
        """Serve online features over HTTP: POST /get-online-features (Feast's wire format), GET /health, OpenAPI at /docs.

        Set FW_SERVE_TOKEN to require `Authorization: Bearer <token>`. With --log or --log-to, served vectors go to Parquet files that the feature_log dbt model reads (flushed on shutdown).
        """
        import uvicorn

        from featurewarehouse.cli.output import info, warn
        from featurewarehouse.serving.http import TOKEN_ENV, app_from_config, check_bindable, tune_gc_for_serving

        config = options.resolve(project_dir, profiles_dir, target, store)
        check_bindable(host, port)
        log_path = str(log_to) if log_to else (str(config.feature_log_path) if log else None)
        app = app_from_config(
            config, store_url=store, log_to=log_path, log_sample_rate=log_sample_rate, max_entities=max_entities
        )
        import os

        from featurewarehouse.errors import redact

        info(f"serving {redact(store or config.online_store)} on http://{host}:{port}  (OpenAPI: /docs, health: /health)")
        if log_path:
            info(f"logging {log_sample_rate:.0%} of requests to {log_path}")
        if os.environ.get(TOKEN_ENV):
            info(f"bearer token required ({TOKEN_ENV} is set)")
        elif host not in ("127.0.0.1", "localhost", "::1"):
            warn(f"serving on {host} without a token; set {TOKEN_ENV} to require one")
        tune_gc_for_serving()
        uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
