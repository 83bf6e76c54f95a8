"""Where an Azure nextLink or Operation-Location is sent: ours, Azure's own hosts, or rebuilt."""

from __future__ import annotations

import pytest

from pipeline.errors import ProviderProtocolError
from pipeline.providers.azure.links import is_azure_host, resolve

OURS = "https://myvoices.cognitiveservices.azure.com"
V = "2026-01-01"


def test_a_link_on_our_endpoint_is_sent_as_it_is() -> None:
    """Same scheme and host: unchanged (the service echoes api-version)."""
    link = f"{OURS}/customvoice/personalvoices?skip=2&maxpagesize=2&api-version={V}"
    assert resolve(OURS, link, V, "nextLink").url == link
    assert resolve(OURS, link, V, "nextLink").how == "ours"


def test_the_spec_examples_regional_host_is_followed() -> None:
    """The spec's regional host is Azure's own: followed, key and all."""
    link = f"https://eastus.api.cognitive.microsoft.com/customvoice/operations/op-1?api-version={V}"
    resolved = resolve(OURS, link, V, "Operation-Location")
    assert (resolved.url, resolved.how) == (link, "followed")


@pytest.mark.parametrize(
    "link",
    [
        "http://eastus.api.cognitive.microsoft.com/customvoice/consents?skip=1",  # not https
        "https://eastus.api.cognitive.microsoft.com.evil.example/customvoice/consents?skip=1",
        "https://evil.example/customvoice/consents?skip=1",
        "https://a.b.cognitiveservices.azure.com/customvoice/consents?skip=1",  # two labels
        "https://user@x.cognitiveservices.azure.com/customvoice/consents?skip=1",  # userinfo
        "http://localhost:8600/customvoice/consents?skip=1",
    ],
)
def test_any_other_host_is_rebuilt_on_our_endpoint(link: str) -> None:
    """Not https on a Cognitive Services host: path and query go to our endpoint instead."""
    resolved = resolve(OURS, link, V, "nextLink")
    assert resolved.how == "rebuilt"
    assert resolved.url == f"{OURS}/customvoice/consents?skip=1&api-version={V}"


def test_rebuilding_keeps_a_prefix_of_our_endpoint() -> None:
    """An endpoint behind a path (a gateway) keeps its path; the link's /customvoice/ is added."""
    resolved = resolve("https://gw.example/azure", "https://x.example/customvoice/p?a=1", V, "x")
    assert resolved.url == f"https://gw.example/azure/customvoice/p?a=1&api-version={V}"


@pytest.mark.parametrize(
    "link", ["https://evil.example/steal?x=1", "not a url at all", "https://h:99999/customvoice/"]
)
def test_a_link_that_cannot_be_ours_is_a_protocol_error(link: str) -> None:
    """No /customvoice/ path (or no URL): refused, never sent anywhere."""
    with pytest.raises(ProviderProtocolError):
        resolve(OURS, link, V, "nextLink")


def test_azure_hosts_are_https_single_label_cognitive_services_hosts() -> None:
    """Both of Azure's domains, https only, one label, case-insensitive."""
    assert is_azure_host("https", "MyRes.CognitiveServices.Azure.com")
    assert is_azure_host("HTTPS", "westeurope.api.cognitive.microsoft.com")
    assert not is_azure_host("http", "westeurope.api.cognitive.microsoft.com")
    assert not is_azure_host("https", "cognitiveservices.azure.com")
    assert not is_azure_host("https", "x.cognitiveservices.azure.com.example.net")
