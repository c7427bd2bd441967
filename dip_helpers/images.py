"""Images as arrays: loading, shaping and noising.

Every image in the course is a ``float32`` numpy array in ``[0, 1]`` with shape
``(H, W, C)``, C being 1 (grey) or 3 (colour).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from . import settings

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


def data_dir() -> Path:
    """The course's image folder: ``$DIP_DATA`` if set, else ``data/`` next to the package."""
    env = settings.get("DIP_DATA")
    return Path(env) if env else Path(__file__).resolve().parent.parent / "data"


def available_images() -> list[str]:
    """Names of the images in :func:`data_dir`, usable with :func:`load_image`."""
    folder = data_dir()
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def _resolve(source) -> Path:
    path = Path(source).expanduser()
    if path.is_file():
        return path
    if path.suffix == "" and len(path.parts) == 1:  # a bare name: look in data/
        for suffix in IMAGE_SUFFIXES:
            candidate = data_dir() / f"{path.name}{suffix}"
            if candidate.is_file():
                return candidate
    names = ", ".join(available_images()) or "(none found)"
    raise FileNotFoundError(
        f"No image at '{path}'. Give a path to an image file, or one of the course images in {data_dir()}: {names}"
    )


def to_float_image(array, channels: int | None = None) -> np.ndarray:
    """Convert any image array (uint8, uint16, bool or float; HxW, HxWx1..4) to float32 HxWxC in [0, 1].

    Alpha is composited onto a white background. ``channels`` forces 1 (luminance)
    or 3 (grey repeated); ``None`` keeps grey images grey and colour images colour.
    """
    a = np.asarray(array)
    if a.dtype == np.uint8:
        a = a.astype(np.float32) / 255.0
    elif a.dtype == np.uint16:
        a = a.astype(np.float32) / 65535.0
    elif a.dtype == bool:
        a = a.astype(np.float32)
    elif np.issubdtype(a.dtype, np.floating):
        a = a.astype(np.float32)
        finite = a[np.isfinite(a)]
        if finite.size != a.size:
            raise ValueError("the image holds NaN or infinite values")
        if finite.size and (finite.min() < -1e-3 or finite.max() > 1 + 1e-3):
            raise ValueError(
                f"a float image must lie in [0, 1]; this one spans [{finite.min():.3g}, {finite.max():.3g}]"
            )
        a = np.clip(a, 0.0, 1.0)
    else:
        raise TypeError(f"unsupported image dtype {a.dtype}; use uint8, uint16, bool or float")
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3 or a.shape[-1] not in (1, 2, 3, 4):
        raise ValueError(f"expected an image of shape HxW or HxWxC with C in 1..4, got {a.shape}")
    if a.shape[-1] in (2, 4):  # composite the alpha channel onto white
        colour, alpha = a[..., :-1], a[..., -1:]
        a = colour * alpha + (1.0 - alpha)
    if channels == 1 and a.shape[-1] == 3:
        a = (a @ np.array([0.299, 0.587, 0.114], dtype=np.float32))[..., None]
    elif channels == 3 and a.shape[-1] == 1:
        a = np.repeat(a, 3, axis=-1)
    elif channels not in (None, 1, 3):
        raise ValueError(f"channels must be 1, 3 or None, got {channels!r}")
    return np.ascontiguousarray(a, dtype=np.float32)


def _read(path: Path) -> np.ndarray:
    from PIL import Image

    if path.suffix.lower() in (".tif", ".tiff"):  # tifffile keeps 16-bit colour, which PIL cannot
        import tifffile

        return tifffile.imread(path)
    with Image.open(path) as im:
        if getattr(im, "n_frames", 1) > 1:
            warnings.warn(
                f"'{path.name}' is animated ({im.n_frames} frames): only its first frame is used", stacklevel=3
            )
        if im.mode == "P":  # palette: expand through the palette, keeping transparency
            im = im.convert("RGBA" if "transparency" in im.info else "RGB")
        elif im.mode in ("1", "CMYK", "YCbCr", "LAB", "HSV"):
            im = im.convert("RGB" if im.mode != "1" else "L")
        if im.mode.startswith("I;16") or im.mode == "I":  # 16-bit grey
            return np.asarray(im, dtype=np.int64).clip(0, 65535).astype(np.uint16)
        if im.mode == "F":
            return np.asarray(im, dtype=np.float32)
        return np.asarray(im)


def load_image(source, *, channels: int | None = None, size=None) -> np.ndarray:
    """Load an image by course name (``"astronaut"``) or path, as float32 HxWxC in [0, 1].

    Handles grey, RGBA (onto white), palette and 16-bit files (16-bit colour in
    TIFF only: PIL reads a 16-bit colour PNG as 8-bit).  ``size`` (an int
    for a square, or ``(H, W)``) centre-crops to that aspect ratio, then resizes.
    """
    from PIL import Image

    path = _resolve(source)
    try:
        array = _read(path)
    except Image.DecompressionBombError as exc:  # a header claiming hundreds of millions of pixels
        raise ValueError(
            f"'{path.name}' is too large to open safely ({exc}). Resize it to a few thousand pixels "
            "a side first: Deep Image Prior works at 256-512 pixels anyway."
        ) from exc
    except Exception as exc:  # PIL raises several types for unreadable files
        raise ValueError(f"could not read '{path}' as an image: {exc}") from exc
    image = to_float_image(array, channels)
    return image if size is None else resize_image(image, size)


