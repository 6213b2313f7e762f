"""How agent and aggregator reach the broker: one URL parser, one TLS model, one builder.

:mod:`fieldproof.transport.config` holds the config models and needs nothing beyond the
core; :mod:`fieldproof.transport.mqtt` builds the paho client and is imported only by
the roles that install paho (``edge``, ``aggregator``).
"""
