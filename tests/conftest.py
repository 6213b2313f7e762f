"""Root test configuration: service fixtures are plugins under tests/services/."""

pytest_plugins: list[str] = [
    "tests.services.mosquitto",
    "tests.services.postgres",
    "tests.services.influxdb",
    "tests.services.anvil",
    "tests.services.amqtt",
]
