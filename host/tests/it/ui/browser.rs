//! The dashboard in a real browser: Debian's Chromium, headless, driven
//! through chromedriver (WebDriver, `fantoccini`) started by the test on
//! 127.0.0.1. Screenshots of each view go to `target/ui-screenshots/`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource, MOUSE_BUTTON_LEFT, MouseActions, PointerAction};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use super::{Ui, example_up};
use crate::support::Cli;

/// A chromedriver on a free loopback port; killed on drop.
pub(crate) struct Driver {
    child: Child,
    pub url: String,
    profile: tempfile::TempDir,
}

impl Driver {
    pub(crate) fn start() -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("/usr/bin/chromedriver")
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (Debian's chromium-driver, installed by scripts/setup.sh)");
        let url = format!("http://127.0.0.1:{port}");
        let until = Instant::now() + Duration::from_secs(20);
        while !meshroom_tests::http::answers(&format!("{url}/status")) {
            assert!(Instant::now() < until, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Driver {
            child,
            url,
            profile: tempfile::tempdir().unwrap(),
        }
    }

    /// A new headless Chromium session.
    pub(crate) async fn browser(&self) -> Client {
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--window-size=1400,900",
                    format!("--user-data-dir={}", self.profile.path().display()),
                ],
            }),
        );
        ClientBuilder::native()
            .capabilities(caps)
            .connect(&self.url)
            .await
            .expect("a Chromium session")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where the screenshots go.
pub(crate) fn screenshot_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/ui-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub(crate) async fn screenshot(c: &Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    std::fs::write(screenshot_dir().join(name), png).unwrap();
}

/// Runs `script` in the page until it returns true (30 s at most).
pub(crate) async fn wait_js(c: &Client, script: &str) {
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let v = c.execute(script, vec![]).await.unwrap_or(Value::Null);
        if v == Value::Bool(true) {
            return;
        }
        if Instant::now() > until {
            let log = c
                .execute("return document.body.innerText", vec![])
                .await
                .unwrap_or_default();
            panic!("never true in the page: {script}\npage: {log}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn js(c: &Client, script: &str) -> Value {
    c.execute(script, vec![]).await.unwrap()
}

/// Clicks the viewport at (x, y), as a user's mouse would.
async fn click_at(c: &Client, x: f64, y: f64) {
    let mouse = MouseActions::new("mouse".into())
        .then(PointerAction::MoveTo {
            duration: Some(Duration::from_millis(50)),
            x,
            y,
        })
        .then(PointerAction::Down {
            button: MOUSE_BUTTON_LEFT,
        })
        .then(PointerAction::Up {
            button: MOUSE_BUTTON_LEFT,
        });
    c.perform_actions(mouse).await.unwrap();
}

fn tokio() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn the_page_renders_the_mesh_shows_a_plug_turns_it_drifted_live_and_explains_a_pair() {
    let mut mesh = example_up();
    let ui = Ui::start(&mesh.cli, &[]);
    let driver = Driver::start();
    tokio().block_on(async {
        let c = driver.browser().await;
        c.goto(&ui.url("/")).await.unwrap();
        wait_js(&c, "return window.meshroomReady === true").await;
        // Four products (compound nodes), four instances, one plug.
        assert_eq!(js(&c, "return meshroom.cy.nodes(\"[kind = 'product']\").length").await, json!(4));
        assert_eq!(js(&c, "return meshroom.cy.nodes(\"[kind = 'instance']\").length").await, json!(4));
        assert_eq!(js(&c, "return meshroom.cy.edges().length").await, json!(1));
        let products = js(&c, "return meshroom.cy.nodes(\"[kind = 'product']\").map(n => n.data('label')).sort()").await;
        assert_eq!(products, json!(["caddy", "crowdsec", "medallion", "rsyslog"]));
        wait_js(&c, "return document.getElementById('stream-status').classList.contains('on')").await;

        // A real click on the plug's edge, in the canvas.
        let at = js(
            &c,
            "const e = meshroom.cy.edges()[0]; const m = e.renderedMidpoint();
             const r = meshroom.cy.container().getBoundingClientRect();
             return [r.left + m.x, r.top + m.y];",
        )
        .await;
        click_at(&c, at[0].as_f64().unwrap(), at[1].as_f64().unwrap()).await;
        let outputs = c.wait().for_element(Locator::Id("plug-outputs")).await.unwrap();
        let text = outputs.text().await.unwrap();
        assert!(text.contains("caddy_logger_id"), "{text}");
        let details = c.find(Locator::Id("plug-details")).await.unwrap().text().await.unwrap();
        assert!(details.contains("events") && details.contains("push"), "{details}");
        assert!(details.contains("stop_access_logs"), "{details}");
        assert_eq!(c.find(Locator::Id("plug-state")).await.unwrap().text().await.unwrap(), "up");
        screenshot(&c, "mesh.png").await;

        // Caddy restarted (its meshroom logger lost), then `check` in
        // another process: the plug turns drifted in the open page.
        mesh.caddy.restart().unwrap();
        let check = mesh.cli.run(&["check"], None);
        assert_eq!(check.code, Some(2), "{}", check.text());
        wait_js(&c, "return meshroom.cy.edges()[0].data('state') === 'drifted'").await;
        wait_js(&c, "const s = document.getElementById('plug-state'); return !!s && s.textContent === 'drifted'").await;
        let log = c.find(Locator::Id("live-log")).await.unwrap().text().await.unwrap();
        assert!(log.contains("check started") && log.contains("drifted"), "{log}");
        screenshot(&c, "mesh-drifted.png").await;

        // The capabilities view: click rsyslog, then medallion.
        c.find(Locator::Id("tab-capabilities")).await.unwrap().click().await.unwrap();
        wait_js(&c, "return document.body.dataset.capabilities === 'ready'").await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        for product in ["rsyslog", "medallion"] {
            let at = js(
                &c,
                &format!(
                    "const n = meshroom.capCy.getElementById('{product}'); const p = n.renderedPosition();
                     const r = meshroom.capCy.container().getBoundingClientRect();
                     return [r.left + p.x, r.top + p.y];"
                ),
            )
            .await;
            click_at(&c, at[0].as_f64().unwrap(), at[1].as_f64().unwrap()).await;
        }
        wait_js(&c, "return document.getElementById('explain').dataset.explained === 'rsyslog->medallion'").await;
        let why = c.find(Locator::Id("explain")).await.unwrap().text().await.unwrap();
        assert!(why.contains("cannot be plugged"), "{why}");
        assert!(why.contains("meshroom create integration rsyslog medallion"), "{why}");
        screenshot(&c, "capabilities.png").await;
        c.close().await.unwrap();
    });
}

#[test]
fn the_page_needs_its_token() {
    let cli = Cli::init();
    let ui = Ui::start(&cli, &["--token", "browser-t0ken"]);
    let driver = Driver::start();
    tokio().block_on(async {
        let c = driver.browser().await;
        c.goto(&ui.url("/")).await.unwrap();
        let body = js(&c, "return document.body.innerText").await;
        assert!(body.as_str().unwrap().contains("needs its token"), "{body}");
        c.goto(&ui.url("/?token=browser-t0ken")).await.unwrap();
        wait_js(&c, "return window.meshroomReady === true").await;
        // The token left the address; the stream is open with the cookie.
        assert_eq!(c.current_url().await.unwrap().query(), None);
        wait_js(
            &c,
            "return document.getElementById('stream-status').classList.contains('on')",
        )
        .await;
        screenshot(&c, "token.png").await;
        c.close().await.unwrap();
    });
}
