//! The store's own errors: each says what went wrong and what to check
//! (host and port, database, user, table, timeout), never the password, and
//! maps to one [`session_core::Error`] kind with itself as the source.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use session_core::Error;
use sqlx::postgres::PgConnectOptions;

/// Where the server is: a host and port, or a Unix socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Address {
    /// TCP, as sqlx connects: the host as given (a name or an address).
    Tcp { host: String, port: u16 },
    /// A Unix-domain socket file.
    Socket(PathBuf),
}

impl Address {
    /// Where sqlx connects for `options`: a socket when one is configured
    /// or the host is a directory (`/run/postgresql`), else TCP.
    pub(crate) fn of(options: &PgConnectOptions) -> Self {
        let port = options.get_port();
        let directory = match options.get_socket() {
            Some(socket) => Some(socket.clone()),
            None if options.get_host().starts_with('/') => Some(options.get_host().into()),
            None => None,
        };
        match directory {
            Some(directory) => Address::Socket(directory.join(format!(".s.PGSQL.{port}"))),
            None => Address::Tcp {
                host: options.get_host().to_owned(),
                port,
            },
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Tcp { host, port } if host.contains(':') && !host.starts_with('[') => {
                write!(f, "[{host}]:{port}")
            }
            Address::Tcp { host, port } => write!(f, "{host}:{port}"),
            Address::Socket(path) => write!(f, "socket {}", path.display()),
        }
    }
}

/// What a store's failure was, with what to check.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PgError {
    // --- Configuration -------------------------------------------------
    #[error("the PostgreSQL URL is empty: pass one such as postgres://user@host:5432/database")]
    EmptyUrl,

    #[error(
        "the PostgreSQL URL could not be parsed: expected \
         postgres://user[:password]@host[:port]/database[?options] (the URL is not repeated \
         here, as it may hold a password)"
    )]
    BadUrl {
        #[source]
        source: Box<sqlx::Error>,
    },

    #[error(
        "the PostgreSQL URL must start with postgres:// or postgresql://{}",
        match scheme { Some(s) => format!(" (it starts with {s}://)"), None => String::new() }
    )]
    BadScheme { scheme: Option<String> },

    #[error("{setting} is zero, so every call would fail at once: give it at least 1 ms")]
    ZeroTimeout { setting: &'static str },

    #[error("max_connections is zero, so no call could ever get a connection: give it at least 1")]
    ZeroConnections,

    #[error("{name:?} is not a plain SQL identifier ([A-Za-z_][A-Za-z0-9_]*, at most 63 bytes)")]
    Identifier { name: String },

    // --- Reaching the server -------------------------------------------
    #[error(
        "PostgreSQL at {at} refused the connection: is the server running, and listening on \
         that address (listen_addresses, port)?"
    )]
    Refused {
        at: Address,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "no TCP connection to PostgreSQL at {at} within {after:?} (connect timeout): is the \
         host up, and does a firewall drop packets to that port?"
    )]
    ConnectTimeout { at: Address, after: Duration },

    #[error(
        "no connection to PostgreSQL at {at} within {after:?} (acquire timeout): the server \
         accepted but did not complete the handshake (overloaded, hung, or not PostgreSQL), or \
         all {max} connections of the pool stayed busy"
    )]
    AcquireTimeout {
        at: Address,
        after: Duration,
        max: u32,
    },

    #[error(
        "could not connect to PostgreSQL at {at}: check the host name (name resolution), \
         the network, and that the server accepts connections"
    )]
    Connect {
        at: Address,
        #[source]
        source: Box<sqlx::Error>,
    },

    #[error(
        "lost the connection to PostgreSQL at {at}, or the server is starting up, shutting \
         down or out of connections: it should pass; if it does not, check the server's log"
    )]
    Unreachable {
        at: Address,
        #[source]
        source: Box<sqlx::Error>,
    },

    #[error(
        "the connection pool of this store was closed (PgPool::close was called): build a new \
         store"
    )]
    PoolClosed,

    #[error("{at} did not answer as a PostgreSQL server does: is that the right host and port?")]
    Protocol {
        at: Address,
        #[source]
        source: Box<sqlx::Error>,
    },

    #[error(
        "PostgreSQL at {at} did not finish a statement on {table} within {after:?} (statement \
         timeout): is the server overloaded, or does a transaction hold a lock on the table?"
    )]
    StatementTimeout {
        at: Address,
        table: String,
        after: Duration,
    },

    #[error(
        "PostgreSQL at {at} cancelled a statement on {table} (SQLSTATE 57014): it ran past the \
         server's statement_timeout, or an administrator cancelled it; is the server \
         overloaded, or does a transaction hold a lock on the table?"
    )]
    Cancelled {
        at: Address,
        table: String,
        #[source]
        source: Box<sqlx::Error>,
    },

    // --- Who and where -------------------------------------------------
    #[error(
        "PostgreSQL at {at} did not let user {user:?} in to database {database:?}: check the \
         user name and password in the URL, and the server's pg_hba.conf"
    )]
    Auth {
        at: Address,
        user: String,
        database: String,
        #[source]
        source: Box<sqlx::Error>,
    },

    #[error(
        "PostgreSQL at {at} has no database {database:?}: create it (createdb {database}) or \
         fix the database name in the URL"
    )]
    NoDatabase {
        at: Address,
        database: String,
        #[source]
        source: Box<sqlx::Error>,
    },

    #[error(
        "user {user:?} may not use table {table} in database {database:?}: grant it SELECT, \
         INSERT, UPDATE and DELETE on the table (and CREATE on the schema to run migrate)"
    )]
    Permission {
        user: String,
        database: String,
        table: String,
        #[source]
        source: Box<sqlx::Error>,
    },

    // --- The table ------------------------------------------------------
    #[error(
        "table {table} does not exist in database {database:?}: run PostgresStore::migrate(), \
         or point PostgresStore::with_table at the table it made"
    )]
    NoTable {
        table: String,
        database: String,
        #[source]
        source: Box<sqlx::Error>,
    },

    #[error(
        "table {table} in database {database:?} does not have the columns \
         session-store-postgres uses: run PostgresStore::migrate(), which upgrades tables made \
         by earlier versions and refuses a table that belongs to something else"
    )]
    Shape {
        table: String,
        database: String,
        #[source]
        source: Box<sqlx::Error>,
    },

    #[error(
        "column {column} of table {table} has type {found}, not {expected}: run \
         PostgresStore::migrate(), which upgrades tables made by earlier versions and refuses \
         a table that belongs to something else"
    )]
    ColumnType {
        table: String,
        column: &'static str,
        found: String,
        expected: &'static str,
    },

    #[error(
        "table {table} already exists and is not a session table ({found}): it belongs to \
         something else; choose another table with PostgresStore::with_table, or move that \
         one away"
    )]
    Foreign { table: String, found: String },

    #[error(
        "table {table} was made by a newer session-store-postgres (schema {found}; this version \
         knows schema {known}): upgrade this crate"
    )]
    NewerSchema {
        table: String,
        found: i64,
        known: i64,
    },

    #[error(
        "PostgreSQL refused a row for table {table} (constraint {constraint}): the expiry must \
         lie in years 1 to 9999 and the version must not be negative"
    )]
    Rejected {
        table: String,
        constraint: String,
        #[source]
        source: Box<sqlx::Error>,
    },

    #[error("a statement on table {table} failed on PostgreSQL at {at}")]
    Query {
        at: Address,
        table: String,
        #[source]
        source: Box<sqlx::Error>,
    },

    // --- Corrupt rows ---------------------------------------------------
    #[error("column data of a row of {table} is not a JSON object")]
    Data {
        table: String,
        #[source]
        source: serde_json::Error,
    },

    #[error("column {column} of a row of {table} could not be decoded")]
    Undecodable {
        table: String,
        column: &'static str,
        #[source]
        source: Box<sqlx::Error>,
    },

    #[error("column {column} of a row of {table} is NULL")]
    Null { table: String, column: &'static str },

    #[error("column expires_at of a row of {table} is infinite or outside years 1 to 9999")]
    Expiry { table: String },

    #[error("column version of a row of {table} is negative ({version})")]
    Version { table: String, version: i64 },
}

