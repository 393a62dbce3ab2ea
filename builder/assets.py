"""Static assets with their content hash in the file name, so they can be cached forever."""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass, field
from pathlib import Path

from pygments.formatters import HtmlFormatter

from .cache import Cache, digest

Output = bytes | Path  # what the writer puts at a site path: bytes, or a file to copy


@dataclass
class Assets:
    urls: dict[str, str] = field(default_factory=dict)  # logical name -> fingerprinted URL
    outputs: dict[str, Output] = field(default_factory=dict)  # site path -> content

    def url(self, name: str) -> str:
        """Return the fingerprinted URL of a static file, e.g. asset('sillon.css')."""
        try:
            return self.urls[name]
        except KeyError:
            raise KeyError(
                f"no static asset named '{name}' (static/ has: {', '.join(sorted(self.urls))})"
            ) from None

    @property
    def signature(self) -> str:
        return digest(repr(sorted(self.urls.items())).encode())


def fingerprint(name: str, file_digest: str) -> str:
    """Insert a short content hash before the extension: app.js -> app.1a2b3c4d5e.js."""
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        return f"{name}.{file_digest[:10]}"
    return f"{stem}.{file_digest[:10]}.{suffix}"


def collect(static_dir: Path, cache: Cache) -> Assets:
    """Fingerprint every file under static/ and add the generated code-highlighting CSS."""
    assets = Assets()
    for dirpath, dirnames, filenames in os.walk(static_dir):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for filename in sorted(filenames):
            if filename.startswith("."):
                continue
            path = Path(dirpath) / filename
            name = path.relative_to(static_dir).as_posix()
            file_digest = cache.file_digest(path)
            assert file_digest is not None
            site_path = "static/" + fingerprint(name, file_digest)
            assets.urls[name] = "/" + site_path
            assets.outputs[site_path] = path
    css = _pygments_css()
    site_path = "static/" + fingerprint("pygments.css", digest(css))
    assets.urls["pygments.css"] = "/" + site_path
    assets.outputs[site_path] = css
    return assets


def _pygments_css() -> bytes:
    light: str = HtmlFormatter(style="friendly").get_style_defs(".highlight")
    return (light + "\n").encode()


def site_name(url: str) -> str:
    """Turn a root-relative URL into a path inside site/."""
    return posixpath.normpath(url.lstrip("/"))
