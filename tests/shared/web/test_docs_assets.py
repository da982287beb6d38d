"""The docs pages' pinned npm files: what scripts/install put in the package is exactly the
pinned files, a tarball or a file that is not the pinned one is refused, and the Dockerfile
downloads exactly the pinned packages."""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
from pathlib import Path

import pytest

from shared.errors import ConfigurationError
from shared.settings import Settings
from shared.web.docs_assets import ASSETS, PACKAGES, SCALAR, NpmPackage, install, main, sri
from tests.support.images import dockerfile_instructions


def npm_tarball(files: dict[str, bytes]) -> bytes:
    """An npm-style tarball (everything under ``package/``)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(f"package/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def integrity(data: bytes) -> str:
    """npm's ``integrity`` of a tarball."""
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


@pytest.mark.parametrize("name", sorted(ASSETS))
def test_installed_files_are_the_pinned_ones(name: str) -> None:
    """scripts/install put each file in the package, and it is the pinned one (its SRI is
    also what the CDN copy must match)."""
    path = ASSETS[name].path()
    assert path.is_file(), "not installed: run scripts/install"
    assert sri(path.read_bytes()) == ASSETS[name].sri


def test_a_tarball_that_is_not_the_pinned_one_is_refused(tmp_path: Path) -> None:
    """A tarball whose sha512 differs from the pin: nothing is written, the error says why."""
    (tmp_path / "tarballs").mkdir()
    for package in PACKAGES:
        (tmp_path / "tarballs" / package.tarball).write_bytes(npm_tarball({"x": b"evil"}))
    with pytest.raises(ValueError, match="not the pinned"):
        install(tmp_path / "out", tmp_path / "tarballs")
    assert not any((tmp_path / "out").iterdir())


def test_a_file_that_is_not_the_pinned_one_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sound tarball (say, a re-pinned version) whose file differs from its SRI pin."""
    tarball = npm_tarball({"dist/browser/standalone.js": b"alert(1)"})
    fake = NpmPackage(SCALAR.name, SCALAR.version, integrity(tarball))
    monkeypatch.setattr("shared.web.docs_assets.PACKAGES", (fake,))
    monkeypatch.setattr(
        "shared.web.docs_assets.ASSETS",
        {
            name: type(asset)(asset.name, fake, asset.source, asset.media_type, asset.sri)
            for name, asset in ASSETS.items()
            if asset.package == SCALAR
        },
    )
    (tmp_path / fake.tarball).write_bytes(tarball)
    with pytest.raises(ValueError, match=r"standalone\.js is not the pinned file"):
        install(tmp_path / "out", tmp_path)


def test_the_command_names_what_failed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``python -m shared.web.docs_assets --from DIR`` without the tarballs: exit 1, one line."""
    assert main(["--from", str(tmp_path), "--into", str(tmp_path / "out")]) == 1
    assert capsys.readouterr().err.startswith("docs assets not installed: ")


def test_the_dockerfile_downloads_exactly_the_pinned_packages() -> None:
    """Its node stage packs the pinned specs (the build stage then checks their sha512)."""
    runs = [args for keyword, args in dockerfile_instructions() if keyword == "RUN"]
    packs = [args for args in runs if args.startswith("npm pack")]
    assert len(packs) == 1, packs
    assert sorted(w for w in packs[0].split() if "@" in w) == sorted(p.spec for p in PACKAGES)
    assert any("shared/web/docs_assets.py --from" in args for args in runs)


def test_docs_assets_setting() -> None:
    """DOCS_ASSETS is local by default, cdn when asked, and anything else is refused by name."""
    assert Settings.from_env({}).docs_assets == "local"
    assert Settings.from_env({"DOCS_ASSETS": "cdn"}).docs_assets == "cdn"
    with pytest.raises(ConfigurationError, match="DOCS_ASSETS"):
        Settings.from_env({"DOCS_ASSETS": "internet"})


def test_only_earlier_pins_are_removed_from_the_directory(tmp_path: Path) -> None:
    """Installing into a directory of the caller's (``--into``) removes the files of earlier
    pins and leaves everything else: a note, a folder, another package's file."""
    for asset in ASSETS.values():  # already sound: install downloads nothing
        asset.path(tmp_path).parent.mkdir(parents=True, exist_ok=True)
        asset.path(tmp_path).write_bytes(ASSETS[asset.name].path().read_bytes())
    old = tmp_path / "swagger-ui-bundle-5.18.2.js"
    old.write_text("old pin")
    kept = [tmp_path / "my-notes.txt", tmp_path / "swagger-ui-theme.css"]
    for path in kept:
        path.write_text("mine")
    (tmp_path / "sub").mkdir()
    install(tmp_path)
    assert not old.exists()
    assert all(path.read_text() == "mine" for path in kept)
    assert (tmp_path / "sub").is_dir()
