"""Gosuslugi (ЕПГУ): school-enrollment applications and their cancellations, each answered,
and the applications' statuses sent back to the applicant's account (order-event kind)."""

from __future__ import annotations

from hub.adapters.gosuslugi.handlers import (
    COMMAND,
    application,
    cancellation,
    order_status_answer,
    refused_application,
    report_enrollment_status,
    withdrawn_application,
)
from hub.adapters.gosuslugi.schemas import (
    APPLICATION,
    CANCEL,
    STATUS_RESPONSE,
    enrollment_gate,
    status_gate,
)
from hub.adapters.router import Router

AGENCY = "gosuslugi"


def register(router: Router) -> None:
    """The adapter's routes: ``ApplicationRequest`` and ``CancelRequest`` from EPGU, SMEV's
    Cancel of an ``ApplicationRequest``, the ``report_enrollment_status`` command and EPGU's
    response to the status event it sends. The gates read the hub's own schemas where
    ``router.settings`` says (``HUB_SCHEMAS_DIR``)."""
    schemas_dir = router.settings.schemas_dir
    enrollment = enrollment_gate(schemas_dir)
    for root, handler in ((APPLICATION, application), (CANCEL, cancellation)):
        router.register_inbound(
            root, handler, agency=AGENCY, gate=enrollment, refused=refused_application
        )
    # SMEV's own Cancel (1.1/1.2) of an application is the applicant's cancellation too.
    router.register_cancel(APPLICATION, withdrawn_application, gate=enrollment)
    router.register_command(COMMAND, report_enrollment_status)
    status = status_gate(schemas_dir)
    router.register_answer(STATUS_RESPONSE, order_status_answer, agency=AGENCY, gate=status)
