"""``fwctl serve``: the HTTP feature server (Feast wire format) with optional feature logging."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from featurewarehouse.cli import options


def register(app: typer.Typer) -> None:
    from featurewarehouse.serving.limits import ServerLimits

    d = ServerLimits()  # the defaults' one home; the flags show them in --help

    @app.command("serve")
    def serve_cmd(
        host: str = typer.Option("127.0.0.1", "--host", help="Interface to bind; 0.0.0.0 exposes the server to the network."),
        port: int = typer.Option(6566, "--port", "-p", help="TCP port (Feast's default, 6566)."),
        store: Optional[str] = options.Store,
        log: bool = typer.Option(False, "--log", help="Log served vectors to vars.fw.feature_log_path (env FW_FEATURE_LOG_PATH)."),
        log_to: Optional[Path] = typer.Option(None, "--log-to", help="Log served vectors as Parquet files in this directory."),
        log_sample_rate: float = typer.Option(1.0, "--log-sample-rate", min=0.0, max=1.0,
                                              help="Share of requests logged (1.0 = all)."),
        max_entities: int = typer.Option(1000, "--max-entities", min=1, envvar="FW_SERVE_MAX_ENTITIES",
                                         help="Largest number of entity rows per request."),
        max_body_bytes: int = typer.Option(d.max_body_bytes, "--max-body-bytes", envvar="FW_SERVE_MAX_BODY_BYTES",
                                           help="Largest request body, enforced while it is read (413 beyond)."),
        max_header_bytes: int = typer.Option(d.max_header_bytes, "--max-header-bytes", envvar="FW_SERVE_MAX_HEADER_BYTES",
                                             help="Largest request head (request line and headers; 431 beyond)."),
        header_timeout: float = typer.Option(d.header_timeout, "--header-timeout", envvar="FW_SERVE_HEADER_TIMEOUT",
                                             help="Seconds a connection may take to send a request's headers (408, closed)."),
        body_timeout: float = typer.Option(d.body_timeout, "--body-timeout", envvar="FW_SERVE_BODY_TIMEOUT",
                                           help="Seconds a request may take to send its body after its headers (408, closed)."),
        keep_alive_timeout: float = typer.Option(d.keep_alive_timeout, "--keep-alive-timeout", envvar="FW_SERVE_KEEP_ALIVE_TIMEOUT",
                                                 help="Seconds an idle keep-alive connection stays open."),
        max_connections: int = typer.Option(d.max_connections, "--max-connections", envvar="FW_SERVE_MAX_CONNECTIONS",
                                            help="Open connections at most (lowered to fit the open-files limit); "
                                                 "beyond it the longest-waiting idle or slow one is closed."),
        graceful_shutdown_timeout: float = typer.Option(d.graceful_shutdown_timeout, "--graceful-shutdown-timeout",
                                                        envvar="FW_SERVE_GRACEFUL_SHUTDOWN_TIMEOUT",
                                                        help="Seconds running requests get to finish on SIGTERM."),
        token_file: Optional[Path] = typer.Option(
            None, "--token-file", envvar="FW_SERVE_TOKEN_FILE",
            help="YAML/JSON file of bearer tokens, each scoped to feature services and views (docs/serving.md). "
                 "Tokens are never taken on the command line."),
        workers: int = typer.Option(1, "--workers", min=1, envvar="FW_SERVE_WORKERS",
                                    help="Server processes sharing the port (one core each); each logs to its own files."),
        insecure: bool = typer.Option(False, "--insecure", help="Serve a non-loopback --host without any token (loudly)."),
        project_dir: Optional[Path] = options.ProjectDir,
        profiles_dir: Optional[Path] = options.ProfilesDir,
        target: Optional[str] = options.Target,
    ) -> None:
        """Serve online features over HTTP: POST /get-online-features (Feast's wire format), GET /health, OpenAPI at /docs.

        Set FW_SERVE_TOKEN (one token reading everything) or pass --token-file (scoped tokens) to require `Authorization: Bearer <token>`; a non-loopback --host needs one of them, or --insecure. With --log or --log-to, served vectors go to Parquet files that the feature_log dbt model reads (flushed on shutdown). Limits and timeouts: docs/operations.md.
        """
        import os

        from featurewarehouse.cli.output import info, warn
        from featurewarehouse.errors import redact_url
        from featurewarehouse.serving import limits as server_limits
        from featurewarehouse.errors import ConfigError
        from featurewarehouse.serving.auth import TOKEN_ENV, TokenSet, is_loopback, load_token_file
        from featurewarehouse.serving.http import app_from_config, check_bindable, tune_gc_for_serving

        limits = ServerLimits(
            max_body_bytes=max_body_bytes, max_header_bytes=max_header_bytes, header_timeout=header_timeout,
            body_timeout=body_timeout, keep_alive_timeout=keep_alive_timeout, max_connections=max_connections,
            graceful_shutdown_timeout=graceful_shutdown_timeout,
        ).check()
        secret = os.environ.get(TOKEN_ENV) or None
        if token_file is not None and secret:
            raise ConfigError(f"both {TOKEN_ENV} and --token-file are set", hint=f"unset {TOKEN_ENV}, or drop --token-file")
        tokens = load_token_file(token_file) if token_file is not None else (TokenSet.from_secret(secret) if secret else None)
        if tokens is None and not is_loopback(host) and not insecure:
            raise ConfigError(
                f"refusing to serve {host} without a token: anyone who can reach it could read every feature",
                hint=f"pass --token-file tokens.yml or set {TOKEN_ENV}; or, on a network you trust, pass --insecure",
            )
        config = options.resolve(project_dir, profiles_dir, target, store)
        check_bindable(host, port)
        log_path = str(log_to) if log_to else (str(config.feature_log_path) if log else None)

        def make_app():
            return app_from_config(
                config, store_url=store, log_to=log_path, log_sample_rate=log_sample_rate, max_entities=max_entities,
                max_body_bytes=limits.max_body_bytes, token="", tokens=tokens,
            )

        # built once in the parent as well: a bad store URL or setting fails here, before any worker starts
        app = make_app() if workers == 1 else None
        if workers > 1:
            from featurewarehouse.serving.http import check_app_config

            check_app_config(config, store_url=store, log_to=log_path, max_entities=max_entities)
        info(f"serving {redact_url(store or config.online_store)} on http://{host}:{port}  (OpenAPI: /docs, health: /health)")
        if log_path:
            info(f"logging {log_sample_rate:.0%} of requests to {log_path}")
        if tokens is not None:
            info(f"bearer token required ({len(tokens.tokens)} token(s) from {tokens.source})")
        elif not is_loopback(host):
            from featurewarehouse.cli.output import err_console

            err_console.print(f"WARNING: --insecure: serving {host} WITHOUT ANY TOKEN: anyone who can reach this address "
                              f"reads every feature; pass --token-file or set {TOKEN_ENV}",
                              style="bold red", highlight=False, markup=False)
        cap = server_limits.effective_max_connections(limits.max_connections)
        if cap < limits.max_connections:
            warn(f"--max-connections lowered to {cap}: the open-files limit is {server_limits.descriptor_limit()} "
                 f"(raise it with `ulimit -n`)")
        tune_gc_for_serving()
        if workers == 1:
            server_limits.run(app, host=host, port=port, limits=limits)
            return
        from featurewarehouse.serving.workers import run_workers

        info(f"{workers} worker processes share the port")
        run_workers(make_app, host=host, port=port, limits=limits, workers=workers)
