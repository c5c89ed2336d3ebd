//! The live daemon's control plane: the metrics and health endpoint.

pub mod http;
