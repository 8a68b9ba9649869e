//! The hook file `create product NAME --lang python` writes: a `setup.py`
//! in the original Meshroom's layout (decorators from `meshroom.decorators`,
//! an API client subclassing `requests.Session`, outputs kept with
//! `plug.save()`), one setup/teardown pair per capability of the definition,
//! ready for `meshroom build NAME`. It only produces text.

use std::fmt::Write as _;

use crate::project::ProductDefinition;

/// `setup.py` for `definition`.
pub fn setup_py(name: &str, definition: &ProductDefinition) -> String {
    let mut out = format!(
        "\"\"\"Hooks of `{name}`: `meshroom build {name}` makes them a sandboxed component.\n\
         They reach the product only through `requests`, and only the hosts of the\n\
         definition's `egress:` key.\"\"\"\n\n\
         import requests\n\n\
         from meshroom.decorators import {{decorators}}\n\
         from meshroom.interaction import info\n\
         from meshroom.model import Instance, Plug\n\n\n\
         class API(requests.Session):\n    \
             \"\"\"The product's API at the instance's `url`, with its `api_key`.\"\"\"\n\n    \
             def __init__(self, instance: Instance):\n        \
                 super().__init__()\n        \
                 url = instance.settings.get(\"url\")\n        \
                 if not url:\n            \
                     raise ValueError(\"setting `url` is required\")\n        \
                 self.base = url.rstrip(\"/\")\n        \
                 api_key = instance.get_secret(\"api_key\")\n        \
                 if api_key:\n            \
                     self.headers[\"Authorization\"] = f\"Bearer {{api_key}}\"\n\n    \
             def request(self, method, url, *args, **kwargs):\n        \
                 r = super().request(method, self.base + url, *args, **kwargs)\n        \
                 r.raise_for_status()\n        \
                 return r\n"
    );
    let mut decorators = Vec::new();
    let roles = [
        ("consumer", &definition.consumes),
        ("producer", &definition.produces),
        ("trigger", &definition.triggers),
        ("executor", &definition.executes),
    ];
    for (role, caps) in roles {
        for topic in caps.keys() {
            let ident: String = topic
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect();
            for d in [format!("setup_{role}"), format!("teardown_{role}")] {
                if !decorators.contains(&d) {
                    decorators.push(d);
                }
            }
            let _ = write!(
                out,
                "\n\n@setup_{role}({topic:?})\n\
                 def setup_{ident}_{role}(plug: Plug, instance: Instance):\n    \
                     \"\"\"Set up {topic} ({role})\"\"\"\n    \
                     created = API(instance).post(\"/{ident}\", json={{\"plug\": str(plug), \"topic\": plug.topic}}).json()\n    \
                     plug.settings[\"{ident}_{role}_id\"] = created.get(\"id\")\n    \
                     plug.save()\n    \
                     info(\"{topic} ({role}) set up\", created.get(\"id\"))\n\n\n\
                 @teardown_{role}({topic:?})\n\
                 def teardown_{ident}_{role}(plug: Plug, instance: Instance):\n    \
                     \"\"\"Tear down {topic} ({role})\"\"\"\n    \
                     recorded = plug.settings.get(\"{ident}_{role}_id\")\n    \
                     if recorded:\n        \
                         API(instance).delete(f\"/{ident}/{{recorded}}\")\n    \
                     plug.settings.pop(\"{ident}_{role}_id\", None)\n    \
                     plug.save()\n"
            );
        }
    }
    if decorators.is_empty() {
        decorators.push("setup_consumer".to_string());
        out.push_str(
            "\n\n# Declare hooks with the decorators, e.g.:\n# @setup_consumer(\"events\", owns_both=True)\n# def create_webhook(plug: Plug, instance: Instance): ...\n",
        );
        out = out.replace(
            "from meshroom.decorators import {decorators}",
            "from meshroom.decorators import setup_consumer  # noqa: F401",
        );
        return out;
    }
    out.replace(
        "from meshroom.decorators import {decorators}",
        &format!("from meshroom.decorators import {}", decorators.join(", ")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_setup_and_teardown_pair_per_capability() {
        let def: ProductDefinition = serde_yaml_ng::from_str(
            "name: acme\nconsumes:\n  events:\n    - mode: push\nexecutes:\n  block-ip:\n    - mode: push\n",
        )
        .unwrap();
        let py = setup_py("acme", &def);
        assert!(py.contains("from meshroom.decorators import setup_consumer, teardown_consumer, setup_executor, teardown_executor\n"), "{py}");
        assert!(py.contains("@setup_consumer(\"events\")\ndef setup_events_consumer(plug: Plug, instance: Instance):"), "{py}");
        assert!(
            py.contains("@teardown_executor(\"block-ip\")\ndef teardown_block_ip_executor("),
            "{py}"
        );
        assert!(py.contains("class API(requests.Session):"), "{py}");
    }
}
