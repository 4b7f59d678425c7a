"""The AWS session every operation shares: profile, region and endpoint URL in one place."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config

from deploy.errors import DeployError


@dataclass
class Aws:
    """A boto3 session plus the endpoint URL that `--endpoint-url` gives every client.

    One endpoint URL for all services is what a local emulator (moto) needs; against AWS it
    is normally left unset and boto3 picks each service's endpoint (or AWS_ENDPOINT_URL).
    """

    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None
    session: boto3.Session = field(init=False, repr=False)
    _clients: dict[str, Any] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self.session = boto3.Session(profile_name=self.profile, region_name=self.region)
        if not self.session.region_name:
            raise DeployError(
                "no AWS region: pass --region, set AWS_REGION, or set one in the profile (aws configure)"
            )

    @property
    def region_name(self) -> str:
        return str(self.session.region_name)

    def client(self, service: str) -> Any:
        if service not in self._clients:
            # Standard retry mode backs off on throttling, which polling loops can meet.
            config = Config(retries={"mode": "standard", "max_attempts": 5})
            self._clients[service] = self.session.client(
                service, endpoint_url=self.endpoint_url, config=config
            )
        return self._clients[service]

    def account_id(self) -> str:
        return str(self.client("sts").get_caller_identity()["Account"])

    def default_bucket(self) -> str:
        """The bucket the SageMaker SDK uses by default, so both tools share one."""
        return f"sagemaker-{self.region_name}-{self.account_id()}"
