"""Can the station window open on this X display? Checked before Qt is loaded.

Qt's own messages for both problems below are several lines, blame the wrong library, and end
in a core dump; :func:`xcb_problem` puts each in one sentence.

Qt's xcb platform plugin (``PySide6/Qt/plugins/platforms/libqxcb.so`` and ``libQt6XcbQpa``)
links the system libraries below; when one is missing, :func:`xcb_problem` names it and its
Debian package. It also says when no X server answers at ``$DISPLAY``. The table was made
with ``ldd`` / ``readelf -d`` on the installed wheel; the Makefile's ``QT_PACKAGES`` installs the
same packages.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Mapping

# soname -> Debian package ("a|b": the first name the archive has; Debian 13 renamed glib's).
XCB_LIBRARIES: dict[str, str] = {
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libglib-2.0.so.0": "libglib2.0-0t64|libglib2.0-0",
    "libdbus-1.so.3": "libdbus-1-3",
    "libX11.so.6": "libx11-6",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libxcb.so.1": "libxcb1",
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-glx.so.0": "libxcb-glx0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
}


def uses_xcb(env: Mapping[str, str], offscreen: bool) -> bool:
    """Whether Qt will pick its xcb plugin: asked for, or the default on an X display."""
    if offscreen:
        return False
    platform = env.get("QT_QPA_PLATFORM", "").split(":")[0].split(";")[0]
    if platform:
        return platform == "xcb"
    return bool(env.get("DISPLAY")) and not env.get("WAYLAND_DISPLAY")


def missing_libraries(libraries: Mapping[str, str] = XCB_LIBRARIES) -> dict[str, str]:
    """The libraries of ``libraries`` (soname -> package) that the dynamic loader cannot find."""
    missing: dict[str, str] = {}
    for soname, package in libraries.items():
        try:
            ctypes.CDLL(soname)
        except OSError:
            missing[soname] = package
    return missing


def display_answers(display: str) -> bool:
    """Whether the X server named by ``display`` (e.g. ``:0``) accepts a connection from us."""
    try:
        xcb = ctypes.CDLL("libxcb.so.1")
    except OSError:
        return True  # cannot tell; the missing library is reported instead
    xcb.xcb_connect.restype = ctypes.c_void_p
    xcb.xcb_connect.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    xcb.xcb_connection_has_error.argtypes = [ctypes.c_void_p]
    xcb.xcb_disconnect.argtypes = [ctypes.c_void_p]
    connection = xcb.xcb_connect(display.encode(), None)
    try:
        return int(xcb.xcb_connection_has_error(connection)) == 0
    finally:
        xcb.xcb_disconnect(connection)


def xcb_problem(
    env: Mapping[str, str] | None = None,
    offscreen: bool = False,
    libraries: Mapping[str, str] = XCB_LIBRARIES,
) -> str | None:
    """One sentence if the window would use xcb and a library it needs is missing, else None."""
    env = os.environ if env is None else env
    if not uses_xcb(env, offscreen):
        return None
    missing = missing_libraries(libraries)
    if not missing:
        display = env.get("DISPLAY", "")
        if display and not display_answers(display):
            return (
                f"The station window cannot open: no X server answers at DISPLAY={display} "
                "(is it running, and may this user use it?); "
                "run with --offscreen or --headless without one."
            )
        return None
    names = " and ".join(sorted(missing)) if len(missing) <= 3 else f"{len(missing)} libraries"
    packages = " ".join(dict.fromkeys(p.split("|")[-1] for p in missing.values()))
    return (
        f"The station window cannot open: Qt's X11 (xcb) plugin needs {names}, missing here; "
        f"install with 'sudo apt-get install {packages}' (or 'make system-packages'), "
        "or run with --offscreen or --headless."
    )
