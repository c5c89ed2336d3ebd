//! The OWASP Core Rule Set, evaluated natively: a SecLang engine for the request phases.

pub mod injection;
pub mod transform;
pub mod validate;
