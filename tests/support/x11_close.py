"""Asks the X11 window titled ARGV[1] to close, as a window manager's close button does
(a WM_DELETE_WINDOW client message). Exits 1 if no such window appears within 30 s."""

import ctypes
import sys
import time

xlib = ctypes.cdll.LoadLibrary("libX11.so.6")
xlib.XOpenDisplay.restype = ctypes.c_void_p
xlib.XOpenDisplay.argtypes = [ctypes.c_char_p]
xlib.XDefaultRootWindow.restype = ctypes.c_ulong
xlib.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
xlib.XQueryTree.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.POINTER(ctypes.c_ulong),
                            ctypes.POINTER(ctypes.c_ulong), ctypes.POINTER(ctypes.POINTER(ctypes.c_ulong)),
                            ctypes.POINTER(ctypes.c_uint)]
xlib.XFetchName.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.POINTER(ctypes.c_char_p)]
xlib.XInternAtom.restype = ctypes.c_ulong
xlib.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
xlib.XSendEvent.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_long, ctypes.c_void_p]
xlib.XFlush.argtypes = [ctypes.c_void_p]


class ClientMessage(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("serial", ctypes.c_ulong), ("send_event", ctypes.c_int),
                ("display", ctypes.c_void_p), ("window", ctypes.c_ulong), ("message_type", ctypes.c_ulong),
                ("format", ctypes.c_int), ("data", ctypes.c_long * 5), ("pad", ctypes.c_long * 12)]


def windows(dpy, w):
    root, parent = ctypes.c_ulong(), ctypes.c_ulong()
    children, n = ctypes.POINTER(ctypes.c_ulong)(), ctypes.c_uint()
    if xlib.XQueryTree(dpy, w, ctypes.byref(root), ctypes.byref(parent), ctypes.byref(children), ctypes.byref(n)):
        for i in range(n.value):
            yield children[i]
            yield from windows(dpy, children[i])


def main(title):
    dpy = xlib.XOpenDisplay(None)
    if not dpy:
        sys.exit("cannot open the X display")
    deadline = time.time() + 30
    while time.time() < deadline:
        for w in windows(dpy, xlib.XDefaultRootWindow(dpy)):
            name = ctypes.c_char_p()
            if xlib.XFetchName(dpy, w, ctypes.byref(name)) and name.value == title.encode():
                ev = ClientMessage(type=33, send_event=1, display=dpy, window=w, format=32)
                ev.message_type = xlib.XInternAtom(dpy, b"WM_PROTOCOLS", 0)
                ev.data[0] = xlib.XInternAtom(dpy, b"WM_DELETE_WINDOW", 0)
                xlib.XSendEvent(dpy, w, 0, 0, ctypes.byref(ev))
                xlib.XFlush(dpy)
                return
        time.sleep(0.1)
    sys.exit(f"no window titled {title!r}")


main(sys.argv[1])