impl From<PgError> for Error {
    fn from(error: PgError) -> Self {
        use PgError::*;
        match error {
            Refused { .. }
            | ConnectTimeout { .. }
            | AcquireTimeout { .. }
            | Connect { .. }
            | Unreachable { .. }
            | PoolClosed
            | StatementTimeout { .. }
            | Cancelled { .. } => Error::unavailable(error),
            Data { .. } | Undecodable { .. } | Null { .. } | Expiry { .. } | Version { .. } => {
                Error::corrupt(error)
            }
            EmptyUrl
            | BadUrl { .. }
            | BadScheme { .. }
            | ZeroTimeout { .. }
            | ZeroConnections
            | Identifier { .. }
            | Protocol { .. }
            | Auth { .. }
            | NoDatabase { .. }
            | Permission { .. }
            | NoTable { .. }
            | Shape { .. }
            | ColumnType { .. }
            | Foreign { .. }
            | NewerSchema { .. }
            | Rejected { .. }
            | Query { .. } => Error::backend(error),
        }
    }
}

/// What a failing call was doing, for the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Opening or checking out a connection.
    Connecting,
    /// Running a statement on a connection.
    Statement,
}

/// The context of a call: where, who, which table.
#[derive(Debug, Clone)]
pub(crate) struct Context<'a> {
    pub(crate) at: Address,
    pub(crate) user: String,
    pub(crate) database: String,
    pub(crate) table: &'a str,
}

