"""Images: arrays to PNG, format sniffing, decoding checks, and safe reads below a root.

Pillow does the encoding and decoding; it is imported on first use.

Example
-------
>>> import numpy as np
>>> png = array_to_png(np.eye(8))
>>> sniff_mime(png)
'image/png'
"""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path

import numpy as np

_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"BM", "image/bmp"),
)


class MediaError(ValueError):
    """An image that cannot be stored or shown."""


def sniff_mime(data: bytes) -> str | None:
    """The image type from its first bytes, or None when it is no format browsers show."""
    for magic, mime in _MAGIC:
        if data.startswith(magic):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def check_image_bytes(data: bytes) -> str:
    """Return the mime type of decodable image bytes; raise MediaError saying why not."""
    mime = sniff_mime(data)
    if mime is None:
        raise MediaError("not a PNG, JPEG, GIF, BMP or WebP image")
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()  # decodes the pixels: truncated or corrupt data fails here
    except Exception as exc:  # Pillow raises many types for bad data
        raise MediaError(f"corrupt {mime.split('/')[1].upper()} ({exc})") from exc
    return mime


def array_to_png(array: np.ndarray, value_range: tuple[float, float] | None = None) -> bytes:
    """Encode a 2-D (grey) or H×W×3/4 (RGB/RGBA) array as PNG.

    uint8 arrays are taken as they are; others are scaled from ``value_range`` (default: the
    array's own min and max) to 0–255.
    """
    arr = np.asarray(array)
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)):
        raise MediaError(f"an image array must be H×W, H×W×3 or H×W×4, not shape {arr.shape}")
    if arr.size == 0:
        raise MediaError("an image array is empty")
    if arr.dtype != np.uint8:
        arr = _scale_to_uint8(arr.astype(np.float64), value_range)
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def _scale_to_uint8(arr: np.ndarray, value_range: tuple[float, float] | None) -> np.ndarray:
    if not np.isfinite(arr).all():
        raise MediaError("an image array holds NaN or infinite values")
    lo, hi = value_range if value_range is not None else (arr.min(), arr.max())
    span = (hi - lo) or 1.0
    return np.clip((arr - lo) / span * 255.0 + 0.5, 0, 255).astype(np.uint8)


def relative_below(root: Path, path: str | Path) -> str:
    """The path relative to ``root``; refuse ``..`` and anything that resolves outside it."""
    raw = Path(path)
    if ".." in raw.parts:
        raise MediaError(f"image path {str(path)!r} contains '..'; give a path inside {root}")
    full = (raw if raw.is_absolute() else root / raw).resolve()
    if not full.is_relative_to(root):
        raise MediaError(f"image path {str(path)!r} is outside the allowed root {root}")
    return full.relative_to(root).as_posix()


def check_image_file(root: Path, relative: str) -> None:
    """Refuse a path below ``root`` that is not an existing regular file, saying what it is.

    Only ``stat`` is used: a FIFO or a device is never opened (opening a FIFO blocks until a
    writer comes), a folder never listed.
    """
    try:
        st = os.stat(root / relative)
    except FileNotFoundError:
        raise MediaError(f"image path {relative!r} does not exist below {root}") from None
    except OSError as exc:
        raise MediaError(f"image path {relative!r} cannot be checked: "
                         f"{exc.strerror or exc}") from None
    _require_regular(st, relative)


def _require_regular(st: os.stat_result, relative: str) -> None:
    if stat.S_ISREG(st.st_mode):
        return
    what = ("a folder" if stat.S_ISDIR(st.st_mode)
            else "a FIFO (named pipe)" if stat.S_ISFIFO(st.st_mode)
            else "a socket" if stat.S_ISSOCK(st.st_mode)
            else "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
            else "not a regular file")
    raise MediaError(f"image path {relative!r} is {what}, not an image file; give the path of "
                     "a file")


def read_below(root: Path, relative: str) -> bytes:
    """Read a stored image path, re-checking the root (a symlink may have changed since).

    The file may have been replaced since it was added: a FIFO or a device is refused, not
    read (the open does not wait for a FIFO's writer).
    """
    full = (root / relative).resolve()
    if not full.is_relative_to(root):
        raise MediaError(f"{relative!r} now resolves outside the allowed root {root}")
    try:
        check_image_file(root, full.relative_to(root).as_posix())
        fd = os.open(full, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except MediaError as exc:
        raise MediaError(f"cannot read {relative!r}: {exc}") from None
    except OSError as exc:
        raise MediaError(f"cannot read {relative!r}: {exc.strerror or exc}") from exc
    with os.fdopen(fd, "rb") as f:
        try:
            _require_regular(os.fstat(f.fileno()), relative)  # swapped since the check
            return f.read()
        except MediaError as exc:
            raise MediaError(f"cannot read {relative!r}: {exc}") from None
        except OSError as exc:
            raise MediaError(f"cannot read {relative!r}: {exc.strerror or exc}") from exc
