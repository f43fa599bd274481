"""A feed's way from URL to stored items, one module per stage.

``fetch`` gets bytes (disk or HTTP with conditional GET), ``parse`` turns RSS, Atom or JSON Feed
into one entry shape, ``normalise`` (with ``sanitise``) makes an entry safe and comparable, and
``store`` de-duplicates it into items and events. Only :mod:`content.ingest` strings the stages
together, so each stays testable on its own.
"""
