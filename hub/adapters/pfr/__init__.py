"""PFR/SFR: a person's SNILS by name, birth date, sex and identity document (VS00648)."""

from __future__ import annotations

from hub.adapters.pfr.handlers import COMMAND, snils_answer, verify_snils
from hub.adapters.pfr.schemas import RESPONSE, answer_gate
from hub.adapters.router import Router

AGENCY = "pfr"


def register(router: Router) -> None:
    """The adapter's routes: the ``verify_snils`` command and PFR's answer to it."""
    router.register_command(COMMAND, verify_snils)
    gate = answer_gate(router.settings.reference_dir)
    router.register_answer(RESPONSE, snils_answer, agency=AGENCY, gate=gate)