def save_image(image, path, clip: bool = False) -> Path:
    """Write a [0, 1] image (HxW or HxWxC) to an 8-bit PNG/JPEG; returns the path.

    ``clip``: values outside [0, 1] are clipped instead of refused, for the picture of a measurement
    that rings past them (a Lanczos downsampling near a dark or bright edge). NaN is refused either way.
    """
    from PIL import Image

    a = to_float_image(np.clip(np.asarray(image, np.float32), 0, 1) if clip else image)
    a8 = np.round(a * 255).astype(np.uint8)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(a8[..., 0] if a8.shape[-1] == 1 else a8).save(path)
    return path


def _parse_size(size) -> tuple[int, int]:
    h, w = (size, size) if np.isscalar(size) else tuple(size)
    if int(h) != h or int(w) != w or h < 1 or w < 1:
        raise ValueError(f"size must be a positive int or (H, W), got {size!r}")
    return int(h), int(w)


def center_crop(image: np.ndarray, shape) -> np.ndarray:
    """Cut the central ``shape = (H, W)`` window out of ``image``."""
    h, w = _parse_size(shape)
    H, W = image.shape[:2]
    if h > H or w > W:
        raise ValueError(f"cannot crop {H}x{W} to {h}x{w}: the crop is larger than the image")
    top, left = (H - h) // 2, (W - w) // 2
    return image[top : top + h, left : left + w]


def resample(image: np.ndarray, shape, method: str = "lanczos") -> np.ndarray:
    """Resize every channel to ``shape = (H, W)`` with Pillow ('nearest', 'bilinear', 'bicubic' or 'lanczos')."""
    from PIL import Image

    filters = {"nearest": Image.NEAREST, "bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC, "lanczos": Image.LANCZOS}
    if method not in filters:
        raise ValueError(f"method must be one of {', '.join(filters)}, got {method!r}")
    h, w = _parse_size(shape)
    planes = [
        np.asarray(Image.fromarray(np.asarray(image[..., c], np.float32), mode="F").resize((w, h), filters[method]))
        for c in range(image.shape[-1])
    ]
    return np.clip(np.stack(planes, axis=-1), 0.0, 1.0).astype(np.float32)


def resize_image(image: np.ndarray, size) -> np.ndarray:
    """Centre-crop to the aspect ratio of ``size`` then resize (Lanczos) to exactly ``size``."""
    h, w = _parse_size(size)
    H, W = image.shape[:2]
    scale = min(H / h, W / w)
    image = center_crop(image, (max(1, round(h * scale)), max(1, round(w * scale))))
    if image.shape[:2] == (h, w):
        return image.astype(np.float32)
    return resample(image, (h, w), "lanczos")


def fit_to_multiple(image: np.ndarray, multiple: int, mode: str = "crop") -> np.ndarray:
    """Make height and width multiples of ``multiple`` (e.g. ``2**5``).

    ``mode="crop"`` keeps the centre, ``mode="pad"`` mirrors the image at its
    bottom and right edges (undo with ``image[:H, :W]``).
    """
    if int(multiple) != multiple or multiple < 1:
        raise ValueError(f"multiple must be a positive integer, got {multiple!r}")
    H, W = image.shape[:2]
    if mode == "crop":
        h, w = H - H % multiple, W - W % multiple
        if h == 0 or w == 0:
            raise ValueError(f"a {H}x{W} image is smaller than one block of {multiple}; use mode='pad'")
        return center_crop(image, (h, w))
    if mode == "pad":
        ph, pw = (-H) % multiple, (-W) % multiple
        pad = [(0, ph), (0, pw)] + [(0, 0)] * (image.ndim - 2)
        return np.pad(image, pad, mode="symmetric")
    raise ValueError(f"mode must be 'crop' or 'pad', got {mode!r}")


def gaussian_noise(shape, sigma: float, seed: int | None = 0) -> np.ndarray:
    """Zero-mean Gaussian noise ``eps`` of std ``sigma`` on the 0-255 scale (returned in [0, 1] units)."""
    if not np.isfinite(sigma) or sigma < 0 or sigma > 255:
        raise ValueError(f"sigma is on the 0-255 scale and must lie in [0, 255], got {sigma!r}")
    if 0 < sigma < 1:
        warnings.warn(
            f"sigma={sigma} is on the 0-255 scale: this is almost no noise. Did you mean {sigma * 255:g}?", stacklevel=2
        )
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape) * (sigma / 255.0)).astype(np.float32)


def add_gaussian_noise(image: np.ndarray, sigma: float, seed: int | None = 0, clip: bool = True) -> np.ndarray:
    """The noise model ``y = x + eps``, ``eps ~ N(0, (sigma/255)^2)``; clipped to [0, 1] like a real image."""
    noisy = image + gaussian_noise(image.shape, sigma, seed)
    return np.clip(noisy, 0.0, 1.0) if clip else noisy


def jpeg_compress(image: np.ndarray, quality: int = 10) -> np.ndarray:
    """The image saved as a JPEG of this ``quality`` (1 worst, 95 best; Pillow's encoder) and read back: its 8×8
    blocks and ringing are the artefacts to remove."""
    import io

    from PIL import Image

    if not (isinstance(quality, (int, np.integer)) and 1 <= quality <= 95):
        raise ValueError(f"quality must be a whole number in 1..95 (Pillow's JPEG scale), got {quality!r}")
    image = to_float_image(image)
    pixels = np.round(np.clip(image, 0.0, 1.0) * 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels).save(
        buffer, format="JPEG", quality=int(quality)
    )
    buffer.seek(0)
    return to_float_image(np.asarray(Image.open(buffer)), channels=image.shape[-1])
