//! `rivven-connect init`: a commented configuration that runs as-is.

/// The configuration `init` prints (also `examples/quickstart.yaml`).
pub(crate) const TEMPLATE: &str = include_str!("../../../examples/quickstart.yaml");
