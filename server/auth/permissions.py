"""Who may edit which layer: departments and token scopes (issue 13).

A staff member may edit the editable layers of their departments (``editable.departments`` of
the layer, by default its own department); an admin every editable layer. A token may do at
most what its user may, and only writes when made with ``--scope edit`` (or
``edit-unconditional``). Each refusal says why, so the person knows whom to ask.
"""

from server.auth.authenticate import Principal
from tsukuba_gis.errors import Forbidden
from tsukuba_gis.layerdef import LayerDef
from tsukuba_gis.store.base import Editor


def may_edit(principal: Principal, layer: LayerDef) -> bool:
    """Whether ``principal`` may edit ``layer`` (no exception: for OPTIONS and the viewer)."""
    try:
        edit_department(principal, layer)
    except Forbidden:
        return False
    return True


def edit_department(principal: Principal, layer: LayerDef) -> str | None:
    """The department ``principal`` edits ``layer`` as (None for an admin); Forbidden otherwise."""
    if principal.scope == "read":
        raise Forbidden(
            "this token is read-only; an admin can make one that may edit"
            " (tsukuba-gis tokens create USER --scope edit)"
        )
    if principal.role == "admin":
        return None
    mine = [d for d in principal.departments if d in layer.editors]
    if not mine:
        theirs = ", ".join(principal.departments) or "no department"
        raise Forbidden(
            f"{principal.username} ({theirs}) may not edit {layer.id}: it is edited by the"
            f" {', '.join(layer.editors)} department; ask an admin to add you there"
            " (tsukuba-gis users departments)"
        )
    return mine[0]


def editor_of(principal: Principal, layer: LayerDef) -> Editor:
    """The Editor recorded with an edit of ``layer`` by ``principal`` (Forbidden when not allowed)."""
    return Editor(principal.username, edit_department(principal, layer), principal.method)
