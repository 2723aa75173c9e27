//! `session-demo`: the demo app of Django-grade sessions, any framework over
//! any store. `session-demo --help` lists the flags.

use std::process::ExitCode;

use session_demo::cli::{self, Command, Framework};
use session_demo::{serve, stores};

#[tokio::main]
async fn main() -> ExitCode {
    // Session errors are logged as they happen; warnings and errors only.
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_writer(std::io::stderr)
        .init();
    let command = match cli::parse(std::env::args().skip(1)) {
        Ok(command) => command,
        Err(message) => {
            eprintln!("session-demo: {message}");
            return ExitCode::from(2);
        }
    };
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
        Command::ClearExpired(choice) => {
            let store = stores::open(&choice).await?;
            let removed = store
                .clear_expired()
                .await
                .map_err(|e| format!("clear-expired failed: {e}"))?;
            println!(
                "removed {removed} expired sessions from {}",
                stores::describe(&choice)
            );
            Ok(())
        }
        Command::Serve(options) => {
            let sessions = stores::manager(&options.store)
                .await?
                .with_config(options.config.clone())
                .map_err(|e| e.to_string())?;
            let framework = match options.framework {
                Framework::Rocket => "rocket",
                Framework::Warp => "warp",
                Framework::Poem => "poem",
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
                Framework::Poem | Framework::Warp => {
                    let listener = tokio::net::TcpListener::bind(options.addr)
                        .await
                        .map_err(|e| format!("cannot listen on {}: {e}", options.addr))?;
                    let addr = listener.local_addr().map_err(|e| e.to_string())?;
                    println!(
                        "session-demo: {framework} over {} at http://{addr}/",
                        stores::describe(&options.store)
                    );
                    if options.framework == Framework::Poem {
                        serve::poem(sessions, listener).await
                    } else {
                        serve::warp(sessions, listener).await
                    }
                }
            };
            served.map_err(|e| format!("the server stopped: {e}"))
        }
    }
}