impl Context<'_> {
    /// Classifies a sqlx error: SQLSTATE first, then the error's kind.
    pub(crate) fn classify(&self, error: sqlx::Error, phase: Phase) -> PgError {
        let code = match &error {
            sqlx::Error::Database(db) => db.code().map(|c| c.into_owned()),
            _ => None,
        };
        if let Some(code) = code.as_deref() {
            return self.by_code(code, error);
        }
        let at = self.at.clone();
        match error {
            sqlx::Error::Io(source)
                if phase == Phase::Connecting
                    && source.kind() == std::io::ErrorKind::ConnectionRefused =>
            {
                PgError::Refused { at, source }
            }
            sqlx::Error::Io(_) | sqlx::Error::Tls(_) if phase == Phase::Connecting => {
                PgError::Connect {
                    at,
                    source: Box::new(error),
                }
            }
            sqlx::Error::Io(_) | sqlx::Error::Tls(_) => PgError::Unreachable {
                at,
                source: Box::new(error),
            },
            sqlx::Error::Protocol(_) => PgError::Protocol {
                at,
                source: Box::new(error),
            },
            sqlx::Error::PoolClosed => PgError::PoolClosed,
            sqlx::Error::ColumnNotFound(_)
            | sqlx::Error::ColumnDecode { .. }
            | sqlx::Error::ColumnIndexOutOfBounds { .. }
            | sqlx::Error::TypeNotFound { .. } => self.shape(error),
            _ => PgError::Query {
                at,
                table: self.table.to_owned(),
                source: Box::new(error),
            },
        }
    }

    fn by_code(&self, code: &str, error: sqlx::Error) -> PgError {
        let at = self.at.clone();
        let table = self.table.to_owned();
        match code {
            "57014" => PgError::Cancelled {
                at,
                table,
                source: Box::new(error),
            },
            c if c.starts_with("08") || c.starts_with("53") || c.starts_with("57P0") => {
                PgError::Unreachable {
                    at,
                    source: Box::new(error),
                }
            }
            "28000" | "28P01" => PgError::Auth {
                at,
                user: self.user.clone(),
                database: self.database.clone(),
                source: Box::new(error),
            },
            "3D000" => PgError::NoDatabase {
                at,
                database: self.database.clone(),
                source: Box::new(error),
            },
            "42501" => PgError::Permission {
                user: self.user.clone(),
                database: self.database.clone(),
                table,
                source: Box::new(error),
            },
            "42P01" => PgError::NoTable {
                table,
                database: self.database.clone(),
                source: Box::new(error),
            },
            // undefined column, datatype mismatch, undefined function or
            // operator (a column of another type), cannot coerce, no unique
            // index for ON CONFLICT, a NOT NULL column we do not write.
            "42703" | "42804" | "42883" | "42846" | "42P10" | "23502" => self.shape(error),
            "23514" => {
                let constraint = match &error {
                    sqlx::Error::Database(db) => db.constraint().unwrap_or("?").to_owned(),
                    _ => "?".to_owned(),
                };
                PgError::Rejected {
                    table,
                    constraint,
                    source: Box::new(error),
                }
            }
            _ => PgError::Query {
                at,
                table,
                source: Box::new(error),
            },
        }
    }

    fn shape(&self, error: sqlx::Error) -> PgError {
        PgError::Shape {
            table: self.table.to_owned(),
            database: self.database.clone(),
            source: Box::new(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_name_the_host_and_port_or_the_socket() {
        let tcp: PgConnectOptions = "postgres://u:pw@db.example:6543/app".parse().unwrap();
        assert_eq!(Address::of(&tcp).to_string(), "db.example:6543");
        let v6: PgConnectOptions = "postgres://u@[::1]:5432/app".parse().unwrap();
        assert_eq!(Address::of(&v6).to_string(), "[::1]:5432");
        let socket: PgConnectOptions = "postgres://u@%2Frun%2Fpostgresql/app".parse().unwrap();
        assert_eq!(
            Address::of(&socket).to_string(),
            "socket /run/postgresql/.s.PGSQL.5432"
        );
    }

    #[test]
    fn every_error_maps_to_the_kind_its_message_promises() {
        use session_core::ErrorKind;
        let at = || Address::Tcp {
            host: "h".into(),
            port: 1,
        };
        let cases: Vec<(PgError, ErrorKind)> = vec![
            (PgError::EmptyUrl, ErrorKind::Backend),
            (
                PgError::ConnectTimeout {
                    at: at(),
                    after: Duration::from_secs(1),
                },
                ErrorKind::Unavailable,
            ),
            (PgError::Expiry { table: "t".into() }, ErrorKind::Corrupt),
            (
                PgError::ColumnType {
                    table: "t".into(),
                    column: "data",
                    found: "BYTEA".into(),
                    expected: "text",
                },
                ErrorKind::Backend,
            ),
        ];
        for (error, kind) in cases {
            let text = error.to_string();
            assert_eq!(Error::from(error).kind(), kind, "{text}");
        }
    }
}
