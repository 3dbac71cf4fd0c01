"""Configuration from the environment (``BWT_*`` variables), read in one place."""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DATA_DIR = Path("var")


class Settings(BaseSettings):
    """Every setting of the server. Each one is documented in docs/operations.md (a test checks)."""

    model_config = SettingsConfigDict(env_prefix="BWT_", extra="ignore")

    database_url: str = Field(
        default=f"sqlite+aiosqlite:///{DATA_DIR / 'bwt.db'}",
        description="SQLAlchemy URL: sqlite+aiosqlite:///file.db or postgresql+asyncpg://…",
    )
    redis_url: str | None = Field(
        default=None, description="redis://… to fan out through Redis; unset: in-process broker"
    )
    redis_prefix: str = Field(default="bwt:", description="prefix of every Redis channel and key")
    secret_key: str = Field(
        default="",
        description="signs session cookies; unset: generated once and kept in var/secret_key",
    )
    allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="comma-separated origins that may open the WebSocket; empty: the server's own",
    )
    https_only_cookies: bool = Field(
        default=False, description="mark the session cookie Secure (set behind TLS)"
    )
    host: str = Field(default="127.0.0.1", description="address `bwt serve` listens on")
    port: int = Field(default=8000, description="port `bwt serve` listens on")
    max_body_chars: int = Field(default=4000, description="longest message text, in characters")
    max_frame_bytes: int = Field(default=65536, description="largest WebSocket frame accepted")
    socket_queue_size: int = Field(
        default=1000, description="events buffered per socket before it counts as a slow consumer"
    )
    send_timeout_seconds: float = Field(
        default=10.0, description="a socket that cannot take a frame for this long is cut off"
    )
    socket_send_buffer_bytes: int = Field(
        default=131072,
        description="kernel send buffer of each connection (0: the kernel's own autotuning)",
    )
    gc_thresholds: str = Field(
        default="50000,50,1000",
        description="Python garbage-collector thresholds set after start ('' keeps Python's)",
    )
    frame_rate: float = Field(default=20.0, description="frames per second a socket may send")
    frame_burst: int = Field(default=60, description="frames a socket may send in one burst")
    migrate_on_start: bool = Field(
        default=True, description="run database migrations and load the catalogue at start-up"
    )
    log_level: str = Field(default="info", description="log level of the server")

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip().rstrip("/") for item in value.split(",") if item.strip()]
        return value

    @property
    def broker_url(self) -> str:
        return self.redis_url or "memory://"

    def session_secret(self) -> str:
        """The cookie-signing key; generated on first start so the default needs no set-up."""
        if self.secret_key:
            return self.secret_key
        path = DATA_DIR / "secret_key"
        if path.exists():
            return path.read_text().strip()
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        path.write_text(key)
        path.chmod(0o600)
        return key


@lru_cache
def get_settings() -> Settings:
    return Settings()
