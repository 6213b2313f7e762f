"""Every file shipped in models/ matches its manifest entry and carries licence and provenance."""

from __future__ import annotations

from edge_agent.inference import load_manifest, sha256_file


def test_every_listed_file_matches_its_pinned_hash() -> None:
    manifest = load_manifest()
    assert {"nanodet-m.onnx", "vtest.avi"} <= set(manifest.entries)
    for name, entry in manifest.entries.items():
        path = manifest.path(name)
        assert path.stat().st_size == entry.size, name
        assert sha256_file(path) == entry.sha256, name
        assert entry.licence.strip(), name
        assert entry.provenance.strip(), name


def test_every_model_declares_its_io() -> None:
    for name, entry in load_manifest().entries.items():
        if name.endswith(".onnx"):
            assert entry.inputs, name
            assert entry.outputs, name
            assert entry.model_id, name


def test_every_model_file_in_the_directory_is_listed() -> None:
    manifest = load_manifest()
    shipped = {p.name for p in manifest.directory.glob("*.onnx")}
    assert shipped <= set(manifest.entries)
