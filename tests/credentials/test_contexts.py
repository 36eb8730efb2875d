"""The context loader serves local copies only and refuses everything else."""

from __future__ import annotations

import json

import pytest

from credentials.contexts import CONTEXTS_ENV, OB_V3P0_3_0_3, VC_V2, ContextLoader, ContextUnavailable
from credentials.proofs import ProofError, canonicalize


def test_the_vc_v2_context_is_shipped_and_pinned():
    loader = ContextLoader(use_env=False)
    document = loader.document(VC_V2)
    assert document["@context"]["@protected"] is True
    assert loader(VC_V2)["documentUrl"] == VC_V2


@pytest.mark.parametrize("url", [
    "https://example.org/evil-context.json",
    "http://www.w3.org/ns/credentials/v2",  # not the exact URL
    "https://purl.imsglobal.org/spec/ob/v3p0/context.json",  # unversioned: no single right copy
    "file:///etc/passwd",
])
def test_unknown_urls_are_refused_never_fetched(url):
    loader = ContextLoader(use_env=False)
    with pytest.raises(ContextUnavailable):
        loader(url)
    assert not loader.available(url)


def test_a_credential_naming_an_unknown_context_cannot_be_canonicalised():
    document = {"@context": [VC_V2, "https://example.org/evil-context.json"], "type": ["VerifiableCredential"]}
    with pytest.raises(ProofError) as raised:
        canonicalize(document, ContextLoader(use_env=False))
    assert raised.value.code == "context_unavailable"


def test_a_directory_from_the_environment_adds_contexts(tmp_path, monkeypatch):
    extra = {"@context": {"favouriteColour": "https://example.org/vocab#favouriteColour"}}
    (tmp_path / "colour.jsonld").write_text(json.dumps(extra))
    (tmp_path / "index.json").write_text(json.dumps({"https://example.org/colour": "colour.jsonld"}))
    monkeypatch.setenv(CONTEXTS_ENV, str(tmp_path))
    assert ContextLoader().document("https://example.org/colour") == extra
    assert not ContextLoader(use_env=False).available("https://example.org/colour")
    assert ContextLoader(directories=[tmp_path], use_env=False).available("https://example.org/colour")


def test_a_copy_that_changes_a_pinned_context_is_refused(tmp_path):
    altered = ContextLoader(use_env=False).document(VC_V2)
    altered = json.loads(json.dumps(altered))
    altered["@context"]["issuer"] = {"@id": "https://evil.example/issuer", "@type": "@id"}
    (tmp_path / "v2.jsonld").write_text(json.dumps(altered))
    (tmp_path / "index.json").write_text(json.dumps({VC_V2: "v2.jsonld"}))
    with pytest.raises(ContextUnavailable, match="pinned"):
        ContextLoader(directories=[tmp_path], use_env=False).document(VC_V2)
    assert ContextLoader(directories=[tmp_path], use_env=False, verify_pins=False).document(VC_V2) == altered


def test_reformatting_a_pinned_context_is_fine(tmp_path):
    document = ContextLoader(use_env=False).document(VC_V2)
    (tmp_path / "v2.jsonld").write_text(json.dumps(document, indent=7))
    (tmp_path / "index.json").write_text(json.dumps({VC_V2: "v2.jsonld"}))
    assert ContextLoader(directories=[tmp_path], use_env=False).document(VC_V2) == document


def test_the_open_badges_context_comes_from_the_installed_distribution(loader):
    # From openbadgeslib when it is installed; else the conftest falls back to the fixtures' copy.
    assert "OpenBadgeCredential" in loader.document(OB_V3P0_3_0_3)["@context"]


def test_each_loader_is_asked_even_after_another_served_the_url(tmp_path):
    # pyld caches resolved contexts module-wide; each loader keeps its own answers.
    url = "https://example.org/colour"
    (tmp_path / "colour.jsonld").write_text(json.dumps({"@context": {"colour": "https://example.org/vocab#colour"}}))
    (tmp_path / "index.json").write_text(json.dumps({url: "colour.jsonld"}))
    document = {"@context": [VC_V2, url], "type": ["VerifiableCredential"], "colour": "blue"}
    assert "vocab#colour" in canonicalize(document, ContextLoader(directories=[tmp_path], use_env=False))
    with pytest.raises(ProofError) as raised:
        canonicalize(document, ContextLoader(use_env=False))
    assert raised.value.code == "context_unavailable"
