"""The local view: each camera's latest frame with what the agent sees and counts, and
counting lines placed by clicking on it. Served by the agent, on the loopback unless
configured otherwise; frames for any other address are redacted or withheld."""
