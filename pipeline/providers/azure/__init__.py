"""Azure AI Speech personal voice: ``provider`` (the stage adapter, with ``ids`` and ``consents``)
over ``client`` (one typed call per Custom Voice route), with ``records`` (wire records and their
parsers), ``pages`` (list paging), ``multipart`` (spooled create bodies) and ``blob`` (blob-SAS
uploads)."""
