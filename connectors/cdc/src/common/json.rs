//! JSON documents a database hands over as text (PostgreSQL `json`/`jsonb`,
//! MariaDB's `JSON`): see [`rivven_connect::util::json`], shared with the
//! other families (message payloads are JSON documents given as text too).

pub use rivven_connect::util::json::decode_json;
