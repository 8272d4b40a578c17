# Fixtures for tests that use the real RabbitMQ and PostgreSQL (a fresh vhost / database per test).
pytest_plugins = ["shared.testing.fixtures"]
