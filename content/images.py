"""Images scaled and compressed to what each channel accepts, metadata stripped.

A platform rejects an upload over its byte or pixel limit (Bluesky: 1,000,000 bytes), or
silently rescales it with its own, blurrier filter; so every channel gets its own copy made
here, with Pillow's Lanczos filter, never larger than the original. EXIF and other metadata
are dropped on the way (after applying the orientation): camera GPS positions have no place
in a published image. Output is deterministic for the same input and Pillow version.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import Final

from PIL import Image, ImageOps


@dataclass(frozen=True)
class ImageLimits:
    """What one channel accepts: bytes, longest side and pixel count (None: no limit)."""

    max_bytes: int
    max_side: int | None = None
    max_pixels: int | None = None


IMAGE_LIMITS: Final[Mapping[str, ImageLimits]] = MappingProxyType(
    {
        # Lexicon app.bsky.embed.images: maxSize 1,000,000; the app scales to 2000 px.
        "bluesky": ImageLimits(max_bytes=1_000_000, max_side=2000),
        # Stock Mastodon: 16 MiB; stored originals are scaled to 3840x2160 pixels anyway.
        "mastodon": ImageLimits(max_bytes=16 * 1024 * 1024, max_pixels=3840 * 2160),
        # X: photos up to 5 MB, shown at most 4096 px wide.
        "x": ImageLimits(max_bytes=5 * 1024 * 1024, max_side=4096),
        # LinkedIn Images API: at most 36,152,320 pixels; 5 MiB keeps uploads quick.
        "linkedin": ImageLimits(max_bytes=5 * 1024 * 1024, max_pixels=36_152_320),
    }
)

_JPEG_QUALITIES: Final = (85, 75, 65, 55)
# What an image may carry and still be passed on untouched: nothing that says where, when or
# with what it was taken.
_HARMLESS_INFO: Final = frozenset(
    {
        "dpi",
        "gamma",
        "transparency",
        "icc_profile",
        "aspect",
        "srgb",
        "jfif",
        "jfif_version",
        "jfif_unit",
        "jfif_density",
        "progressive",
        "progression",
        "adobe",
        "adobe_transform",
    }
)
_SHRINK_STEP: Final = 0.8
_MAX_SHRINKS: Final = 12


@dataclass(frozen=True)
class ResizedImage:
    content: bytes
    media_type: str
    extension: str
    width: int
    height: int


def _fitting_size(width: int, height: int, limits: ImageLimits) -> tuple[int, int]:
    scale = 1.0
    if limits.max_side is not None:
        scale = min(scale, limits.max_side / max(width, height))
    if limits.max_pixels is not None:
        scale = min(scale, math.sqrt(limits.max_pixels / (width * height)))
    if scale >= 1.0:
        return width, height
    return max(1, math.floor(width * scale)), max(1, math.floor(height * scale))


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA") or "transparency" in image.info


def _encode(image: Image.Image, as_png: bool, quality: int) -> bytes:
    buffer = io.BytesIO()
    if as_png:
        image.save(buffer, format="PNG", optimize=True)
    else:
        image.save(buffer, format="JPEG", quality=quality, optimize=True)
    return buffer.getvalue()


def _flatten(image: Image.Image) -> Image.Image:
    """RGB on white: JPEG has no transparency, and white is how pages show it."""
    if not _has_alpha(image):
        return image.convert("RGB")
    rgba = image.convert("RGBA")
    background = Image.new("RGB", rgba.size, (255, 255, 255))
    background.paste(rgba, mask=rgba.getchannel("A"))
    return background


@lru_cache(maxsize=64)
def resize_for(data: bytes, limits: ImageLimits) -> ResizedImage:
    """The image within ``limits``: PNG stays PNG while it fits (sharp text and lines), else
    JPEG at falling quality, then smaller, until it fits. Raises ValueError if it never does.

    An image that already fits and carries no metadata is passed on byte for byte: every
    re-encoding costs quality. Results are cached, since one image goes to many initiatives.
    """
    with Image.open(io.BytesIO(data)) as opened:
        source_format = opened.format
        palette = opened.mode == "P"
        fits = _fitting_size(opened.width, opened.height, limits) == opened.size
        if (
            fits
            and len(data) <= limits.max_bytes
            and source_format in ("PNG", "JPEG")
            and set(opened.info) <= _HARMLESS_INFO
        ):
            extension = "png" if source_format == "PNG" else "jpg"
            media_type = "image/png" if source_format == "PNG" else "image/jpeg"
            return ResizedImage(data, media_type, extension, opened.width, opened.height)
        image = ImageOps.exif_transpose(opened)
        image.load()
    as_png = source_format == "PNG"
    if as_png:
        image = image.convert("RGBA") if _has_alpha(image) else image.convert("RGB")
    else:
        image = _flatten(image)
    width, height = _fitting_size(image.width, image.height, limits)
    for _ in range(_MAX_SHRINKS):
        sized = (
            image
            if (width, height) == image.size
            else image.resize((width, height), Image.Resampling.LANCZOS)
        )
        if as_png:
            # A palette image (a graphic) stays one: a quarter of the bytes of full colour.
            small = sized.quantize(colors=256, dither=Image.Dither.NONE) if palette else sized
            content = _encode(small, True, 0)
            if len(content) <= limits.max_bytes:
                return ResizedImage(content, "image/png", "png", width, height)
            sized = _flatten(sized)
        for quality in _JPEG_QUALITIES:
            content = _encode(_flatten(sized), False, quality)
            if len(content) <= limits.max_bytes:
                return ResizedImage(content, "image/jpeg", "jpg", width, height)
        width = max(1, math.floor(width * _SHRINK_STEP))
        height = max(1, math.floor(height * _SHRINK_STEP))
    raise ValueError(f"image does not fit {limits.max_bytes} bytes even at {width}x{height}")


def resize_for_platform(data: bytes, platform: str) -> ResizedImage:
    return resize_for(data, IMAGE_LIMITS[platform])
