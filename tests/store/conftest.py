"""Store fixtures live in tests/conftest.py (shared with the web and flow tests)."""
