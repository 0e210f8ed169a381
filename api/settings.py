"""Typed settings, read once where the application is assembled.

Values come from the environment, then from ``.env`` in the working directory. SalesKG's own
settings use the ``SKG_`` prefix; the Neo4j connection uses the usual ``NEO4J_*`` names.
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from kg.errors import ConfigError

WEAK_PASSWORDS = {"neo4j", "password", "changethis", "12345678"}
DEFAULT_ENV_FILE = Path(".env")


class Settings(BaseSettings):
    """Every knob of SalesKG in one place (see README, "Configuration")."""

    model_config = SettingsConfigDict(
        env_prefix="SKG_", env_file=".env", extra="ignore", populate_by_name=True
    )

    home: Path = Field(Path(".skg"), description="Project-local state: Neo4j, models, indexes.")

    neo4j_uri: str | None = Field(
        None,
        validation_alias=AliasChoices("NEO4J_URI", "neo4j_uri"),
        description="An existing Neo4j 5 (bolt://, neo4j://, neo4j+s://). Unset: the local one.",
    )
    neo4j_user: str = Field("neo4j", validation_alias=AliasChoices("NEO4J_USER", "neo4j_user"))
    neo4j_password: SecretStr | None = Field(
        None, validation_alias=AliasChoices("NEO4J_PASSWORD", "neo4j_password")
    )
    neo4j_database: str = Field(
        "neo4j", validation_alias=AliasChoices("NEO4J_DATABASE", "neo4j_database")
    )

    neo4j_home: Path | None = Field(None, description="The local server's home. Unset: HOME/neo4j.")
    neo4j_bolt_port: int = 7687
    neo4j_http_port: int = 7474
    neo4j_listen_address: str = "127.0.0.1"
    neo4j_heap: str = "1g"
    neo4j_pagecache: str = "512m"
    neo4j_start_timeout: float = 180.0
    java_home: Path | None = None

    embedding_model: Path | None = Field(
        None, description="A sentence-transformers folder. Unset: the prepared e5-small."
    )
    embedding_dimensions: int = Field(384, ge=1, le=4096)
    encoder: Literal["openvino", "openvino-f32", "ct2-int8", "torch"] = Field(
        "openvino",
        description="Runtime of the prepared e5 encoder (docs/benchmarks.md, Encoders): "
        "openvino (bfloat16 where the CPU has it, else fp32; the same rankings as PyTorch), "
        "openvino-f32, ct2-int8 (CTranslate2 int8: fastest, rankings move by up to 0.011 "
        "nDCG@10) or torch (PyTorch fp32). A custom SKG_EMBEDDING_MODEL always runs on torch.",
    )
    encoder_threads: int = Field(
        0, ge=0, le=64, description="Threads per encoder call; 0: the runtime's default."
    )
    whisper_model: Path | None = Field(
        None, description="A CTranslate2 Whisper folder or an openai-whisper .pt file."
    )
    whisper_backend: Literal["faster-whisper", "openai-whisper"] = "faster-whisper"
    whisper_beam_size: int = Field(
        3, ge=1, le=10, description="faster-whisper beam (docs/speech.md: speed against errors)"
    )
    whisper_fallback: bool = Field(
        True, description="Retry a window at higher temperatures when decoding looks poor."
    )
    whisper_threads: int = Field(0, ge=0, le=64, description="0: the runtime's default.")
    whisper_window_s: float = Field(
        20.0,
        ge=5,
        le=30,
        description="Seconds of a padded window the Whisper encoder sees (docs/speech.md).",
    )
    index_dir: Path | None = None
    audio_max_seconds: float = Field(120.0, gt=0, description="Longest audio accepted.")
    audio_max_bytes: int = Field(20 * 1024 * 1024, gt=0, description="Largest audio file accepted.")
    audio_decode_seconds: float = Field(
        10.0, gt=0, description="Wall-clock budget for decoding one recording."
    )
    transcribe_seconds: float = Field(
        60.0, gt=0, description="Wall-clock budget for transcribing one recording."
    )
    vad: bool = Field(
        True, description="Refuse recordings without speech before Whisper runs (Silero VAD)."
    )
    llm_base_url: str | None = Field(
        None, description="An OpenAI-compatible endpoint that polishes answers (optional)."
    )
    llm_model: str | None = None
    llm_api_key: SecretStr | None = None
    llm_timeout: float = 8.0
    top_k: int = Field(8, ge=1, le=50)

    # -- the HTTP service ---------------------------------------------------------------------
    auth_required: bool = Field(
        True,
        description="Require an API key. False: keyless calls may search and ask, public only.",
    )
    auth_cache_seconds: float = Field(
        30.0,
        ge=0,
        description="How long a checked key is trusted before Neo4j is asked again "
        "(a revoked key stops working within this time).",
    )
    cors_origins: list[str] = Field(
        default_factory=list,
        description="Origins allowed to call the API from a browser, e.g. "
        '["https://crm.example.com"]; "*" allows any.',
    )
    max_json_bytes: int = Field(64 * 1024, gt=0, description="Largest JSON request body.")
    ingest_max_bytes: int = Field(50 * 1024 * 1024, gt=0, description="Largest ingest upload.")
    request_timeout: float = Field(
        60.0, gt=0, description="Seconds before a request is answered 504 (voice included)."
    )
    keepalive_requests: int = Field(
        20,
        ge=0,
        description="Close a client's connection after this many requests (0: never), so that "
        "clients that keep connections open spread over the workers (docs/benchmarks.md).",
    )
    neo4j_retry_seconds: float = Field(
        5.0, ge=0, description="How long a statement is retried while Neo4j is unreachable."
    )
    uploads_dir: Path | None = Field(None, description="Ingest uploads. Unset: HOME/uploads.")
    index_refresh_seconds: float = Field(
        30.0,
        ge=0,
        description="How often a running server looks for changes made in Neo4j "
        "(curators' edits, feedback) and refreshes its index; 0 turns it off. The check reads "
        "the graph's change feed (milliseconds at any size).",
    )
    index_audit_seconds: float = Field(
        60.0,
        ge=0,
        description="How often a running server compares every atom in Neo4j with its index "
        "(the safety net for hand edits that stamp nothing), flags stale atoms and refreshes "
        "Browser captions; stretched so that audits take at most 1/20 of the time on a large "
        "graph; 0 turns it off.",
    )
    index_save_seconds: float = Field(
        300.0,
        ge=0,
        description="How often a running server writes the index it keeps current in memory "
        "to disk (so that a restart starts from it); 0: only at shutdown.",
    )
    ingest_large_job_bytes: int = Field(
        1024 * 1024,
        gt=0,
        description="Upload jobs larger than this run in a lane of their own, so small jobs "
        "never wait behind them.",
    )
    ingest_max_expanded_bytes: int = Field(
        64 * 1024 * 1024,
        gt=0,
        description="Largest a .docx or .xlsx may grow when unzipped (zip bombs are refused).",
    )
    ingest_max_atoms: int = Field(
        200_000, gt=0, description="Most atoms one document may make (more is refused)."
    )
    ingest_parse_seconds: float = Field(
        120.0, gt=0, description="Longest one file may take to parse (a slower one is refused)."
    )
    stale_after_days: int = Field(
        180, ge=1, description="Atoms unverified for this long are flagged for review."
    )
    rate_limit_per_minute: float = Field(
        600.0,
        ge=0,
        description="Requests a minute per API key (per client address for keyless callers), "
        "per worker process; 0 turns the limit off.",
    )
    rate_limit_burst: int = Field(60, ge=1, description="Requests a caller may send at once.")
    upload_rate_limit_per_minute: float = Field(
        30.0,
        ge=0,
        description="Spoken questions and ingest uploads a minute per API key (or address), "
        "per worker process; 0 turns the limit off.",
    )
    upload_rate_limit_burst: int = Field(10, ge=1, description="Uploads a caller may send at once.")

    # -- the knowledge managers' page (/app/admin) ----------------------------------------------
    neo4j_browser_url: str | None = Field(
        None,
        description="Neo4j Browser as knowledge managers reach it, e.g. "
        "http://kg.example.com:7474/browser/; the admin page links atoms into it. Unset: the "
        "host the page was loaded from, on SKG_NEO4J_HTTP_PORT.",
    )

    # -- conversations: follow-up questions (issue 16) -----------------------------------------
    conversation_days: int = Field(
        30,
        ge=1,
        le=3650,
        description="Conversations (follow-up questions) untouched this many days are deleted.",
    )

    # -- pushes to the CRM's webhook (issue 17) ---------------------------------------------------
    push_webhook_url: str | None = Field(
        None,
        description="Where pushes are POSTed (http or https), e.g. the CRM's inbound webhook. "
        "Only the operator sets it: no API call names an address. Unset: pushes are kept and "
        "listed at GET /v1/pushes, not sent.",
    )
    push_webhook_secret: SecretStr | None = Field(
        None,
        description="Key of the HMAC-SHA256 signature over each body (X-SKG-Signature); at "
        "least 16 characters; required with the URL.",
    )
    push_webhook_timeout: float = Field(5.0, gt=0, le=60, description="Seconds per attempt.")
    push_max_attempts: int = Field(6, ge=1, le=20, description="Attempts before a push fails.")
    push_retry_base_seconds: float = Field(
        5.0, gt=0, description="Wait after the first failed attempt; doubled after each next one."
    )
    push_retry_max_seconds: float = Field(600.0, gt=0, description="Longest wait between attempts.")
    push_poll_seconds: float = Field(
        1.0, gt=0, le=60, description="How often the worker looks for pushes due for a retry."
    )
    push_rate_per_hour: int = Field(
        20, ge=0, description="Pushes a rep may receive an hour (more are dropped); 0: no limit."
    )

    @field_validator("push_webhook_url")
    @classmethod
    def _http_only(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"https?://[^\s/?#]+[^\s]*", value):
            raise ValueError("SKG_PUSH_WEBHOOK_URL must be an http:// or https:// address")
        return value

    @model_validator(mode="after")
    def _signed_pushes(self) -> Settings:
        secret = self.push_webhook_secret
        if self.push_webhook_url and (secret is None or len(secret.get_secret_value()) < 16):
            raise ValueError(
                "SKG_PUSH_WEBHOOK_SECRET (16 characters or more) is required with "
                "SKG_PUSH_WEBHOOK_URL: receivers check each push's signature with it"
            )
        return self

    @field_validator("neo4j_password")
    @classmethod
    def _refuse_weak(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value().lower() in WEAK_PASSWORDS:
            raise ValueError("NEO4J_PASSWORD is a well-known default; choose another one")
        return value

    @property
    def managed_neo4j(self) -> bool:
        """True when SalesKG runs its own local Neo4j (no NEO4J_URI given)."""
        return not self.neo4j_uri

    @property
    def bolt_uri(self) -> str:
        return self.neo4j_uri or f"bolt://127.0.0.1:{self.neo4j_bolt_port}"

    @property
    def neo4j_home_path(self) -> Path:
        return self.neo4j_home or self.home / "neo4j"

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def encoder_path(self) -> Path:
        """The prepared encoder of ``SKG_ENCODER`` (torch: the e5 folder itself)."""
        if self.encoder.startswith("openvino"):
            return self.models_dir / "multilingual-e5-small-openvino"
        if self.encoder == "ct2-int8":
            return self.models_dir / "multilingual-e5-small-ct2"
        return self.embedding_model_path

    @property
    def embedding_model_path(self) -> Path:
        return self.embedding_model or self.models_dir / "multilingual-e5-small"

    @property
    def whisper_model_path(self) -> Path:
        if self.whisper_model:
            return self.whisper_model
        base = self.models_dir / "whisper-base"
        return (
            base / "openai" / "base.pt"
            if self.whisper_backend == "openai-whisper"
            else (base / "ct2")
        )

    @property
    def uploads_path(self) -> Path:
        return self.uploads_dir or self.home / "uploads"

    @property
    def index_path(self) -> Path:
        return self.index_dir or self.home / "index"

    def password(self) -> str:
        if self.neo4j_password is None:
            raise ConfigError(
                "NEO4J_PASSWORD is not set. Run `skg setup` (it writes one into .env) or set it."
            )
        return self.neo4j_password.get_secret_value()


def ensure_password(env_file: Path = DEFAULT_ENV_FILE) -> bool:
    """Generate NEO4J_PASSWORD into ``env_file`` when none is configured.

    Returns:
        True when a new password was written.
    """
    if Settings().neo4j_password is not None:
        return False
    password = secrets.token_urlsafe(18)
    existing = env_file.read_text() if env_file.exists() else ""
    sep = "" if not existing or existing.endswith("\n") else "\n"
    env_file.write_text(f"{existing}{sep}NEO4J_PASSWORD={password}\n")
    env_file.chmod(0o600)
    return True
