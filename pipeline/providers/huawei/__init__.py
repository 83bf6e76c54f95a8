"""Huawei MetaStudio voice training: ``provider`` (the stage adapter) over ``client`` (one typed
call per REST route), with ``records`` (wire records and their parsers), ``auth`` and ``signer``
(IAM token or AK/SK signing) and ``packaging`` (the zips a package upload streams)."""
