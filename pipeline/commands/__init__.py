"""The command layer: ``voice-onboard``'s subcommands and the make-target scripts.

The only code that prints, exits, reads ``os.environ`` or starts the emulator; the library below
(``pipeline.config``, ``runner``, ``stages``, ``providers``, ``ledger``, ``report``, ``scaleout``,
``audio`` …) never imports this package or ``pipeline.emulator`` (``make lint`` checks it).
"""
