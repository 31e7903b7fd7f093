//! Feature-gated connectors.
