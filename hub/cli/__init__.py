"""The ``hub`` command line: one module per command group, their shared helpers in
``_common``, and ``main`` putting them together (``python -m hub``)."""
