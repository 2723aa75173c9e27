//! `session-demo`: the demo app of Django-grade sessions, any framework over
//! any store. `session-demo --help` lists the flags.

use std::process::ExitCode;

use std::sync::Arc;

use session_core::{ClearExpired, HashedIds, SessionManager, SessionStore};
use session_demo::cli::{self, Command, Framework, HashIds, StoreChoice};
use session_demo::{serve, serve_actix, serve_axum, stores};

#[tokio::main]
async fn main() -> ExitCode {
    let command = match cli::parse(std::env::args().skip(1)) {
        Ok(command) => command,
        Err(message) => {
            eprintln!("session-demo: {message}");
            return ExitCode::from(2);
        }
    };
    // Session errors are logged as they happen; warnings and errors only,
    // but each background clear-expired run reports its count at info.
    let level = match command {
        Command::ClearExpired(_, Some(_)) => tracing::Level::INFO,
        _ => tracing::Level::WARN,
    };
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .init();
    match run(command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("session-demo: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> Result<(), String> {
    match command {
        Command::Help => {
            print!("{}", cli::USAGE);
            Ok(())
        }
        Command::ClearExpired(choice, every) => {
            let store = stores::open(&choice).await?;
            let job = ClearExpired::new(store);
            let Some(every) = every else {
                let removed = job
                    .run_once()
                    .await
                    .map_err(|e| format!("clear-expired failed: {}", e.report()))?;
                println!(
                    "removed {removed} expired sessions from {}",
                    stores::describe(&choice)
                );
                return Ok(());
            };
            println!(
                "session-demo: clearing expired sessions from {} every {every:?} (Ctrl-C stops)",
                stores::describe(&choice)
            );
            let handle = job.every(every).first_run_now(true).spawn();
            let interrupted = tokio::signal::ctrl_c().await;
            let (runs, removed) = (handle.runs(), handle.removed());
            handle.stop().await;
            interrupted.map_err(|e| format!("cannot wait for Ctrl-C: {e}"))?;
            println!("session-demo: stopped after {runs} runs; {removed} expired sessions removed");
            Ok(())
        }
        Command::Serve(options) => {
            let sessions = match (&options.store, &options.hash_ids) {
                (StoreChoice::Cookie { .. }, HashIds::Off) => {
                    stores::manager(&options.store).await?
                }
                (StoreChoice::Cookie { .. }, _) => {
                    return Err(
                        "--hash-ids applies to server-side stores; signed cookies carry \
                                no ID to a store"
                            .to_owned(),
                    );
                }
                (store, hash) => SessionManager::new(hash_ids(stores::open(store).await?, hash)?),
            };
            let sessions = sessions
                .with_config(options.config.clone())
                .map_err(|e| e.to_string())?;
            let framework = match options.framework {
                Framework::Rocket => "rocket",
                Framework::Warp => "warp",
                Framework::Poem => "poem",
                Framework::Axum => "axum",
                Framework::Actix => "actix",
            };
            let served = match options.framework {
                Framework::Rocket => {
                    println!(
                        "session-demo: {framework} over {} at http://{}/",
                        stores::describe(&options.store),
                        options.addr
                    );
                    serve::rocket(sessions, options.addr).await
                }
                Framework::Poem | Framework::Warp | Framework::Axum | Framework::Actix => {
                    let listener = tokio::net::TcpListener::bind(options.addr)
                        .await
                        .map_err(|e| format!("cannot listen on {}: {e}", options.addr))?;
                    let addr = listener.local_addr().map_err(|e| e.to_string())?;
                    println!(
                        "session-demo: {framework} over {} at http://{addr}/",
                        stores::describe(&options.store)
                    );
                    match options.framework {
                        Framework::Axum => serve_axum::axum(sessions, listener).await,
                        Framework::Actix => serve_actix::actix(sessions, listener).await,
                        Framework::Poem => serve::poem(sessions, listener).await,
                        // Rocket binds by itself and is served above.
                        Framework::Warp | Framework::Rocket => {
                            serve::warp(sessions, listener).await
                        }
                    }
                }
            };
            served.map_err(|e| format!("the server stopped: {e}"))
        }
    }
}

/// Wraps the store in `HashedIds` as `--hash-ids` or `--hash-ids-key-env`
/// asks.
fn hash_ids(
    store: Arc<dyn SessionStore>,
    choice: &HashIds,
) -> Result<Arc<dyn SessionStore>, String> {
    match choice {
        HashIds::Off => Ok(store),
        HashIds::Sha256 => Ok(Arc::new(HashedIds::new(store))),
        HashIds::KeyFromEnv(var) => {
            let key = std::env::var_os(var).ok_or_else(|| {
                format!(
                    "--hash-ids-key-env {var}: the environment variable {var} is not set; \
                     set it to at least 32 random bytes, e.g. `export {var}=$(openssl rand -hex 32)`"
                )
            })?;
            let hashed = HashedIds::keyed(store, key.as_encoded_bytes())
                .map_err(|e| format!("--hash-ids-key-env {var}: {e}"))?;
            Ok(Arc::new(hashed))
        }
    }
}
