//! A handler that writes the session and then returns an error still gets
//! its session saved (below 500) or dropped (500 and above); so does a
//! request whose error comes from a middleware inside `SessionMiddleware`.
//! Extracting a `Session` without the middleware answers 500, saying so.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{SET_COOKIE, VARY};
use actix_web::middleware::{Next, from_fn};
use actix_web::{App, HttpResponse, error, test, web};
use session_actix::{Session, SessionMiddleware};
use session_core::{MemoryStore, SessionManager};

async fn write_then_fail(
    session: Session,
    status: web::Path<u16>,
) -> Result<&'static str, actix_web::Error> {
    session
        .insert("written", true)
        .await
        .map_err(error::ErrorInternalServerError)?;
    let status = StatusCode::from_u16(status.into_inner()).unwrap();
    Err(error::InternalError::new("failed on purpose", status).into())
}

async fn write(session: Session) -> Result<&'static str, actix_web::Error> {
    session
        .insert("written", true)
        .await
        .map_err(error::ErrorInternalServerError)?;
    Ok("written")
}

/// Runs the handler, then fails with the status named by the request's
/// `x-fail` header, as an authorization or audit middleware might.
async fn fail_after(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let status: u16 = req
        .headers()
        .get("x-fail")
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    next.call(req).await?;
    Err(error::InternalError::new(
        "failed after the handler",
        StatusCode::from_u16(status).unwrap(),
    )
    .into())
}

/// What the client receives: an `Err` of the app becomes its
/// `error_response()`, as actix-web's dispatcher does.
async fn send(req: test::TestRequest) -> HttpResponse<BoxBody> {
    let app = test::init_service(
        App::new()
            .service(
                web::scope("/inner")
                    .wrap(from_fn(fail_after))
                    .route("/write", web::post().to(write)),
            )
            .route("/fail/{status}", web::post().to(write_then_fail))
            .wrap(SessionMiddleware::new(SessionManager::new(
                MemoryStore::new(),
            ))),
    )
    .await;
    match test::try_call_service(&app, req.to_request()).await {
        Ok(response) => response.into_parts().1.map_into_boxed_body(),
        Err(error) => error.error_response(),
    }
}

fn session_cookie(response: &HttpResponse<BoxBody>) -> Option<String> {
    let cookies: Vec<_> = response.headers().get_all(SET_COOKIE).collect();
    assert!(cookies.len() <= 1, "{cookies:?}");
    cookies.first().map(|v| v.to_str().unwrap().to_owned())
}

#[actix_web::test]
async fn an_error_below_500_keeps_the_session_write() {
    let response = send(test::TestRequest::post().uri("/fail/409")).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let cookie = session_cookie(&response).expect("the session cookie is set on a 409");
    assert!(cookie.starts_with("sessionid="), "{cookie}");
    let vary: Vec<_> = response.headers().get_all(VARY).collect();
    assert_eq!(vary, ["Cookie"]);
}

#[actix_web::test]
async fn an_error_of_500_saves_nothing() {
    let response = send(test::TestRequest::post().uri("/fail/500")).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(session_cookie(&response), None);
}

#[actix_web::test]
async fn an_inner_middlewares_error_below_500_keeps_the_session_write() {
    let request = test::TestRequest::post()
        .uri("/inner/write")
        .insert_header(("x-fail", "403"));
    let response = send(request).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let cookie = session_cookie(&response).expect("the session cookie is set on the error");
    assert!(cookie.starts_with("sessionid="), "{cookie}");
    let vary: Vec<_> = response.headers().get_all(VARY).collect();
    assert_eq!(vary, ["Cookie"]);
    let body = actix_web::body::to_bytes(response.into_body())
        .await
        .unwrap();
    assert_eq!(body, "failed after the handler");
}

#[actix_web::test]
async fn an_inner_middlewares_error_of_500_saves_nothing() {
    let request = test::TestRequest::post()
        .uri("/inner/write")
        .insert_header(("x-fail", "502"));
    let response = send(request).await;
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(session_cookie(&response), None);
}

#[actix_web::test]
async fn the_extractor_without_the_middleware_answers_500_saying_why() {
    let app = test::init_service(App::new().route("/", web::post().to(write))).await;
    let response = test::call_service(&app, test::TestRequest::post().to_request()).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(response.headers().get(SET_COOKIE).is_none());
    let body = test::read_body(response).await;
    assert_eq!(
        body,
        "session unavailable: SessionMiddleware is not installed on this route"
    );
}
