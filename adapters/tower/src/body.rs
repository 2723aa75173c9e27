//! The response body of [`SessionService`](crate::SessionService): the
//! inner service's own, or the short message of a session error.

use std::pin::Pin;
use std::task::{Context, Poll};

use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

pin_project! {
    /// The body of every response [`SessionService`](crate::SessionService)
    /// returns: the inner service's body untouched, or, when `finish`
    /// failed, the error's
    /// [`public_message`](session_core::Error::public_message) as one data
    /// frame. It has the inner body's `Data` and `Error` types, so axum,
    /// hyper and tonic take it wherever they take the inner body.
    #[derive(Debug)]
    pub struct SessionBody<B> {
        #[pin]
        kind: Kind<B>,
    }
}

pin_project! {
    #[project = KindProj]
    #[derive(Debug)]
    enum Kind<B> {
        Inner { #[pin] body: B },
        Message { message: Option<&'static str> },
    }
}

impl<B> SessionBody<B> {
    /// The inner service's body, passed through.
    pub(crate) fn inner(body: B) -> Self {
        SessionBody {
            kind: Kind::Inner { body },
        }
    }

    /// A body of `message` alone.
    pub(crate) fn message(message: &'static str) -> Self {
        SessionBody {
            kind: Kind::Message {
                message: Some(message),
            },
        }
    }
}

impl<B> Body for SessionBody<B>
where
    B: Body,
    B::Data: From<&'static str>,
{
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        match self.project().kind.project() {
            KindProj::Inner { body } => body.poll_frame(cx),
            KindProj::Message { message } => Poll::Ready(
                message
                    .take()
                    .map(|message| Ok(Frame::data(B::Data::from(message)))),
            ),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Inner { body } => body.is_end_stream(),
            Kind::Message { message } => message.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Inner { body } => body.size_hint(),
            Kind::Message { message } => {
                SizeHint::with_exact(message.map_or(0, |message| message.len() as u64))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use http_body_util::{BodyExt, Full};

    use super::*;

    #[tokio::test]
    async fn a_message_body_is_the_message_with_its_exact_length() {
        let body = SessionBody::<Full<Bytes>>::message("session error");
        assert_eq!(body.size_hint().exact(), Some(13));
        assert!(!body.is_end_stream());
        let bytes = body.collect().await.unwrap().to_bytes();
        assert_eq!(bytes, "session error");
    }

    #[tokio::test]
    async fn an_inner_body_passes_through_untouched() {
        let body = SessionBody::inner(Full::new(Bytes::from_static(b"hello")));
        assert_eq!(body.size_hint().exact(), Some(5));
        let bytes = body.collect().await.unwrap().to_bytes();
        assert_eq!(bytes, "hello");
    }
}
