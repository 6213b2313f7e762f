from tests.services.nats import nats_cluster

__all__ = ["nats_cluster"]
