"""Fixtures of the server tests that write: a city to edit on each store (tests/editcity.py)."""

import pytest
from editcity import EditCity, edit_city_for
from fastapi.testclient import TestClient

from server.app import create_app


@pytest.fixture(scope="module", params=["gpkg", "postgis"])
def edit_city(request, tmp_path_factory) -> EditCity:
    """The sample shelters, road areas and boundary in a store of this module's own."""
    return edit_city_for(request, tmp_path_factory.mktemp(f"edits-{request.param}"))


@pytest.fixture(scope="module")
def edit_app(edit_city):
    """The app over the city (TestClient: the process boundary is not what these tests test)."""
    settings = edit_city.settings.model_copy(update={"public_url": "http://testserver"})
    return create_app(settings, edit_city.auth)


@pytest.fixture(scope="module")
def edit_client(edit_app):
    with TestClient(edit_app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture(scope="module")
def edit_staff(edit_city):
    return edit_city.staff()
