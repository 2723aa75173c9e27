//! The same app in each framework: a catch-all route that hands the request
//! to [`app::dispatch`], behind that framework's session adapter.

use std::net::SocketAddr;

use session_core::SessionManager;

use crate::app::{self, Reply};

/// Serves with Poem until the process ends.
pub async fn poem(
    sessions: SessionManager,
    listener: tokio::net::TcpListener,
) -> std::io::Result<()> {
    use poem::endpoint::make;
    use poem::http::StatusCode;
    use poem::listener::TcpAcceptor;
    use poem::{EndpointExt, Request, Response, Server};
    use session_poem::{Session, SessionMiddleware};

    let endpoint = make(|mut req: Request| async move {
        let Some(Session(session)) = req.extensions().get::<Session>().cloned() else {
            return Response::builder()
                .status(StatusCode::INTERNAL_SERVER_ERROR)
                .body("no session middleware");
        };
        let method = req.method().as_str().to_owned();
        let path = req.uri().path().to_owned();
        let query = req.uri().query().map(str::to_owned);
        let chunks = req.take_body().into_bytes_stream();
        let length = req.headers().get(poem::http::header::CONTENT_LENGTH);
        let reply = match app::read_body(length.map(|v| v.as_bytes()), chunks, &path).await {
            Ok(body) => app::dispatch(&session, &method, &path, query.as_deref(), &body).await,
            Err(refused) => refused,
        };
        let mut response = Response::builder()
            .status(StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
            .content_type(reply.content_type);
        if let Some(location) = reply.location {
            response = response.header("Location", location);
        }
        for (name, value) in reply.headers {
            response = response.header(name, value);
        }
        response.body(reply.body)
    })
    .with(SessionMiddleware::new(sessions));
    let acceptor = TcpAcceptor::from_tokio(listener)?;
    Server::new_with_acceptor(acceptor).run(endpoint).await
}

fn warp_response(reply: Reply) -> warp::reply::Response {
    use warp::http::{HeaderValue, StatusCode};
    let mut response = warp::http::Response::new(reply.body.into());
    *response.status_mut() =
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response
        .headers_mut()
        .insert("Content-Type", HeaderValue::from_static(reply.content_type));
    if let Some(location) = reply.location {
        response
            .headers_mut()
            .insert("Location", HeaderValue::from_static(location));
    }
    for (name, value) in reply.headers {
        response
            .headers_mut()
            .append(name, HeaderValue::from_static(value));
    }
    response
}

/// Serves with Warp until the process ends.
pub async fn warp(
    sessions: SessionManager,
    listener: tokio::net::TcpListener,
) -> std::io::Result<()> {
    use session_core::Session;
    use session_warp::Sessions;
    use warp::Filter;

    let sessions = Sessions::new(sessions);
    let query = warp::query::raw().or(warp::any().map(String::new)).unify();
    let routes = warp::method()
        .and(warp::path::full())
        .and(query)
        .and(warp::header::optional::<String>("content-length"))
        .and(warp::body::stream())
        .and(sessions.load())
        .then(
            |method: warp::http::Method,
             path: warp::path::FullPath,
             query: String,
             length: Option<String>,
             body,
             session: Session| async move {
                let query = (!query.is_empty()).then_some(query);
                let length = length.as_deref().map(str::as_bytes);
                let reply = match app::read_body(length, body, path.as_str()).await {
                    Ok(body) => {
                        app::dispatch(
                            &session,
                            method.as_str(),
                            path.as_str(),
                            query.as_deref(),
                            &body,
                        )
                        .await
                    }
                    Err(refused) => refused,
                };
                (warp_response(reply), session)
            },
        )
        .then(sessions.finish());
    warp::serve(routes).incoming(listener).run().await;
    Ok(())
}

/// Serves with Rocket until the process ends. Rocket binds by itself, so it
/// takes the address rather than a listener.
pub async fn rocket(sessions: SessionManager, addr: SocketAddr) -> std::io::Result<()> {
    rocket_app(sessions, addr)
        .launch()
        .await
        .map(drop)
        .map_err(|e| std::io::Error::other(e.to_string()))
}

/// The Rocket app, not yet launched.
pub fn rocket_app(sessions: SessionManager, addr: SocketAddr) -> rocket::Rocket<rocket::Build> {
    use rocket_routes::{get, post};
    let config = rocket::Config {
        address: addr.ip(),
        port: addr.port(),
        log_level: rocket::config::LogLevel::Off,
        cli_colors: false,
        ..rocket::Config::release_default()
    };
    rocket::custom(config)
        .attach(session_rocket::SessionFairing::new(sessions))
        .mount("/", rocket::routes![get, post])
}

mod rocket_routes {
    use rocket::data::{Data, ToByteUnit};
    use rocket::http::{ContentType, Header, Status};
    use rocket::request::{FromRequest, Outcome, Request};
    use rocket::response::{self, Responder, Response};
    use session_rocket::Session;

    use crate::app::{self, Reply};

    /// The parts of the request the dispatcher needs.
    pub(super) struct Raw {
        method: String,
        path: String,
        query: Option<String>,
        /// Whether `Content-Length` announces a body above the limit.
        too_large: bool,
    }

    #[rocket::async_trait]
    impl<'r> FromRequest<'r> for Raw {
        type Error = std::convert::Infallible;

        async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Self::Error> {
            Outcome::Success(Raw {
                method: req.method().as_str().to_owned(),
                path: req.uri().path().as_str().to_owned(),
                query: req.uri().query().map(|q| q.as_str().to_owned()),
                too_large: app::declared_too_large(
                    req.headers().get_one("Content-Length").map(str::as_bytes),
                ),
            })
        }
    }

    pub(super) struct RocketReply(Reply);

    impl<'r> Responder<'r, 'static> for RocketReply {
        fn respond_to(self, _: &'r Request<'_>) -> response::Result<'static> {
            let reply = self.0;
            let mut response = Response::build();
            response
                .status(Status::from_code(reply.status).unwrap_or(Status::InternalServerError))
                .header(
                    ContentType::parse_flexible(reply.content_type).unwrap_or(ContentType::Plain),
                )
                .sized_body(reply.body.len(), std::io::Cursor::new(reply.body));
            if let Some(location) = reply.location {
                response.header(Header::new("Location", location));
            }
            for (name, value) in reply.headers {
                response.header_adjoin(Header::new(name, value));
            }
            response.ok()
        }
    }

    async fn answer(session: Session, raw: Raw, body: &[u8]) -> RocketReply {
        RocketReply(
            app::dispatch(&session, &raw.method, &raw.path, raw.query.as_deref(), body).await,
        )
    }

    /// A GET never reads its body; one that announces too large a body is
    /// still refused, as in the other frameworks.
    #[rocket::get("/<_..>")]
    pub(super) async fn get(session: Session, raw: Raw) -> RocketReply {
        if raw.too_large {
            return RocketReply(app::body_too_large(&raw.path));
        }
        answer(session, raw, &[]).await
    }

    /// Reads at most [`app::MAX_BODY_BYTES`] of the body (Rocket reads one
    /// byte more to tell a body of exactly the limit from a longer one).
    #[rocket::post("/<_..>", data = "<data>")]
    pub(super) async fn post(session: Session, raw: Raw, data: Data<'_>) -> RocketReply {
        if raw.too_large {
            return RocketReply(app::body_too_large(&raw.path));
        }
        match data.open(app::MAX_BODY_BYTES.bytes()).into_bytes().await {
            Ok(body) if body.is_complete() => answer(session, raw, &body.into_inner()).await,
            Ok(_) => RocketReply(app::body_too_large(&raw.path)),
            Err(_) => RocketReply(app::body_unreadable(&raw.path)),
        }
    }
}
