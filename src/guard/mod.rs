//! Request guards: CSRF, security headers, the voter cookie.

pub mod csrf;
pub mod headers;
pub mod voter;
