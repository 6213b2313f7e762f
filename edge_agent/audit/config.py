"""``audit`` in ``agent.yaml``: where the agent checks that its reports were anchored."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from fieldproof.api_client import API_KEY_ENV
from fieldproof.config import ConfigModel


class AuditConfig(ConfigModel):
    api: str | None = Field(
        None,
        description="Aggregator API base URL (http(s)://) the proofs are fetched from; "
        "none: no audit.",
    )
    rpc: str | None = Field(
        None, description="Chain URL (http(s)://) the anchored roots are read from."
    )
    deployment: Path | None = Field(
        None, description="deployment.json naming the DataAnchor contract."
    )
    interval_s: float = Field(300.0, gt=0, description="Seconds between audits.")
    skew_s: float = Field(
        60.0,
        ge=0,
        description="Clock difference allowed between this device and the aggregator: a "
        "report acknowledged this close to an anchored epoch's end waits for the next one.",
    )
    api_key_env: str = Field(
        API_KEY_ENV, description="Environment variable holding the API key, if one is needed."
    )

    @model_validator(mode="after")
    def _complete(self) -> AuditConfig:
        if self.api is not None and (self.rpc is None or self.deployment is None):
            raise ValueError("api needs rpc and deployment: roots are read from the chain")
        return self
