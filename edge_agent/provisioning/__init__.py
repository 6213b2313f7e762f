"""Device and fleet provisioning: identities, broker credentials and ACLs, TLS, bundles."""

from __future__ import annotations

from edge_agent.provisioning.errors import ProvisioningError

__all__ = ["ProvisioningError"]
