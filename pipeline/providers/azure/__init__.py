"""Azure AI Speech personal voice: ``provider`` (the stage adapter, with ``ids``, ``consents``
and ``verify``) over ``client`` (one typed call per Custom Voice route) on ``api`` (key,
api-version, rate window, retries), with ``links`` (where ``nextLink``/``Operation-Location`` may
be sent), ``records`` (wire records and their parsers), ``pages`` (list paging), ``multipart``
(spooled create bodies) and ``blob`` (blob-SAS uploads)."""
