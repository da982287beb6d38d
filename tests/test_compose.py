"""compose.yaml stays a valid Compose file (no engine runs here, so we check its structure)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

COMPOSE = Path(__file__).parent.parent / "compose.yaml"


def test_compose_file_is_well_formed() -> None:
    """Every service has an image, a healthcheck, loopback-only ports and no literal secret."""
    document: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    services = document["services"]
    assert "openbao" in services
    for name, service in services.items():
        assert service.get("image") or service.get("build"), name
        assert service["healthcheck"]["test"], name
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"
        for key, value in (service.get("environment") or {}).items():
            if "TOKEN" in key or "SECRET" in key:
                assert str(value).startswith("${"), f"{name}.{key} must come from the environment"
