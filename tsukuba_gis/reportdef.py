"""Report categories (issue 17): ``layers/reports/_categories.yaml``, what residents may report,
each routed to the department that handles it, with the extra questions it asks.

They are Open311 GeoReport v2 *services*: ``id`` is the ``service_code``, ``asks`` its attributes.
"""

import re

from pydantic import Field, field_validator, model_validator

from tsukuba_gis.defbase import Strict, each_once
from tsukuba_gis.i18n import I18n

CATEGORIES_FILE = "_categories.yaml"
REPORTS_DEPARTMENT = "reports"  # the folder of the reports layer and of the categories
_CODE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def _open311_code(value: str) -> str:
    if not _CODE.match(value):
        raise ValueError(f"{value!r}: lower-case ASCII letters, digits and _ (an Open311 code)")
    return value


class AskDef(Strict):
    """One extra question of a category (an Open311 attribute).

    Attributes:
        code: the attribute code (``attribute[code]`` in an Open311 POST).
        values: the answers to choose from (None: free text of ``max_length``).
    """

    code: str
    label: I18n
    required: bool = False
    values: list[str] | None = Field(default=None, min_length=1)
    max_length: int = Field(default=100, ge=1, le=500)

    _code = field_validator("code")(_open311_code)


class CategoryDef(Strict):
    """One kind of problem residents may report.

    Attributes:
        id: the Open311 service_code.
        department: the department whose staff handle it.
        keywords: Open311 keywords (search words of the service list).
    """

    id: str
    title: I18n
    description: I18n
    department: str
    keywords: list[str] = []
    asks: list[AskDef] = []

    _id = field_validator("id")(_open311_code)

    @model_validator(mode="after")
    def _unique_asks(self) -> "CategoryDef":
        each_once([a.code for a in self.asks], "ask codes")
        return self


class CategoriesDef(Strict):
    """The whole categories file."""

    categories: list[CategoryDef] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> "CategoriesDef":
        each_once([c.id for c in self.categories], "category ids")
        return self
