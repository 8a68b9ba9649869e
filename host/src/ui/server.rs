//! The dashboard's HTTP server: routes, the token check on every route,
//! and the bounds that keep a slow or hostile client from blocking it or
//! growing its memory:
//!
//! - at most [`MAX_CONNECTIONS`] connections; a request head must arrive
//!   within [`HEADER_TIMEOUT`] and fit in [`MAX_HEAD`] bytes (a huge query
//!   string is refused by the HTTP layer before routing); an address longer
//!   than [`MAX_URI`] gets 414;
//! - the API answers within [`REQUEST_TIMEOUT`] (else 408), at most
//!   [`MAX_WORK`] requests reading the project at once (the others wait,
//!   then get 503); bodies are refused past [`MAX_BODY`] (the API is GET only);
//! - at most [`MAX_STREAMS`] event streams at once (503 beyond), each fed
//!   from a bounded broadcast ([`super::live`]).
//!
//! It must not write the project: its only file is its socket in
//! `.meshroom/ui/`.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::sync::Semaphore;

use super::auth::Token;
use super::live::{Live, SocketGuard};
use crate::engine::RunEvents;

/// Connections served at once (more wait in the kernel's backlog).
pub const MAX_CONNECTIONS: usize = 256;
/// The time a client has to send a request's head.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest request head (request line and headers).
pub const MAX_HEAD: usize = 16 * 1024;
/// The longest request address.
pub const MAX_URI: usize = 4096;
/// The largest request body.
pub const MAX_BODY: usize = 4096;
/// The time an API request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// API requests reading the project at once.
pub const MAX_WORK: usize = 4;
/// Event streams open at once.
pub const MAX_STREAMS: usize = 32;

/// Why the dashboard cannot start.
#[derive(Debug, thiserror::Error)]
pub enum UiError {
    #[error(
        "refusing to serve the dashboard on {addr} without a token: anyone who can reach that address could read the mesh. Pass `--token TOKEN` (or set MESHROOM_UI_TOKEN), or listen on 127.0.0.1"
    )]
    TokenRequired { addr: SocketAddr },
    #[error("the token is empty: pass a non-empty `--token`")]
    EmptyToken,
    #[error("`{0}` is not a meshroom project (no `products/` or `instances/` folder)")]
    NotAProject(PathBuf),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// How to serve a dashboard.
#[derive(Debug, Clone)]
pub struct DashboardConfig {
    /// The project shown.
    pub project: PathBuf,
    /// Where to listen (port 0: any free port).
    pub listen: SocketAddr,
    /// Required on every request when set; required when `listen` is not loopback.
    pub token: Option<String>,
}

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub root: Arc<PathBuf>,
    pub token: Option<Token>,
    pub live: Arc<Live>,
    pub streams: Arc<Semaphore>,
    pub work: Arc<Semaphore>,
    /// Answers `describe()` from the compiled cache for the hook index.
    pub runtime: Arc<crate::runtime::Runtime>,
}

/// A bound dashboard, ready to serve.
pub struct Dashboard {
    listener: tokio::net::TcpListener,
    addr: SocketAddr,
    state: AppState,
    socket: Option<SocketGuard>,
}

impl std::fmt::Debug for Dashboard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dashboard")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Dashboard {
    /// Checks the configuration, binds the address and the project's
    /// dashboard socket (live runs of other processes; without it, a
    /// warning and only this process's runs are live).
    pub async fn bind(config: DashboardConfig) -> Result<Dashboard, UiError> {
        let token = match config.token.as_deref() {
            Some("") => return Err(UiError::EmptyToken),
            Some(t) => Some(Token::new(t)),
            None if !super::is_local(&config.listen) => {
                return Err(UiError::TokenRequired {
                    addr: config.listen,
                });
            }
            None => None,
        };
        if !crate::project::is_project(&config.project) {
            return Err(UiError::NotAProject(config.project));
        }
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| UiError::Bind {
                addr: config.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| UiError::Bind {
            addr: config.listen,
            source,
        })?;
        let runtime = crate::runtime::Runtime::new(crate::runtime::RuntimeConfig {
            pooling: false,
            ..crate::runtime::RuntimeConfig::default()
        })
        .map_err(|e| UiError::Bind {
            addr,
            source: std::io::Error::other(format!("cannot start the adapter runtime: {e}")),
        })?;
        let live = Arc::new(Live::default());
        let socket_path = crate::engine::events::ui_socket_dir(&config.project)
            .join(format!("{}.sock", std::process::id()));
        let socket = match live.listen(&socket_path) {
            Ok(guard) => Some(guard),
            Err(e) => {
                tracing::warn!(
                    "cannot listen on {}: {e}; runs of other processes will not show live",
                    socket_path.display()
                );
                None
            }
        };
        Ok(Dashboard {
            listener,
            addr,
            state: AppState {
                root: Arc::new(config.project),
                token,
                live,
                streams: Arc::new(Semaphore::new(MAX_STREAMS)),
                work: Arc::new(Semaphore::new(MAX_WORK)),
                runtime: Arc::new(runtime),
            },
            socket,
        })
    }

    /// The address served.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The socket runs of other processes feed, when there is one.
    pub fn socket(&self) -> Option<&Path> {
        self.socket.as_ref().map(|s| s.path())
    }

    /// The observer that shows a run of this process live.
    pub fn events(&self) -> RunEvents {
        self.state.live.observer()
    }

    /// Serves until `shutdown` completes.
    pub async fn serve(self, shutdown: impl Future<Output = ()>) {
        let router = router(self.state.clone());
        let connections = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        let accept = async {
            loop {
                let Ok(permit) = connections.clone().acquire_owned().await else {
                    return;
                };
                let (stream, _) = match self.listener.accept().await {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::debug!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let service = TowerToHyperService::new(router.clone());
                tokio::spawn(async move {
                    let _permit = permit;
                    let served = hyper::server::conn::http1::Builder::new()
                        .timer(TokioTimer::new())
                        .header_read_timeout(HEADER_TIMEOUT)
                        .max_buf_size(MAX_HEAD)
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                    if let Err(e) = served {
                        tracing::debug!("connection ended: {e}");
                    }
                });
            }
        };
        tokio::select! {
            () = accept => {}
            () = shutdown => {}
        }
        drop(self.socket);
    }
}

/// Every route, behind the token check and the bounds.
fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/", get(super::assets::index))
        .route("/assets/{*file}", get(super::assets::asset))
        .route("/api", get(super::api::index))
        .route("/api/mesh", get(super::api::mesh))
        .route("/api/plug", get(super::api::plug))
        .route("/api/capabilities", get(super::api::capabilities))
        .route("/api/explain", get(super::api::explain))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ));
    Router::new()
        .route("/api/events", get(super::api::events))
        .merge(api)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            super::auth::check,
        ))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(MAX_BODY))
        .layer(middleware::from_fn(bound_uri))
        .with_state(state)
}

/// 414 for an address longer than [`MAX_URI`].
async fn bound_uri(request: Request<Body>, next: Next) -> Response {
    let len = request
        .uri()
        .path_and_query()
        .map_or(0, |p| p.as_str().len());
    if len > MAX_URI {
        return (
            StatusCode::URI_TOO_LONG,
            [(header::CACHE_CONTROL, "no-store")],
            "request address too long\n",
        )
            .into_response();
    }
    next.run(request).await
}
