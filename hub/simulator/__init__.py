"""The SMEV 3 simulator: the message exchange (``Exchange``) and its SOAP/HTTP server."""

from hub.simulator.config import (
    PROFILES,
    ExchangeConfig,
    FaultInjection,
    MtomIds,
    Quirks,
    Quota,
)
from hub.simulator.exchange import Agency, Answer, Exchange, Reply
from hub.simulator.queues import ReplyAddress

__all__ = [
    "PROFILES",
    "Agency",
    "Answer",
    "Exchange",
    "ExchangeConfig",
    "FaultInjection",
    "MtomIds",
    "Quirks",
    "Quota",
    "Reply",
    "ReplyAddress",
]
