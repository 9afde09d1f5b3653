"""Settings from the environment (prefix SITEWATCH_); read only by the CLI (and later the API)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from sitewatch.core.models import QualityThresholds


class Settings(BaseSettings):
    """Everything configurable, e.g. SITEWATCH_HOME=/data/sitewatch."""

    model_config = SettingsConfigDict(env_prefix="SITEWATCH_", extra="ignore")

    home: Path = Field(default=Path("sitewatch-data"), description="store and outputs folder")
    max_site_area_km2: float = Field(default=100.0, gt=0)
    min_covered_fraction: float = Field(default=0.8, ge=0, le=1)
    max_nodata_fraction: float = Field(default=0.2, ge=0, le=1)
    max_cloud_score: float = Field(default=0.3, ge=0, le=1)
    max_haze_score: float = Field(default=0.6, ge=0, le=1)
    coreg_min_confidence: float = Field(default=0.3, ge=0, le=1)
    coreg_max_shift_px: float = Field(default=32.0, gt=0)
    model: Path | None = Field(default=None, description="detector model or registration YAML")
    change_model: Path | None = Field(
        default=None,
        description="learned pixel-change model (default: the bundled one; 'none' for the "
        "unsupervised test only)",
    )
    rules: Path | None = Field(
        default=None, description="rule pack YAML, or a folder of them (default: bundled packs)"
    )
    alerts_jsonl: Path | None = Field(
        default=None, description="JSON-lines alert file (default $SITEWATCH_HOME/alerts.jsonl)"
    )
    webhook_url: str | None = Field(default=None, description="POST alerts here (http/https)")
    webhook_secret: str | None = Field(default=None, description="HMAC-SHA256 key for webhooks")
    smtp_host: str | None = None
    smtp_port: int = Field(default=25, gt=0, lt=65536)
    smtp_from: str | None = None
    smtp_to: str | None = Field(default=None, description="comma-separated recipients")
    smtp_starttls: bool = False
    smtp_user: str | None = None
    smtp_password: str | None = None
    delivery_max_attempts: int = Field(default=10, ge=1)
    delivery_base_delay_s: float = Field(default=30.0, ge=0)

    @field_validator("webhook_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        parsed = urlparse(value)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(
                f"{value!r} is not an http(s) URL; use e.g. https://example.org/sitewatch-hook"
            )
        return value

    def quality_thresholds(self) -> QualityThresholds:
        """The quality thresholds as the frozen object compute code takes."""
        return QualityThresholds(
            min_covered_fraction=self.min_covered_fraction,
            max_nodata_fraction=self.max_nodata_fraction,
            max_cloud_score=self.max_cloud_score,
            max_haze_score=self.max_haze_score,
        )
