"""`sklearn-deploy` / `python -m deploy`: the command line over this package's functions.

Results go to stdout (an endpoint name, S3 URIs, the decoded answer), progress and notes to
stderr, and any failure is one `error: CODE: message` line with a non-zero exit.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from boto3.exceptions import Boto3Error
from botocore.exceptions import BotoCoreError, ClientError

from deploy import names
from deploy.autoscale import Scaling, configure_autoscaling
from deploy.aws import Aws
from deploy.endpoints import Hosting, delete_endpoint, deploy_endpoint, deploy_multi_model_endpoint
from deploy.errors import DeployError, one_line
from deploy.invoke import content_type_for, invoke_endpoint
from deploy.multi_model import add_model, list_models, prefix_of
from deploy.s3 import S3Uri
from deploy.transform import TransformSettings, run_transform
from deploy.waiting import Waiting

PROG = "sklearn-deploy"
ROLE_ENV = "SAGEMAKER_ROLE_ARN"


def _aws(args: argparse.Namespace) -> Aws:
    return Aws(region=args.region, profile=args.profile, endpoint_url=args.endpoint_url)


T = TypeVar("T")


def _options(cls: type[T], args: argparse.Namespace) -> T:
    """A settings dataclass from the options named after its fields."""
    given = vars(args)
    return cls(**{f.name: given[f.name] for f in dataclasses.fields(cls) if f.name in given})  # type: ignore[arg-type]


def _hosting(args: argparse.Namespace) -> Hosting:
    return _options(Hosting, args)


def _waiting(args: argparse.Namespace) -> Waiting:
    return Waiting(wait=not args.no_wait, poll_s=args.poll_seconds, timeout_s=args.timeout * 60)


def _environment(pairs: list[str]) -> dict[str, str]:
    environment = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise DeployError(f"--env wants KEY=VALUE, got {pair!r}")
        environment[key] = value
    return environment


def _role(args: argparse.Namespace) -> str:
    if not args.role:
        raise DeployError(f"no execution role: pass --role ARN or set {ROLE_ENV}")
    return str(args.role)


def cmd_deploy(args: argparse.Namespace) -> None:
    name = deploy_endpoint(
        _aws(args),
        name=args.name or names.timestamped("sklearn"),
        image=args.image,
        model=args.model,
        role=_role(args),
        hosting=_hosting(args),
        environment=_environment(args.env),
        bucket=args.bucket,
        waiting=_waiting(args),
    )
    print(name)


def cmd_deploy_multi(args: argparse.Namespace) -> None:
    name = deploy_multi_model_endpoint(
        _aws(args),
        name=args.name or names.timestamped("sklearn-mme"),
        image=args.image,
        role=_role(args),
        prefix=args.prefix,
        models=args.model,
        hosting=_hosting(args),
        environment=_environment(args.env),
        waiting=_waiting(args),
    )
    print(name)


def _prefix(aws: Aws, args: argparse.Namespace) -> S3Uri:
    return S3Uri.parse(args.prefix).as_prefix() if args.prefix else prefix_of(aws, args.endpoint)


def cmd_add_model(args: argparse.Namespace) -> None:
    aws = _aws(args)
    print(add_model(aws, _prefix(aws, args), args.source, args.as_name))


def cmd_list_models(args: argparse.Namespace) -> None:
    aws = _aws(args)
    for model in list_models(aws, _prefix(aws, args)):
        print(model)


def cmd_invoke(args: argparse.Namespace) -> None:
    if args.file:
        path = Path(args.file)
        body = path.read_bytes()
        content_type = args.content_type or content_type_for(path)
    elif args.row:
        body = "\n".join(args.row).encode()
        content_type = args.content_type or "text/csv"
    else:
        body = args.body.encode()
        content_type = args.content_type or "text/csv"
    answer = invoke_endpoint(
        _aws(args),
        args.endpoint,
        body,
        content_type=content_type,
        accept=args.accept,
        target_model=args.target_model,
        custom_attributes=args.custom_attributes,
    )
    if args.output:
        Path(args.output).write_bytes(answer.body)
        print(f"wrote {len(answer.body)} bytes of {answer.content_type} to {args.output}", file=sys.stderr)
    else:
        print(answer.decoded())


def cmd_transform(args: argparse.Namespace) -> None:
    settings = _options(TransformSettings, args)
    result = run_transform(
        _aws(args),
        model_name=args.model_name,
        data=args.input,
        output=args.output,
        job_name=args.job_name,
        settings=settings,
        download_to=None if args.no_download else Path(args.download),
        waiting=_waiting(args),
    )
    if args.no_download or args.no_wait:
        print(result.output)
    for file in result.files:
        print(file)


def cmd_autoscale(args: argparse.Namespace) -> None:
    print(configure_autoscaling(_aws(args), args.endpoint, _options(Scaling, args), variant=args.variant))


def cmd_delete(args: argparse.Namespace) -> None:
    delete_endpoint(_aws(args), args.endpoint)


def _global_options(parser: argparse.ArgumentParser, suppress: bool) -> None:
    # The same options on the main parser and on each subcommand, so they work before or
    # after the subcommand; SUPPRESS keeps a subcommand from resetting a value given before it.
    default = argparse.SUPPRESS if suppress else None
    parser.add_argument("--region", default=default, help="AWS region (default: AWS_REGION or the profile's)")
    parser.add_argument("--profile", default=default, help="AWS profile from ~/.aws/config")
    parser.add_argument(
        "--endpoint-url", default=default, help="one endpoint URL for every AWS service (e.g. a local moto)"
    )


def _hosting_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--image", required=True, help="image URI in ECR (what build_and_push.sh prints)")
    parser.add_argument(
        "--role",
        default=os.environ.get(ROLE_ENV),
        help=f"SageMaker execution role ARN (default: ${ROLE_ENV})",
    )
    parser.add_argument("--instance-type", default="ml.m5.large")
    parser.add_argument("--instance-count", type=_positive, default=1)
    parser.add_argument(
        "--env", action="append", default=[], metavar="KEY=VALUE", help="container environment; repeatable"
    )
    _wait_options(parser)


def _wait_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-wait", action="store_true", help="return once the create call is accepted")
    parser.add_argument("--timeout", type=float, default=60, metavar="MINUTES", help="give up waiting after")
    parser.add_argument("--poll-seconds", type=float, default=15, help=argparse.SUPPRESS)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _prefix_options(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--endpoint", help="multi-model endpoint whose model prefix to use")
    where.add_argument("--prefix", help="s3:// prefix of the multi-model endpoint")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="Deploy the scikit-learn image to SageMaker.")
    _global_options(parser, suppress=False)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(
        name: str, handler: Callable[[argparse.Namespace], None], summary: str
    ) -> argparse.ArgumentParser:
        command = sub.add_parser(name, help=summary, description=summary)
        _global_options(command, suppress=True)
        command.set_defaults(handler=handler)
        return command

    deploy = add("deploy", cmd_deploy, "deploy one model to a real-time endpoint; print its name")
    deploy.add_argument("--model", required=True, help="model.tar.gz, a model directory, or an s3:// URI")
    deploy.add_argument("--name", help="endpoint, config and model name (default: sklearn-TIMESTAMP)")
    deploy.add_argument("--bucket", help="bucket for a local model (default: sagemaker-REGION-ACCOUNT)")
    _hosting_options(deploy)

    multi = add("deploy-multi", cmd_deploy_multi, "deploy a multi-model endpoint over an S3 prefix")
    multi.add_argument(
        "--prefix", help="s3:// prefix of the models (default: s3://sagemaker-REGION-ACCOUNT/NAME/models/)"
    )
    multi.add_argument(
        "--model", action="append", default=[], help="model tarball or directory to add first; repeatable"
    )
    multi.add_argument("--name", help="endpoint, config and model name (default: sklearn-mme-TIMESTAMP)")
    _hosting_options(multi)

    add_cmd = add("add-model", cmd_add_model, "copy a model tarball under a multi-model endpoint's prefix")
    add_cmd.add_argument("source", help="model.tar.gz, a model directory, or an s3:// URI")
    add_cmd.add_argument(
        "--as", dest="as_name", help="name under the prefix, the TargetModel (default: file name)"
    )
    _prefix_options(add_cmd)

    list_cmd = add("list-models", cmd_list_models, "list the models under a multi-model endpoint's prefix")
    _prefix_options(list_cmd)

    invoke = add("invoke", cmd_invoke, "send a request to an endpoint and print the decoded answer")
    invoke.add_argument("endpoint")
    body = invoke.add_mutually_exclusive_group(required=True)
    body.add_argument("--file", help="request body from a file (.csv, .json, .jsonl, .npy)")
    body.add_argument("--row", action="append", help="one CSV row, e.g. 2005,2400,4,3,0.5,2; repeatable")
    body.add_argument("--body", help="request body as text, e.g. '[[1, 2, 3]]' with --content-type")
    invoke.add_argument("--content-type", help="default: from the file extension, else text/csv")
    invoke.add_argument("--accept", default="application/json")
    invoke.add_argument("--target-model", help="model under a multi-model endpoint's prefix, e.g. a.tar.gz")
    invoke.add_argument("--custom-attributes")
    invoke.add_argument("--output", help="write the raw answer to this file instead of printing it")

    transform = add("transform", cmd_transform, "run a batch transform job and download its .out files")
    transform.add_argument(
        "--model-name", required=True, help="an existing model (deploy names it like the endpoint)"
    )
    transform.add_argument(
        "--input", required=True, help="s3:// prefix, or a local file or directory to upload"
    )
    transform.add_argument(
        "--output", help="s3:// output prefix (default: s3://sagemaker-REGION-ACCOUNT/JOB/output/)"
    )
    transform.add_argument("--job-name", help="default: MODEL-TIMESTAMP")
    transform.add_argument("--instance-type", default="ml.m5.large")
    transform.add_argument("--instance-count", type=_positive, default=1)
    transform.add_argument("--max-payload-mb", type=int, default=6, help="MaxPayloadInMB, 0-100 (default 6)")
    help = "MaxConcurrentTransforms (default: the container's)"
    transform.add_argument(
        "--max-concurrent", dest="max_concurrent_transforms", type=int, default=0, help=help
    )
    transform.add_argument("--content-type", default="text/csv")
    transform.add_argument("--accept", default="text/csv")
    transform.add_argument(
        "--download", default="transform-output", metavar="DIR", help="default: ./transform-output"
    )
    transform.add_argument("--no-download", action="store_true", help="leave the results in S3")
    _wait_options(transform)

    scale = add("autoscale", cmd_autoscale, "scale an endpoint variant on invocations per instance")
    scale.add_argument("endpoint")
    scale.add_argument("--min", dest="min_instances", type=_positive, required=True, help="fewest instances")
    scale.add_argument("--max", dest="max_instances", type=_positive, required=True, help="most instances")
    help = "invocations per instance per minute (default 70)"
    scale.add_argument("--target", dest="target_invocations", type=float, default=70.0, help=help)
    scale.add_argument("--variant", help="default: the endpoint's first variant")
    scale.add_argument(
        "--scale-in-cooldown", dest="scale_in_cooldown_s", type=int, default=300, metavar="SECONDS"
    )
    scale.add_argument(
        "--scale-out-cooldown", dest="scale_out_cooldown_s", type=int, default=60, metavar="SECONDS"
    )

    delete = add("delete", cmd_delete, "delete an endpoint, its config, its models and its autoscaling")
    delete.add_argument("endpoint")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.handler(args)
    except (DeployError, ClientError, BotoCoreError, Boto3Error, OSError) as exc:
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted; whatever AWS already started carries on there", file=sys.stderr)
        return 130
    return 0
