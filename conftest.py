# Fixtures for tests that use the real RabbitMQ and PostgreSQL (a fresh vhost / database per test), and the
# messaging harness that runs one handler test in memory and against RabbitMQ.
pytest_plugins = ["shared.testing.fixtures", "shared.testing.messaging_harness"]
