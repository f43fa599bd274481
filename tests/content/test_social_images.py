"""Images are resized to each channel's limits, lose their metadata, and keep their alt text."""

from __future__ import annotations

import io
import random

import pytest
from PIL import Image

from content.images import IMAGE_LIMITS, ImageLimits, resize_for, resize_for_platform
from tests.services import EXAMPLE

SAMPLE = EXAMPLE / "assets" / "woche-der-industrie.png"


def _noise_jpeg(width: int, height: int, *, exif_orientation: int | None = None) -> bytes:
    """A photo-like JPEG that compresses badly (random noise), optionally with EXIF and GPS."""
    rng = random.Random(7)
    image = Image.frombytes("RGB", (width, height), rng.randbytes(width * height * 3))
    buffer = io.BytesIO()
    exif = Image.Exif()
    if exif_orientation:
        exif[0x0112] = exif_orientation
        exif[0x8825] = {1: "N", 2: (50.0, 20.0, 0.0)}  # GPS position
    image.save(buffer, "JPEG", quality=95, exif=exif.tobytes())
    return buffer.getvalue()


def _open(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


@pytest.mark.parametrize("platform", sorted(IMAGE_LIMITS))
def test_the_sample_image_fits_every_platform(platform: str) -> None:
    limits = IMAGE_LIMITS[platform]
    resized = resize_for_platform(SAMPLE.read_bytes(), platform)
    image = _open(resized.content)
    assert len(resized.content) <= limits.max_bytes
    assert (image.width, image.height) == (resized.width, resized.height)
    if limits.max_side:
        assert max(image.size) <= limits.max_side
    if limits.max_pixels:
        assert image.width * image.height <= limits.max_pixels


def test_bluesky_gets_the_sample_scaled_to_2000_px_as_png() -> None:
    resized = resize_for_platform(SAMPLE.read_bytes(), "bluesky")
    assert (resized.width, resized.height, resized.media_type) == (2000, 1050, "image/png")
    assert _open(SAMPLE.read_bytes()).size == (2400, 1260)


def test_an_image_that_fits_and_has_no_metadata_is_passed_on_unchanged() -> None:
    assert resize_for_platform(SAMPLE.read_bytes(), "x").content == SAMPLE.read_bytes()


def test_a_large_photo_is_compressed_and_scaled_under_one_megabyte() -> None:
    data = _noise_jpeg(2600, 1700)
    assert len(data) > 1_000_000
    resized = resize_for_platform(data, "bluesky")
    assert len(resized.content) <= 1_000_000
    assert resized.media_type == "image/jpeg" and max(resized.width, resized.height) <= 2000


def test_orientation_is_applied_and_exif_with_gps_removed() -> None:
    data = _noise_jpeg(300, 200, exif_orientation=6)  # rotate 90° when shown
    resized = resize_for(data, ImageLimits(max_bytes=10**7, max_side=1000))
    image = _open(resized.content)
    assert image.size == (200, 300)
    assert not image.getexif()
    assert "exif" not in image.info


def test_output_is_deterministic() -> None:
    data = _noise_jpeg(900, 600)
    limits = ImageLimits(max_bytes=60_000, max_side=500)
    first = resize_for(data, limits)
    resize_for.cache_clear()
    assert resize_for(data, limits) == first


def test_impossible_limits_raise() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        resize_for(_noise_jpeg(200, 200), ImageLimits(max_bytes=10))
