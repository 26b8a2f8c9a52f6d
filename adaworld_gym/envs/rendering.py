"""A window for `render_mode="human"`, shared by the real and learned environments."""

from __future__ import annotations

import os
import sys
import warnings

import cv2
import numpy as np


def has_display() -> bool:
    """Whether a window can open; OpenCV's Qt backend aborts the process when there is no X or Wayland server."""
    return not sys.platform.startswith("linux") or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


class HumanWindow:
    """Shows RGB frames scaled up in an OpenCV window, opened on the first frame. Without a display it warns
    once and shows nothing, so headless runs (CI, env checkers) keep working."""

    def __init__(self, title: str, scale: int = 8):
        self.title = title
        self.scale = scale
        self._open = False
        self._headless = not has_display()
        if self._headless:
            warnings.warn("render_mode='human' needs a display (DISPLAY is not set): frames will not be shown; "
                          "use render_mode='rgb_array' on headless machines", stacklevel=3)

    def show(self, frame: np.ndarray) -> None:
        if self._headless:
            return
        big = cv2.resize(frame, None, fx=self.scale, fy=self.scale, interpolation=cv2.INTER_NEAREST)
        cv2.imshow(self.title, cv2.cvtColor(big, cv2.COLOR_RGB2BGR))
        self._open = True
        cv2.waitKey(1)

    def close(self) -> None:
        if self._open:
            cv2.destroyWindow(self.title)
            self._open = False
