"""`sagemaker-local`: the local SageMaker server, and the logs of what it ran.

sagemaker-local [--port 8480] [--s3-endpoint-url URL] [--memory 2g] [--work-dir DIR]
sagemaker-local logs NAME        # every container log of endpoint or transform job NAME
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import uuid
from pathlib import Path

DEFAULT_PORT = 8480
DEFAULT_WORK_DIR = Path(os.environ.get("SAGEMAKER_LOCAL_DIR", Path.home() / ".sagemaker-local"))


def _serve(args: argparse.Namespace) -> int:
    from werkzeug.serving import make_server

    from sagemaker_local.api import Account, SageMaker
    from sagemaker_local.endpoints import Hosting
    from sagemaker_local.instances import OWNER_LABEL, remove_all
    from sagemaker_local.server import create_app
    from sagemaker_local.storage import Storage

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    owner = {OWNER_LABEL: uuid.uuid4().hex[:12]}
    work_dir = Path(args.work_dir).resolve()
    storage = Storage(args.s3_endpoint_url or None, args.region)
    sagemaker = SageMaker(Hosting(storage, work_dir, owner, args.memory), Account(region=args.region))
    server = make_server("127.0.0.1", args.port, create_app(sagemaker), threaded=True)

    def stop(_signum: int, _frame: object) -> None:
        # shutdown() waits for serve_forever to return: run it off the serving thread.
        import threading

        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    s3 = (
        args.s3_endpoint_url
        or os.environ.get("AWS_ENDPOINT_URL_S3")
        or os.environ.get("AWS_ENDPOINT_URL")
        or "AWS"
    )
    print(
        f"sagemaker-local: listening on http://127.0.0.1:{server.server_port} (region {args.region}, "
        f"S3 at {s3}, container logs under {work_dir / 'logs'})",
        flush=True,
    )
    try:
        server.serve_forever()
    finally:
        removed = remove_all(owner)
        print(f"sagemaker-local: stopped; removed {removed} container(s)", flush=True)
    return 0


def _logs(args: argparse.Namespace) -> int:
    root = Path(args.work_dir) / "logs"
    found = sorted(root.glob(f"*/{args.name}/*.log"))
    if not found:
        print(f"sagemaker-local: no logs for {args.name} under {root}", file=sys.stderr)
        return 1
    for path in found:
        print(f"==> {path.relative_to(root)} <==")
        sys.stdout.write(path.read_text(errors="replace"))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="sagemaker-local",
        description="The SageMaker hosting and batch transform APIs on 127.0.0.1, run in local containers.",
    )
    parser.add_argument("--work-dir", default=str(DEFAULT_WORK_DIR), help="model data and container logs")
    commands = parser.add_subparsers(dest="command")
    serve = commands.add_parser("serve", help="run the server (the default)")
    logs = commands.add_parser("logs", help="print the container logs of an endpoint or transform job")
    logs.add_argument("name")
    for target in (parser, serve):
        target.add_argument("--port", type=int, default=DEFAULT_PORT, help="port on 127.0.0.1 (0: any free)")
        target.add_argument(
            "--s3-endpoint-url",
            default=None,
            help="where s3:// URLs are read and written (else AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, or AWS)",
        )
        target.add_argument(
            "--region",
            default=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
        )
        target.add_argument(
            "--memory", default=None, help="memory limit of each container, e.g. 1g (docker --memory)"
        )
    args = parser.parse_args(argv)
    if args.command == "logs":
        return _logs(args)
    return _serve(args)


if __name__ == "__main__":
    sys.exit(main())
