"""Fixtures that start real services (Mosquitto, PostgreSQL, InfluxDB, anvil) on free ports."""
