//! Answers for unknown paths (404) and known paths with another method (405).

use actix_web::{HttpRequest, Route, web};

use super::problem::{ApiError, ProblemType};

/// The answer for any path the API does not have.
pub async fn not_found(request: HttpRequest) -> Result<&'static str, ApiError> {
    Err(ApiError::new(
        ProblemType::NotFound,
        format!("there is nothing at {}", request.path()),
    ))
}

/// A route that answers 405 and names the `allow`ed methods.
pub fn method_not_allowed(allow: &'static str) -> Route {
    web::to(move |request: HttpRequest| async move {
        Err::<&'static str, _>(ApiError::method_not_allowed(
            request.method().as_str(),
            request.path(),
            allow,
        ))
    })
}
