"""Hostile hooks: each tries one escape; the sandbox must contain it."""

import os

import requests

from meshroom.decorators import execute
from meshroom.model import Instance, Plug


@execute("ok")
def ok(instance: Instance):
    return {"ok": True, "instance": instance.name}


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
