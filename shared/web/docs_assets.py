"""The docs pages' scripts and styles (Scalar, Swagger UI): pinned npm packages, installed
into the package so ``/schema`` works on a closed network.

Each file is taken from its package's npm tarball, checked against the tarball's pinned
``sha512`` (the npm lockfile's ``integrity``), and lands in ``shared/web/docs_ui/`` (not in
git; the wheel ships it). ``scripts/install`` runs ``python -m shared.web.docs_assets``,
which downloads the tarballs with ``npm pack``; the Dockerfile downloads them in a node
stage and extracts them with ``--from DIR``. ``DOCS_ASSETS=cdn`` loads the same files from
jsDelivr instead, each with its pinned Subresource Integrity hash.

Nothing here imports Litestar: :mod:`shared.web.docs_pages` serves and renders.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal, TypeAlias

__all__ = [
    "ASSETS",
    "DEFAULT_ROOT",
    "PACKAGES",
    "SCALAR",
    "SWAGGER_UI",
    "Asset",
    "DocsAssets",
    "NpmPackage",
    "install",
    "main",
]

#: ``DOCS_ASSETS``: served by the service itself (the default) or loaded from the CDN.
DocsAssets: TypeAlias = Literal["local", "cdn"]

#: Where the installed files live (inside the package, so a wheel carries them).
DEFAULT_ROOT: Final = Path(__file__).resolve().parent / "docs_ui"
_CDN: Final = "https://cdn.jsdelivr.net/npm"


@dataclass(frozen=True)
class NpmPackage:
    """An npm package at one version, and its tarball's ``sha512`` (npm's ``integrity``)."""

    name: str
    version: str
    integrity: str

    @property
    def spec(self) -> str:
        """``name@version``, as ``npm pack`` takes it."""
        return f"{self.name}@{self.version}"

    @property
    def tarball(self) -> str:
        """The file name ``npm pack`` writes (``@scope/name`` becomes ``scope-name``)."""
        return f"{self.name.lstrip('@').replace('/', '-')}-{self.version}.tgz"


#: Pinned: the pages run these scripts on our origin, so they change only deliberately
#: (bump the version, the integrity from ``npm view NAME@VERSION dist.integrity``, and the
#: files' SRI hashes, which tests/shared/web/test_docs_assets.py checks).
SCALAR: Final = NpmPackage(
    "@scalar/api-reference",
    "1.76.0",
    "sha512-pjqwnzmA9YK3ZX+IZSICMsywm4qI6HLSngR2py9H6TvFApHHuJjkTAd+gFJfnqJDzJuro8k7ji6JCtJ2U+Byng==",
)
SWAGGER_UI: Final = NpmPackage(
    "swagger-ui-dist",
    "5.35.0",
    "sha512-U06rpMtW9V3XPGOBeamTUSr0Z09jMX4IJuANpE/EZbAhw0G8CgwrzU4YmXkn/h0wCDNsXdGarTNNHC3sU8yVUQ==",
)
PACKAGES: Final = (SCALAR, SWAGGER_UI)


@dataclass(frozen=True)
class Asset:
    """One file a docs page loads: served as ``/schema/assets/{name}``, or from the CDN."""

    #: The URL's last segment; it names the version, so caches may keep it forever.
    name: str
    package: NpmPackage
    #: The file's path inside the package.
    source: str
    media_type: str
    #: Subresource Integrity (``sha384-...``) of the file: the CDN copy must be this one.
    sri: str

    def path(self, root: Path = DEFAULT_ROOT) -> Path:
        """Where the installed file is."""
        return root / self.name

    @property
    def cdn_url(self) -> str:
        """The same file on jsDelivr, at the pinned version."""
        return f"{_CDN}/{self.package.spec}/{self.source}"


#: (Litestar adds ``; charset=utf-8`` to text types.)
_JS: Final = "text/javascript"
#: By name. Only these are served: the route table is this list, nothing is read by path.
ASSETS: Final = {
    asset.name: asset
    for asset in (
        Asset(
            f"scalar-api-reference-{SCALAR.version}.js",
            SCALAR,
            "dist/browser/standalone.js",
            _JS,
            "sha384-oH1C0RwqcwbVXkC+r8A+4qRoyEUQdtxAzOwumkxZtQBBcsy61FOoPt7B50OVJYYQ",
        ),
        Asset(
            f"swagger-ui-bundle-{SWAGGER_UI.version}.js",
            SWAGGER_UI,
            "swagger-ui-bundle.js",
            _JS,
            "sha384-gjRm0bEPMeTmMh5jT2cHccIwCUZSTd8YC+j0d0sXw0MdGEfScduGpSyF3ZSSLkX9",
        ),
        Asset(
            f"swagger-ui-standalone-preset-{SWAGGER_UI.version}.js",
            SWAGGER_UI,
            "swagger-ui-standalone-preset.js",
            _JS,
            "sha384-My2aDM4r2Mbm3ybHcubKm9O9U8FEjvF/O5nGvE9YK5dzqOTbWEKa79RPJ1krdMaF",
        ),
        Asset(
            f"swagger-ui-{SWAGGER_UI.version}.css",
            SWAGGER_UI,
            "swagger-ui.css",
            "text/css",
            "sha384-WlYgdmXYOOBWL5apwjDEZwN+U3HmXSSu5R6V5aGxEcf7z+KuRNwBhoxKVN1i3D5I",
        ),
        Asset(
            f"swagger-ui-favicon-{SWAGGER_UI.version}.png",
            SWAGGER_UI,
            "favicon-32x32.png",
            "image/png",
            "sha384-vCPruBEcPmxk2uv19KNJCkWttTDv8oQxBAzSuTndOepjsIyiKHSoLNlWOcQMpXdL",
        ),
    )
}


def sri(data: bytes) -> str:
    """The Subresource Integrity value (sha384) of ``data``."""
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()


def _check_integrity(package: NpmPackage, tarball: bytes) -> None:
    algorithm, _, expected = package.integrity.partition("-")
    actual = base64.b64encode(hashlib.new(algorithm, tarball).digest()).decode()
    if actual != expected:
        raise ValueError(
            f"{package.spec}: the tarball's {algorithm} is {actual}, not the pinned {expected}"
        )


def _extract(package: NpmPackage, tarball: bytes, root: Path) -> None:
    """Write the package's assets from its (checked) tarball; npm tarballs hold ``package/``."""
    _check_integrity(package, tarball)
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        for asset in ASSETS.values():
            if asset.package != package:
                continue
            member = archive.extractfile(f"package/{asset.source}")
            if member is None:
                raise ValueError(f"{package.spec}: {asset.source} is not a file")
            data = member.read()
            if sri(data) != asset.sri:
                raise ValueError(f"{package.spec}: {asset.source} is not the pinned file")
            asset.path(root).write_bytes(data)


