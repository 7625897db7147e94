"""What the fault injector may do, as data.

Everything is off by default, so a simulator wrapped with the default :class:`FaultConfig` behaves
exactly like the bare simulator (the contract tests rely on that). The same model is the body of
``PUT /__admin/faults``, so unknown keys are refused rather than silently ignored: a typo in a
benchmark's fault set would otherwise measure the wrong thing.

Probabilities are rolled independently per request with one seeded :class:`random.Random`, so a
rate of ``0.0`` never fires, ``1.0`` always fires, and a seed reproduces a run.
"""

from __future__ import annotations

import fnmatch
import random
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

Probability = Annotated[float, Field(ge=0.0, le=1.0)]
NonNegative = Annotated[float, Field(ge=0.0)]

GATEWAY_STATUSES = frozenset({500, 502, 503, 504})

TOKEN_PATHS = ("/connect/token", "*/connect/token", "/oauth2/v1/token", "*/oauth2/v1/token")

# Paths spared from error faults by default: the admin endpoint must keep working while faults
# are on, and token endpoints have their own throttling knob (``rate_429_token``).
DEFAULT_EXCLUDE_PATHS = ("/__admin/*", *TOKEN_PATHS)


class RateLimitStyle(StrEnum):
    """How a 429 looks on the wire, per simulated system.

    ServiceTitan's gateway (Azure API Management by all signs) answers with a ProblemDetails body
    whose title ends "Try again in N seconds." (servicetitan-api.md §9). Fusion documents no 429
    at all; clients that handle one see an empty or plain-text body (oracle-fusion-api.md §6).
    """

    SERVICETITAN = "servicetitan"
    FUSION_EMPTY = "fusion-empty"
    FUSION_TEXT = "fusion-text"


class DropStyle(StrEnum):
    """What the client gets when a committed write's response is lost."""

    GATEWAY_TIMEOUT = "504"
    CONNECTION_RESET = "reset"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Latency(_Strict):
    """Added response time: a fixed part, a normal part and a long tail, summed.

    ``fixed_ms`` alone gives the benchmark conditions (DESIGN §5: 200 ms per Fusion page, 150 ms
    per ServiceTitan request). The normal part is clipped at zero. The tail models the occasional
    very slow answer that makes a client's timeouts matter.
    """

    fixed_ms: NonNegative = 0.0
    mean_ms: NonNegative = 0.0
    sd_ms: NonNegative = 0.0
    tail_probability: Probability = 0.0
    tail_ms: NonNegative = 0.0

    @property
    def is_zero(self) -> bool:
        return self.fixed_ms == 0 and self.mean_ms == 0 and self.sd_ms == 0 and self.tail_ms == 0

    def sample_seconds(self, rng: random.Random) -> float:
        """One draw, in seconds. Draws from ``rng`` only for the parts that are switched on."""
        ms = self.fixed_ms
        if self.mean_ms or self.sd_ms:
            ms += max(0.0, rng.gauss(self.mean_ms, self.sd_ms))
        if self.tail_probability and self.tail_ms and rng.random() < self.tail_probability:
            ms += self.tail_ms
        return ms / 1000.0


class RouteLatency(_Strict):
    """A latency that replaces the default one for matching requests.

    ``path`` is a shell-style pattern (``fnmatch``), e.g.
    ``/fscmRestApi/resources/*/suppliers*``; ``method`` narrows it (``None`` = any method).
    """

    path: str
    method: str | None = None
    latency: Latency

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return fnmatch.fnmatchcase(path, self.path)


class FaultConfig(_Strict):
    """The full fault set. Replace it at run time with ``PUT /__admin/faults``.

    Order of evaluation: latency (every path but the admin endpoint), the token endpoint's own
    429, then, for paths not excluded: token revocation (every N API calls), timeout, 429, 5xx
    and, for writes, drop-after-commit. The first error fault that fires answers the request;
    only drop-after-commit lets it reach the application. After a successful GET, the paging
    hook may run.
    """

    seed: int | None = None

    latency: Latency = Latency()
    route_latency: list[RouteLatency] = Field(default_factory=list)

    rate_429: Probability = 0.0
    retry_after_seconds: Annotated[int, Field(ge=0)] = 2
    rate_429_style: RateLimitStyle = RateLimitStyle.SERVICETITAN

    # "ServiceTitan employs throttling of API requests to new access tokens" (§9): a 429 on the
    # token endpoint, independent of exclude_paths.
    rate_429_token: Probability = 0.0
    token_paths: list[str] = Field(default_factory=lambda: list(TOKEN_PATHS))

    rate_5xx: Probability = 0.0
    statuses_5xx: list[int] = Field(default_factory=lambda: [500, 502, 503, 504])

    rate_timeout: Probability = 0.0
    timeout_seconds: NonNegative = 30.0

    rate_drop_after_commit: Probability = 0.0
    drop_methods: list[str] = Field(default_factory=lambda: ["POST", "PATCH"])
    drop_style: DropStyle = DropStyle.GATEWAY_TIMEOUT

    revoke_tokens_every: Annotated[int, Field(ge=1)] | None = None

    insert_while_paging_every: Annotated[int, Field(ge=1)] | None = None
    insert_while_paging_rate: Probability = 0.0
    paging_paths: list[str] = Field(default_factory=lambda: ["*"])

    exclude_paths: list[str] = Field(default_factory=lambda: list(DEFAULT_EXCLUDE_PATHS))

    @field_validator("statuses_5xx")
    @classmethod
    def _gateway_statuses(cls, value: list[int]) -> list[int]:
        if not value:
            raise ValueError("statuses_5xx needs at least one status")
        wrong = sorted(set(value) - GATEWAY_STATUSES)
        if wrong:
            raise ValueError(f"statuses_5xx must be among {sorted(GATEWAY_STATUSES)}, not {wrong}")
        return value

    @field_validator("drop_methods")
    @classmethod
    def _upper_methods(cls, value: list[str]) -> list[str]:
        return [method.upper() for method in value]

    def is_excluded(self, path: str) -> bool:
        return any(fnmatch.fnmatchcase(path, pattern) for pattern in self.exclude_paths)

    def is_token_path(self, path: str) -> bool:
        return any(fnmatch.fnmatchcase(path, pattern) for pattern in self.token_paths)

    def latency_for(self, method: str, path: str) -> Latency:
        for route in self.route_latency:
            if route.matches(method, path):
                return route.latency
        return self.latency

    def is_paging_path(self, path: str) -> bool:
        return any(fnmatch.fnmatchcase(path, pattern) for pattern in self.paging_paths)
