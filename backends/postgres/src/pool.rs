//! Connections within bounded time: the URL read with messages that say
//! what is wrong with it, the pool built from the options, a checkout that
//! fails at once when the server refuses, and a deadline on each statement.

use std::future::Future;
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Connection, Postgres};
use tokio::time::error::Elapsed;
use tokio::time::{Instant, Timeout, timeout, timeout_at};

use crate::PostgresStore;
use crate::error::{Address, Context, PgError, Phase};
use crate::options::PostgresOptions;

/// Reads a `postgres://` URL; the errors never repeat it (it may hold a
/// password).
pub(crate) fn parse_url(url: &str) -> Result<PgConnectOptions, PgError> {
    let url = url.trim();
    if url.is_empty() {
        return Err(PgError::EmptyUrl);
    }
    let scheme = url.split_once("://").map(|(scheme, _)| scheme);
    if !matches!(scheme, Some("postgres" | "postgresql")) {
        return Err(PgError::BadScheme {
            scheme: scheme
                .filter(|s| s.len() <= 16 && s.bytes().all(|b| b.is_ascii_alphanumeric()))
                .map(str::to_owned),
        });
    }
    url.parse().map_err(|source| PgError::BadUrl {
        source: Box::new(source),
    })
}

/// A pool on `connect` that opens connections only when a call needs one
/// (the store's first checkout says whether the server is there), each
/// carrying the server-side `statement_timeout`.
pub(crate) fn build_pool(connect: PgConnectOptions, options: &PostgresOptions) -> PgPool {
    let connect = connect.options([(
        "statement_timeout",
        options.server_statement_timeout_ms().to_string(),
    )]);
    PgPoolOptions::new()
        .max_connections(options.max_connections())
        .acquire_timeout(options.acquire_timeout())
        .connect_lazy_with(connect)
}

/// The first of two futures to finish.
async fn first<T>(a: impl Future<Output = T>, b: impl Future<Output = T>) -> T {
    let (mut a, mut b) = (pin!(a), pin!(b));
    std::future::poll_fn(|cx| match a.as_mut().poll(cx) {
        Poll::Ready(value) => Poll::Ready(value),
        Poll::Pending => b.as_mut().poll(cx),
    })
    .await
}

/// Opens (and drops) a bare TCP or socket connection to `at`: resolves
/// with the error when the server refuses it or it takes longer than
/// `limit`, and never resolves otherwise (the pool's own connection
/// attempt then decides).
async fn refusal(at: Address, limit: Duration) -> PgError {
    use std::io::ErrorKind::{ConnectionRefused, NotFound};
    let connected = match &at {
        Address::Tcp { host, port } => timeout(
            limit,
            tokio::net::TcpStream::connect((host.as_str(), *port)),
        )
        .await
        .map(|result| result.map(drop)),
        #[cfg(unix)]
        Address::Socket(path) => timeout(limit, tokio::net::UnixStream::connect(path))
            .await
            .map(|result| result.map(drop)),
        #[cfg(not(unix))]
        Address::Socket(_) => Ok(Ok(())),
    };
    match connected {
        Err(_) => PgError::ConnectTimeout { at, after: limit },
        // No socket file is as good as a refusal: nothing listens there.
        Ok(Err(source))
            if source.kind() == ConnectionRefused
                || (source.kind() == NotFound && matches!(at, Address::Socket(_))) =>
        {
            PgError::Refused { at, source }
        }
        // Connected, or failed otherwise: the pool's attempt reports it.
        Ok(_) => std::future::pending().await,
    }
}

impl PostgresStore {
    /// Where the server is, for error messages and the refusal probe.
    fn address(&self) -> Address {
        Address::of(&self.pool.connect_options())
    }

    /// Where, who and which table, for error messages.
    pub(crate) fn context(&self) -> Context<'_> {
        let connect = self.pool.connect_options();
        let user = connect.get_username().to_owned();
        Context {
            at: Address::of(&connect),
            database: connect.get_database().unwrap_or(&user).to_owned(),
            user,
            table: &self.qualified,
        }
    }

    /// How long a checkout may take: the store's acquire timeout, or the
    /// pool's own when that is shorter (a pool given to `from_pool`).
    fn acquire_limit(&self) -> Duration {
        self.options
            .acquire_timeout()
            .min(self.pool.options().get_acquire_timeout())
    }

    fn acquire_timed_out(&self) -> PgError {
        PgError::AcquireTimeout {
            at: self.address(),
            after: self.acquire_limit(),
            max: self.pool.options().get_max_connections(),
        }
    }

    /// A live connection within the acquire timeout.
    ///
    /// Idle connections are pinged first and closed when dead (the server
    /// restarted). When the pool has to open a connection, a bare TCP (or
    /// socket) connection to the server races it, closed at once without a
    /// byte sent (a server with `log_connections` logs it as a connection
    /// received, nothing more): sqlx's pool retries a refused connection
    /// until its deadline, so without this every call would wait the whole
    /// acquire timeout while the server is down; with it a refusal ends the
    /// call at once, and a server that does not even complete TCP
    /// connections ends it after the connect timeout.
    pub(crate) async fn acquire(&self) -> Result<PoolConnection<Postgres>, PgError> {
        let deadline = Instant::now() + self.acquire_limit();
        let mut found_dead = false;
        while let Some(mut conn) = self.pool.try_acquire() {
            match timeout_at(deadline, conn.ping()).await {
                Ok(Ok(())) => return Ok(conn),
                // Dead: closed when dropped, at the end of this turn.
                Ok(Err(_)) => {
                    conn.close_on_drop();
                    found_dead = true;
                }
                Err(_) => {
                    conn.close_on_drop();
                    return Err(self.acquire_timed_out());
                }
            }
        }
        let checkout = async {
            match timeout_at(deadline, self.pool.acquire()).await {
                Ok(Ok(conn)) => Ok(conn),
                Ok(Err(sqlx::Error::PoolTimedOut)) | Err(_) => Err(self.acquire_timed_out()),
                Ok(Err(error)) => Err(self.context().classify(error, Phase::Connecting)),
            }
        };
        // The pool opens a connection unless every one is checked out and
        // alive; then a call waits for one to come back, and no probe is
        // needed (nor wanted: under load it would cost the server a
        // process per call).
        if found_dead || self.pool.size() < self.pool.options().get_max_connections() {
            let probe =
                async { Err(refusal(self.address(), self.options.connect_timeout()).await) };
            first(checkout, probe).await
        } else {
            checkout.await
        }
    }

    /// `statement` within the statement timeout; hand the outcome to
    /// [`settle`](Self::settle).
    pub(crate) fn deadline<F: Future>(&self, statement: F) -> Timeout<F> {
        timeout(self.options.statement_timeout(), statement)
    }

    /// The outcome of a [`deadline`](Self::deadline)d statement on `conn`:
    /// on a timeout or a broken connection the connection is closed rather
    /// than returned to the pool (its state is unknown).
    pub(crate) fn settle<T>(
        &self,
        conn: &mut PoolConnection<Postgres>,
        outcome: Result<Result<T, sqlx::Error>, Elapsed>,
    ) -> Result<T, PgError> {
        match outcome {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => {
                if matches!(
                    error,
                    sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::Protocol(_)
                ) {
                    conn.close_on_drop();
                }
                Err(self.context().classify(error, Phase::Statement))
            }
            Err(_) => {
                conn.close_on_drop();
                Err(PgError::StatementTimeout {
                    at: self.address(),
                    table: self.qualified.to_string(),
                    after: self.options.statement_timeout(),
                })
            }
        }
    }
}
