//! Request guards: CSRF, security headers, the voter cookie.

pub mod client;
pub mod csrf;
pub mod head;
pub mod headers;
pub mod hosts;
pub mod limits;
pub mod voter;
