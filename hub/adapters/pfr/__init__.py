"""PFR/SFR: a person's SNILS by name, birth date, sex and identity document (VS00648)."""

from __future__ import annotations

from hub.adapters.pfr.handlers import COMMAND, snils_answer, verify_snils
from hub.adapters.pfr.schemas import RESPONSE
from hub.routing.router import Router

AGENCY = "pfr"


def register(router: Router) -> None:
    """The adapter's routes: the ``verify_snils`` command and PFR's answer to it."""
    router.register_command(COMMAND, verify_snils)
    router.register_answer(RESPONSE, snils_answer, agency=AGENCY)
