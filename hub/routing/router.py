"""Moved to ``hub.adapters.router`` (the adapters' contract). This name stays for adapters
written outside the tree (``HUB_ADAPTERS`` plug-ins) that import it: it is the same module."""

import sys

from hub.adapters import router

sys.modules[__name__] = router
