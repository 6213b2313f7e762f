"""fieldproof edge agent: sources, inference, analytics, link, provisioning."""
