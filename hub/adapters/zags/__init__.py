"""ЕГР ЗАГС (FNS): birth records asked for (ROGDINF 4.0.1) and change notifications pushed
to the hub (birth, death, name change, paternity), each answered."""

from __future__ import annotations

from functools import partial

from hub.adapters.router import Router
from hub.adapters.zags.handlers import (
    COMMAND,
    rogdinf_answer,
    verify_birth_record,
    zags_notification,
)
from hub.adapters.zags.requests import LegalBasis
from hub.adapters.zags.schemas import NOTICES, REGISTRY, RESPONSE, answer_gate, notice_gate

AGENCY = "zags"


def register(router: Router) -> None:
    """The adapter's routes: the ``verify_birth_record`` command, ZAGS's answer to it, and the
    four notifications, as their ``{ns}Request`` roots or as a bare directive ``Registry``.
    Requests cite the legal basis in ``settings`` (``HUB_ZAGS_BASIS_CODE``, ``…_DOCUMENT``)."""
    settings = router.settings
    basis = LegalBasis(settings.zags_basis_code, settings.zags_basis_document)
    router.register_command(COMMAND, partial(verify_birth_record, basis=basis))
    answers = answer_gate(settings.reference_dir)
    router.register_answer(RESPONSE, rogdinf_answer, agency=AGENCY, gate=answers)
    notices = notice_gate(settings.schemas_dir)
    for kind in NOTICES.values():
        router.register_inbound(kind.root, zags_notification, agency=AGENCY, gate=notices)
    router.register_inbound(REGISTRY, zags_notification, agency=AGENCY, gate=notices)
