"""Writing rollouts for people to look at: mp4 videos (moviepy) and contact-sheet PNGs (OpenCV)."""

from __future__ import annotations

import warnings
from pathlib import Path

import cv2
import numpy as np

from adaworld_gym.io import atomic_path


def _upscale(frames: np.ndarray, scale: int) -> np.ndarray:
    return frames.repeat(scale, axis=1).repeat(scale, axis=2) if scale > 1 else frames


def write_mp4(frames: np.ndarray, path: str | Path, fps: int = 15, scale: int = 4) -> Path:
    """Write (T, H, W, 3) uint8 RGB frames as an H.264 mp4, each pixel shown as `scale` x `scale`."""
    # Imported here: moviepy is slow to import. Its imageio_ffmpeg dependency warns that setuptools'
    # pkg_resources is deprecated, which nothing here can act on.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
        from moviepy import ImageSequenceClip

    path = Path(path)
    frames = _upscale(np.asarray(frames, dtype=np.uint8), scale)
    with atomic_path(path) as tmp:
        clip = ImageSequenceClip(list(frames), fps=fps)
        clip.write_videofile(str(tmp), codec="libx264", audio=False, logger=None, pixel_format="yuv420p",
                             ffmpeg_params=["-f", "mp4"])
        clip.close()
    return path


def contact_sheet(frames: np.ndarray, path: str | Path, columns: int = 8, max_frames: int = 32,
                  scale: int = 2) -> Path:
    """Save up to `max_frames` evenly spaced frames as one PNG grid, `columns` wide."""
    frames = np.asarray(frames, dtype=np.uint8)
    picks = frames[np.linspace(0, len(frames) - 1, min(max_frames, len(frames))).round().astype(int)]
    rows = -(-len(picks) // columns)
    height, width = picks.shape[1:3]
    sheet = np.full((rows * (height + 2), columns * (width + 2), 3), 255, dtype=np.uint8)
    for i, frame in enumerate(picks):
        r, c = divmod(i, columns)
        sheet[r * (height + 2):r * (height + 2) + height, c * (width + 2):c * (width + 2) + width] = frame
    path = Path(path)
    with atomic_path(path) as tmp:
        ok, png = cv2.imencode(".png", cv2.cvtColor(_upscale(sheet[None], scale)[0], cv2.COLOR_RGB2BGR))
        if not ok:
            raise RuntimeError(f"OpenCV could not encode {path}")
        tmp.write_bytes(png.tobytes())
    return path
