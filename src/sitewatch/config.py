"""Settings from the environment (prefix SITEWATCH_); read only by the CLI (and later the API)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
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

    def quality_thresholds(self) -> QualityThresholds:
        """The quality thresholds as the frozen object compute code takes."""
        return QualityThresholds(
            min_covered_fraction=self.min_covered_fraction,
            max_nodata_fraction=self.max_nodata_fraction,
            max_cloud_score=self.max_cloud_score,
            max_haze_score=self.max_haze_score,
        )