def _npm_pack(packages: Sequence[NpmPackage], into: Path) -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise FileNotFoundError("npm is not installed (Debian: apt-get install npm)")
    # The argv is npm and our pinned specs: no input of anyone's.
    subprocess.run(  # noqa: S603
        [npm, "pack", "--silent", "--pack-destination", str(into), *(p.spec for p in packages)],
        check=True,
        stdout=subprocess.DEVNULL,
    )


#: The names earlier pins of :data:`ASSETS` had (the same stems, another version).
_STALE: Final = re.compile(
    r"(scalar-api-reference|swagger-ui(-bundle|-standalone-preset|-favicon)?)"
    r"-\d+\.\d+\.\d+\.(js|css|png)"
)


def install(root: Path = DEFAULT_ROOT, tarballs: Path | None = None) -> list[Path]:
    """Install the pinned assets into ``root``; a no-op for files already there and sound.

    Args:
        root: where the files go.
        tarballs: a directory holding the packages' ``npm pack`` tarballs; by default they
            are downloaded with ``npm pack``.

    Raises:
        FileNotFoundError: npm (or a tarball in ``tarballs``) is missing.
        ValueError: a tarball or a file in it is not the pinned one.
        subprocess.CalledProcessError: ``npm pack`` failed.
    """
    root.mkdir(parents=True, exist_ok=True)
    missing = [
        package
        for package in PACKAGES
        if any(
            not asset.path(root).is_file() or sri(asset.path(root).read_bytes()) != asset.sri
            for asset in ASSETS.values()
            if asset.package == package
        )
    ]
    with tempfile.TemporaryDirectory() as scratch:
        source = tarballs or Path(scratch)
        if tarballs is None and missing:
            _npm_pack(missing, source)
        for package in missing:
            _extract(package, (source / package.tarball).read_bytes(), root)
    # Earlier versions' files: nothing serves them any more. Only files named like ours
    # go: the directory may be one the caller chose (``--into``) and hold anything else.
    for stale in root.iterdir():
        if stale.is_file() and stale.name not in ASSETS and _STALE.fullmatch(stale.name):
            stale.unlink()
    return [asset.path(root) for asset in ASSETS.values()]


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m shared.web.docs_assets [--from DIR] [--into DIR]``: install the assets."""
    parser = argparse.ArgumentParser(
        prog="python -m shared.web.docs_assets",
        description="Install the docs pages' scripts (Scalar, Swagger UI) from npm, pinned.",
    )
    parser.add_argument(
        "--from", dest="tarballs", type=Path, help="npm pack tarballs already downloaded here"
    )
    parser.add_argument("--into", type=Path, default=DEFAULT_ROOT, help="(default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        install(args.into, args.tarballs)
    except (OSError, ValueError, subprocess.CalledProcessError) as exc:
        print(f"docs assets not installed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
