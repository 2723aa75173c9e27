//! The layer and the service that run the session lifecycle around an inner
//! service.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::header::{CONTENT_TYPE, COOKIE};
use http::{HeaderValue, Request, Response, StatusCode};
use session_core::{Session, SessionManager};
use tower_layer::Layer;
use tower_service::Service;

use crate::SessionBody;

/// Wraps a service in [`SessionService`]: add it to an axum `Router` with
/// `.layer(..)`, to a tonic server with `Server::builder().layer(..)`, or
/// to any tower stack with `ServiceBuilder::layer`.
#[derive(Debug, Clone)]
pub struct SessionLayer {
    sessions: SessionManager,
}

impl SessionLayer {
    /// A layer over `sessions` (its store and settings).
    pub fn new(sessions: SessionManager) -> Self {
        SessionLayer { sessions }
    }
}

impl<S> Layer<S> for SessionLayer {
    type Service = SessionService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SessionService::new(inner, self.sessions.clone())
    }
}

/// The service [`SessionLayer`] wraps around yours: it puts a
/// [`session_core::Session`] into every request's extensions and finishes
/// it once the inner service has answered.
///
/// It is ready exactly when the inner service is ([`Service::poll_ready`]
/// is passed through), and calls the inner service within its own
/// [`Service::call`], so the inner service that was polled ready is the one
/// that takes the request, with no clone in between.
#[derive(Debug, Clone)]
pub struct SessionService<S> {
    inner: S,
    sessions: SessionManager,
}

impl<S> SessionService<S> {
    /// `inner` inside the lifecycle of `sessions`.
    pub fn new(inner: S, sessions: SessionManager) -> Self {
        SessionService { inner, sessions }
    }

    /// The wrapped service.
    pub fn inner(&self) -> &S {
        &self.inner
    }
}

/// The future [`SessionService`] returns.
pub type ResponseFuture<B, E> =
    Pin<Box<dyn Future<Output = Result<Response<SessionBody<B>>, E>> + Send + 'static>>;

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for SessionService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ResBody: http_body::Body + Send + 'static,
    ResBody::Data: From<&'static str>,
{
    type Response = Response<SessionBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        // Loading does no I/O, so the inner service is called right here:
        // the one `poll_ready` just made ready takes the request, and no
        // clone-and-swap is needed to keep readiness honest.
        let session = self.sessions.load(req.headers().get_all(COOKIE));
        req.extensions_mut().insert(session.clone());
        let answered = self.inner.call(req);
        let sessions = self.sessions.clone();
        Box::pin(async move {
            match answered.await {
                Ok(response) => Ok(finish(&sessions, &session, response).await),
                Err(error) => {
                    // No response reaches the client, as with a 5xx: finish
                    // saves nothing, and still retries a flush's deletes.
                    if let Err(session_error) = sessions.finish(&session, 500).await {
                        session_error.log_response();
                    }
                    Err(error)
                }
            }
        })
    }
}

/// Finishes `session` with `response`'s status, then adds the headers the
/// outcome asks for, or answers the error instead.
async fn finish<B>(
    sessions: &SessionManager,
    session: &Session,
    response: Response<B>,
) -> Response<SessionBody<B>> {
    let (mut parts, body) = response.into_parts();
    match sessions.finish(session, parts.status.as_u16()).await {
        Ok(outcome) => {
            outcome.apply_to(&mut parts.headers, sessions.config());
            Response::from_parts(parts, SessionBody::inner(body))
        }
        Err(error) => error_response(&error),
    }
}

/// `error` as a short plain answer with its status; the error's kind and
/// cause chain go to the log, never to the client.
pub(crate) fn error_response<B>(error: &session_core::Error) -> Response<SessionBody<B>> {
    error.log_response();
    let mut response = Response::new(SessionBody::message(error.public_message()));
    *response.status_mut() =
        StatusCode::from_u16(error.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use http_body_util::{BodyExt, Full};

    use super::*;
    use crate::test_support::{assert_store_error_logged, logged, pool_timed_out};

    fn assert_send<T: Send>(_: &T) {}
    fn assert_clone<T: Clone>() {}

    #[test]
    fn the_service_is_clone_and_its_future_is_send() {
        assert_clone::<
            SessionService<
                tower::util::BoxCloneSyncService<
                    Request<()>,
                    Response<Full<Bytes>>,
                    std::convert::Infallible,
                >,
            >,
        >();
        let mut service = SessionService::new(
            tower::service_fn(|_: Request<()>| async {
                Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::new())))
            }),
            SessionManager::new(session_core::MemoryStore::new()),
        );
        let future = service.call(Request::new(()));
        assert_send(&future);
    }

    #[tokio::test]
    async fn a_store_error_in_finish_logs_its_cause_chain_and_answers_without_it() {
        let mut response = None;
        let log = logged(|| response = Some(error_response::<Full<Bytes>>(&pool_timed_out())));
        let response = response.unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            response.headers()[CONTENT_TYPE],
            "text/plain; charset=utf-8"
        );
        assert_store_error_logged(&log);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, "session store unavailable; try again later");
    }
}
