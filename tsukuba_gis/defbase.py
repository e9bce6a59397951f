"""The base every definition model shares (layers, rasters, texts, report and search options)."""

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """Base for definition models: unknown keys are errors, so typos do not pass silently."""

    model_config = ConfigDict(extra="forbid", frozen=True)
