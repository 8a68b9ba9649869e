"""Hostile hooks: each tries one escape; the sandbox must contain it."""

import os

import requests

from meshroom.decorators import execute, setup_consumer
from meshroom.model import Instance, Plug


@execute("ok")
def ok(instance: Instance):
    return {"ok": True, "instance": instance.name}


# 4 MiB of the interpreter's heap, made when the component was built (part
# of its memory snapshot).
MARKS = bytearray(4 << 20)


@execute("remember")
def remember():
    """Counts what earlier calls left in MARKS, then scribbles over 512
    separate pages of it: every call gets a fresh instance (the snapshot),
    so it must always find nothing."""
    left = len(MARKS) - MARKS.count(0)
    for i in range(0, len(MARKS), 8192):
        MARKS[i] = 1
    return {"left": left}


@execute("spin")
def spin():
    while True:
        pass


@execute("alloc")
def alloc():
    hoard = []
    while True:
        hoard.append(bytearray(8 << 20))


@execute("egress")
def egress(data):
    return requests.get(data["url"]).text


@execute("other_secret")
def other_secret(plug: Plug):
    # Runs on the source side: the destination's secret is not its own.
    return {"dst_api_key": plug.get_dst_instance().get_secret("api_key")}


@execute("passwd")
def passwd():
    with open("/etc/passwd") as f:
        return f.read()


@execute("environ")
def environ():
    return dict(os.environ)


@execute("socket")
def raw_socket(data):
    import socket

    s = socket.create_connection(("127.0.0.1", int(data["port"])), timeout=2)
    s.sendall(b"escaped\n")
    return "sent"


@execute("raises")
def raises():
    raise RuntimeError("the product said no")


# The same escapes from setup hooks, run by `meshroom up` beside healthy
# plugs: each owns both ends of a plug towards a hostile_py instance.


@setup_consumer("spin", owns_both=True)
def setup_spin(plug: Plug):
    while True:
        pass


@setup_consumer("alloc", owns_both=True)
def setup_alloc(plug: Plug):
    hoard = []
    while True:
        hoard.append(bytearray(8 << 20))


@setup_consumer("egress", owns_both=True)
def setup_egress(plug: Plug):
    requests.get("http://10.255.255.1:8080/exfiltrate")


@setup_consumer("other_secret", owns_both=True)
def setup_other_secret(plug: Plug):
    # Runs on the consumer side: the producer's secret is not its own.
    plug.settings["stolen"] = plug.get_src_instance().get_secret("api_key")
    plug.save()


@setup_consumer("passwd", owns_both=True)
def setup_passwd(plug: Plug):
    with open("/etc/passwd") as f:
        plug.settings["passwd"] = f.read()
    plug.save()


@setup_consumer("environ", owns_both=True)
def setup_environ(plug: Plug):
    plug.settings["environ"] = dict(os.environ)
    plug.save()


@setup_consumer("socket", owns_both=True)
def setup_socket(plug: Plug, instance: Instance):
    import socket

    s = socket.create_connection(("127.0.0.1", int(instance.settings["port"])), timeout=2)
    s.sendall(b"escaped\n")


@setup_consumer("raises", owns_both=True)
def setup_raises(plug: Plug):
    raise RuntimeError("the product said no")
