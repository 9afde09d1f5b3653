"""Indicator rule packs (YAML) and their evaluation into assessments with a rationale."""
