//! The app in axum: one fallback handler that hands the request to
//! [`app::dispatch`], behind session-tower's `SessionLayer`.

use session_core::SessionManager;

use crate::app::{self, Reply};

/// Serves with axum until the process ends.
pub async fn axum(
    sessions: SessionManager,
    listener: tokio::net::TcpListener,
) -> std::io::Result<()> {
    use axum::Router;
    use axum::extract::Request;
    use session_tower::{Session, SessionLayer};

    async fn handle(Session(session): Session, req: Request) -> axum::response::Response {
        let (parts, body) = req.into_parts();
        let path = parts.uri.path().to_owned();
        let length = parts.headers.get(axum::http::header::CONTENT_LENGTH);
        let chunks = body.into_data_stream();
        let reply = match app::read_body(length.map(|v| v.as_bytes()), chunks, &path).await {
            Ok(body) => {
                app::dispatch(
                    &session,
                    parts.method.as_str(),
                    &path,
                    parts.uri.query(),
                    &body,
                )
                .await
            }
            Err(refused) => refused,
        };
        response(reply)
    }

    let app = Router::new()
        .fallback(handle)
        .layer(SessionLayer::new(sessions));
    axum::serve(listener, app).await
}

/// `reply` as an axum response; the application's own headers are appended
/// before the session layer adds its own.
fn response(reply: Reply) -> axum::response::Response {
    use axum::http::{HeaderValue, StatusCode};

    let mut response = axum::response::Response::new(axum::body::Body::from(reply.body));
    *response.status_mut() =
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert("Content-Type", HeaderValue::from_static(reply.content_type));
    if let Some(location) = reply.location {
        headers.insert("Location", HeaderValue::from_static(location));
    }
    for (name, value) in reply.headers {
        headers.append(name, HeaderValue::from_static(value));
    }
    response
}
