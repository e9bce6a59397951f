"""The base every definition model shares (layers, rasters, texts, report and search options)."""

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """Base for definition models: unknown keys are errors, so typos do not pass silently."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def each_once(values: list[str], what: str) -> None:
    """ValueError naming the repeated ones (a model validator's check of ids, names, codes)."""
    repeated = sorted({v for v in values if values.count(v) > 1})
    if repeated:
        raise ValueError(f"duplicate {what}: {', '.join(repeated)}")
