"""``python -m ml_connector.sandbox.fusion``: serve the seeded simulator on 127.0.0.1:8710 with uvicorn."""

from __future__ import annotations

import uvicorn

from ml_connector.sandbox import credentials

from .app import create_app


def main() -> None:
    uvicorn.run(create_app(), host=credentials.FUSION_HOST, port=credentials.FUSION_PORT)


if __name__ == "__main__":
    main()
