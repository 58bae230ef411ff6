"""Agency adapters, one package each, all of one shape: ``requests`` (registry command →
agency request), ``translate`` (agency XML → canonical events, pure), ``schemas`` (where the
XSDs are), ``handlers`` (the glue the router calls) and ``register(router)``."""
