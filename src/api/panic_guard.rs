//! A 500 instead of a dropped connection when a handler panics.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;

use actix_web::{Handler, Responder};
use futures_util::FutureExt as _;

use super::problem::ApiError;

/// Wraps `handler` so that a panic while it runs (in a signer, say) becomes a generic 500
/// problem: the worker thread and its other connections go on serving. The panic itself is
/// logged by the hook that `serve` installs, the 500 by the request summary.
///
/// This relies on panics unwinding: a `panic = "abort"` profile would end the process
/// instead. The guard sits around the handler rather than in the app-wide middleware because
/// actix-web needs sole ownership of the request while it routes, so a middleware cannot keep
/// a copy of the request to answer with after a panic.
pub fn guarded<H>(handler: H) -> Guarded<H> {
    Guarded(handler)
}

/// A handler wrapped by [`guarded`].
#[derive(Clone)]
pub struct Guarded<H>(H);

impl<H, Args> Handler<Args> for Guarded<H>
where
    H: Handler<Args>,
    H::Future: 'static,
    H::Output: Responder,
{
    type Output = Result<H::Output, ApiError>;
    type Future = Pin<Box<dyn Future<Output = Self::Output>>>;

    fn call(&self, args: Args) -> Self::Future {
        let running = AssertUnwindSafe(self.0.call(args)).catch_unwind();
        Box::pin(running.map(|outcome| {
            outcome.map_err(|_panic| {
                ApiError::internal(anyhow::anyhow!("the request handler panicked"))
            })
        }))
    }
}
