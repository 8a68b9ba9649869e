"""Hooks of example_http_py, written as a vendor of the original Meshroom
writes them: the same REST API as the Rust example_http adapter."""

import requests

from meshroom.decorators import (
    check,
    execute,
    produce,
    publish,
    pull,
    scaffold_consumer,
    setup_consumer,
    teardown_consumer,
    trigger,
    watch,
)
from meshroom.interaction import info
from meshroom.model import Instance, Integration, Plug


class ExampleAPI(requests.Session):
    """The product's API, authenticated with the instance's api_key."""

    def __init__(self, url: str, api_key: str | None = None):
        super().__init__()
        self.url = url.rstrip("/")
        if api_key:
            self.headers["Authorization"] = f"Bearer {api_key}"

    def request(self, method, path, *args, **kwargs):
        return super().request(method, self.url + path, *args, **kwargs)


def api_of(instance: Instance) -> ExampleAPI:
    url = instance.settings.get("url")
    if not url:
        raise ValueError("setting `url` is required")
    api_key = instance.get_secret("api_key")
    if not api_key:
        raise ValueError("secret `api_key` is not set")
    return ExampleAPI(url, api_key)


@setup_consumer("events", order="first", owns_both=True, title="Create a webhook receiving the producer's events")
def create_webhook(plug: Plug, instance: Instance):
    api = api_of(instance)
    r = api.post(
        "/webhooks",
        json={
            "topic": plug.topic,
            "source": plug.src_instance,
            "source_product": plug.get_src_instance().product,
            "consumer": plug.dst_instance,
            "format": plug.format,
        },
    )
    r.raise_for_status()
    created = r.json()
    plug.settings["webhook_id"] = created["id"]
    if created.get("token"):
        plug.set_secret("webhook_token", created["token"])
    plug.save()
    info(f"webhook {created['id']} created")


@teardown_consumer("events", title="Delete the webhook")
def delete_webhook(plug: Plug, instance: Instance):
    api = api_of(instance)
    webhook_id = plug.settings.get("webhook_id")
    if webhook_id:
        ids = [webhook_id]
    else:
        # Recovering a killed `up`: the webhook's id was never recorded.
        r = api.get(
            f"/webhooks?source={plug.src_instance}&consumer={plug.dst_instance}&topic={plug.topic}"
        )
        r.raise_for_status()
        ids = [h["id"] for h in r.json().get("webhooks", [])]
    headers = {}
    token = plug.get_secret("webhook_token")
    if token:
        headers["x-webhook-token"] = token
    for webhook_id in ids:
        r = api.delete(f"/webhooks/{webhook_id}", headers=headers)
        if r.status_code != 404:
            r.raise_for_status()
    plug.settings.pop("webhook_id", None)
    plug.save()


@check("events", role="consumer")
def check_webhook(plug: Plug, instance: Instance):
    """Check the webhook exists"""
    webhook_id = plug.settings.get("webhook_id")
    if not webhook_id:
        return "down", "no webhook recorded"
    r = api_of(instance).get(f"/webhooks/{webhook_id}")
    if r.status_code == 404:
        return "down", f"webhook {webhook_id} is gone"
    r.raise_for_status()
    if r.json().get("topic") == plug.topic:
        return "up", f"webhook {webhook_id} present"
    return "drifted", f"webhook {webhook_id} no longer on topic {plug.topic}"


@produce("events")
def send_events(plug: Plug, data):
    """Send events to the collector"""
    url = plug.get_dst_instance().settings["url"]
    body = data if isinstance(data, bytes) else data.encode()
    r = requests.post(f"{url}/events", data=body + b"\n", headers={"content-type": "application/x-ndjson"})
    r.raise_for_status()


@watch("events")
def watch_events(instance: Instance):
    """Page through received events"""
    api = api_of(instance)
    after = 0
    while True:
        r = api.get("/events", params={"after": after})
        r.raise_for_status()
        records = r.json().get("records") or []
        if not records:
            return
        after += len(records)
        yield [x if isinstance(x, str) else str(x) for x in records]


@trigger("block_ip")
def block_ip(instance: Instance, data):
    """Ask the product to block an IP"""
    if not (data or {}).get("ip"):
        raise ValueError("param `ip` is required, e.g. -p ip=10.0.0.1")
    r = api_of(instance).post("/commands", json={"action": "deny", "ip": data["ip"], "duration": data.get("duration")})
    r.raise_for_status()
    return r.json()


@execute("block_ip")
def explain_block(instance: Instance, data):
    """Describe the block command"""
    return {"instance": instance.name, "would_run": "deny", "params": data}


@execute("isolate_host")
def isolate_host(instance: Instance, data):
    """Isolate a host (not supported by this product)"""
    raise NotImplementedError("example_http cannot isolate hosts")


@scaffold_consumer()
def integration_readme(integration: Integration):
    """Write the integration's README"""
    text = f"# {integration.product} → {integration.target_product} ({integration.topic})\n\nConfigured by the example_http adapter.\n"
    return {"README.md": text}


@pull()
def catalog():
    """Import the partner catalog"""
    return [{"name": "example_partner", "definition": "name: example_partner\ndescription: A partner listed in the example catalog\nconsumes:\n  events:\n    - mode: push\n"}]


@publish()
def submit(integration: Integration):
    """Submit the integration"""
    return f"submitted {integration.product} → {integration.target_product} ({integration.topic})"
