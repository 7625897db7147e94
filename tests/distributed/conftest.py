"""Fixtures of the distributed-runner tests: ``postgres_url`` comes from tests/conftest.py."""
