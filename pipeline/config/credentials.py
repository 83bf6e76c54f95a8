"""``Credentials``: the providers' secrets, read from an environment mapping handed in."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from pipeline.config.records import AZURE, HUAWEI, JobConfig, UploadMode
from pipeline.errors import ConfigError


@dataclass(frozen=True, slots=True, kw_only=True)
class Credentials:
    """Secrets from the environment (DESIGN §3.3). Never logged, never stored."""

    huawei_ak: str | None = None
    huawei_sk: str | None = None
    huawei_security_token: str | None = None
    huawei_token: str | None = None
    azure_key: str | None = None
    azure_blob_sas_url: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Credentials:
        def get(name: str) -> str | None:
            return env.get(name) or None

        return cls(
            huawei_ak=get("HUAWEICLOUD_SDK_AK"),
            huawei_sk=get("HUAWEICLOUD_SDK_SK"),
            huawei_security_token=get("HUAWEICLOUD_SDK_SECURITY_TOKEN"),
            huawei_token=get("METASTUDIO_AUTH_TOKEN"),
            azure_key=get("AZURE_SPEECH_KEY"),
            azure_blob_sas_url=get("AZURE_BLOB_CONTAINER_SAS_URL"),
        )

    def secrets(self) -> tuple[str, ...]:
        """Every secret value, for the log redactor."""
        values = (
            self.huawei_sk,
            self.huawei_ak,
            self.huawei_security_token,
            self.huawei_token,
            self.azure_key,
        )
        return tuple(v for v in values if v)

    def for_provider(
        self, config: JobConfig, *, emulator: Credentials | None = None
    ) -> Credentials:
        """These credentials, completed with ``emulator`` (the in-process emulator's test
        values, handed in by the command that starts it) for ``endpoint = "emulator"``, or
        checked for a real endpoint; raises ConfigError when the provider's are missing."""
        kind = config.provider.kind
        if config.provider.is_emulator:
            emu = emulator or Credentials()
            if kind == HUAWEI and not self.huawei_token and not (self.huawei_ak and self.huawei_sk):
                return replace(self, huawei_ak=emu.huawei_ak, huawei_sk=emu.huawei_sk)
            if kind == AZURE and not self.azure_key:
                return replace(self, azure_key=emu.azure_key)
            return self
        if kind == HUAWEI and not self.huawei_token and not (self.huawei_ak and self.huawei_sk):
            raise ConfigError(
                f"{config.path}: missing credentials: set HUAWEICLOUD_SDK_AK and "
                "HUAWEICLOUD_SDK_SK, or METASTUDIO_AUTH_TOKEN"
            )
        if kind == AZURE and not self.azure_key:
            raise ConfigError(f"{config.path}: missing credentials: set AZURE_SPEECH_KEY")
        if (
            kind == AZURE
            and config.provider.upload_mode is UploadMode.BLOB_SAS
            and not self.azure_blob_sas_url
        ):
            raise ConfigError(
                f"{config.path}: upload_mode = blob-sas needs AZURE_BLOB_CONTAINER_SAS_URL"
            )
        return self
