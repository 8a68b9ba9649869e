//! `meshroom ui`: serve the project's read-only dashboard until Ctrl-C.

use std::net::SocketAddr;

use anyhow::Context as _;

use super::Context;
use crate::ui::{Dashboard, DashboardConfig};

/// Serve a read-only dashboard of the project: the mesh (instances grouped by product, plugs
/// coloured by state), the capabilities and why a pair of products cannot be plugged, and the
/// runs of `up`, `down` and `check` live. Prints its address on stdout; stops on Ctrl-C
#[derive(Debug, clap::Args)]
pub struct UiArgs {
    /// The address to listen on (port 0: any free port). Any address but the loopback needs
    /// `--token`
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:7733")]
    pub listen: SocketAddr,
    /// A secret every request must carry (open the page once with `?token=TOKEN`; scripts send
    /// `Authorization: Bearer TOKEN`). Prefer the environment variable: arguments are visible
    /// to other users of the machine
    #[arg(
        long,
        value_name = "TOKEN",
        env = "MESHROOM_UI_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
    /// Open the page in the desktop's browser (`xdg-open`)
    #[arg(long)]
    pub open: bool,
}

pub fn exec(args: UiArgs, ctx: &Context) -> anyhow::Result<()> {
    let rt = ctx.runtime()?;
    rt.block_on(async {
        let config = DashboardConfig {
            project: ctx.project_dir.clone(),
            listen: args.listen,
            token: args.token.clone(),
        };
        let dashboard = Dashboard::bind(config).await?;
        let addr = dashboard.local_addr();
        let url = format!("http://{addr}/");
        // The address is the command's result: scripts and tests read it.
        super::common::print_line(&url)?;
        if !ctx.quiet {
            if args.token.is_some() {
                eprintln!("dashboard at {url} (open it once with ?token=TOKEN); Ctrl-C stops it");
            } else {
                eprintln!("dashboard at {url}; Ctrl-C stops it");
            }
        }
        if args.open {
            open_browser(&url, args.token.as_deref());
        }
        dashboard
            .serve(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await;
        anyhow::Ok(())
    })
    .context("the dashboard stopped")
}

/// Opens `url` with `xdg-open` (a warning when it cannot).
fn open_browser(url: &str, token: Option<&str>) {
    let url = match token {
        Some(t) => format!("{url}?token={t}"),
        None => url.to_string(),
    };
    match std::process::Command::new("xdg-open")
        .arg(&url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
    {
        Ok(_) => {}
        Err(e) => tracing::warn!("cannot open a browser (xdg-open: {e}); open the address by hand"),
    }
}
