"""``voice-onboard --version``: the line, built only when asked for."""

from __future__ import annotations

import argparse
import sys

__all__ = ["VersionAction", "version_line"]


class VersionAction(argparse.Action):
    """``--version``, with the line built only when asked for: building it imports the
    package metadata and the config records (the audio profiles, NumPy), which every other
    command, ``--help`` included, should not pay for at start-up."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        sys.stdout.write(version_line() + "\n")
        parser.exit()


def version_line() -> str:
    """``voice-onboard X.Y.Z`` and the provider API versions it speaks."""
    from importlib.metadata import PackageNotFoundError, version

    from pipeline.config.records import AZURE_API_VERSIONS

    try:
        ours = version("voice-onboarding")
    except PackageNotFoundError:  # run from a source tree that was never installed
        ours = "unknown (not installed)"
    return (
        f"voice-onboard {ours} (Huawei MetaStudio voice-training API v1; "
        f"Azure AI Speech custom voice api-version {AZURE_API_VERSIONS[0]} by default)"
    )
