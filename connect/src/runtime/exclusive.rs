//! One writer per target, one reader per upstream cursor.
//!
//! Two sinks writing one file tear each other's lines; two sources reading one
//! replication slot confirm it past each other's changes. Both lose data while
//! every pipeline reports success, so a runtime refuses to start pipelines that
//! would share an exclusive resource ([`Source::exclusive_resource`],
//! [`Sink::exclusive_resource`]), naming both users. The configuration loader
//! runs the same check so that `validate` reports it with the YAML location.
//!
//! [`Source::exclusive_resource`]: crate::connector::Source::exclusive_resource
//! [`Sink::exclusive_resource`]: crate::connector::Sink::exclusive_resource

use std::collections::HashMap;
use std::fmt;

use super::pipeline::Pipeline;

/// How a pipeline uses a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Source,
    Sink,
    DeadLetter,
}

impl Role {
    /// The configuration section the connector is defined in.
    pub(crate) fn section(self) -> &'static str {
        match self {
            Role::Source => "sources",
            Role::Sink | Role::DeadLetter => "sinks",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Role::Source => "source",
            Role::Sink => "sink",
            Role::DeadLetter => "dead-letter sink",
        }
    }

    fn reads(self) -> bool {
        self == Role::Source
    }
}

/// One pipeline's use of an exclusive resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Claim {
    pub(crate) pipeline: String,
    pub(crate) role: Role,
    /// The stage's name (the connector's name in the configuration).
    pub(crate) name: String,
}

impl fmt::Display for Claim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} `{}` of pipeline `{}`",
            self.role.label(),
            self.name,
            self.pipeline
        )
    }
}

/// Two claims on one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Conflict {
    pub(crate) resource: String,
    pub(crate) first: Claim,
    pub(crate) second: Claim,
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (verb, rule) = if self.first.role.reads() {
            (
                "read",
                "a cursor has one reader: read it in one pipeline (or give each its own slot/cursor)",
            )
        } else {
            (
                "write",
                "a target has one writer: give each sink its own target (or write through one pipeline)",
            )
        };
        write!(
            f,
            "{} and {} both {verb} `{}`; {rule}",
            self.first, self.second, self.resource
        )
    }
}

/// Every pair of pipelines (or stages of one pipeline) that would share an
/// exclusive resource, in pipeline order. A sink used as the main sink of one
/// pipeline and as the dead-letter sink of another counts too.
pub(crate) fn conflicts<'a>(pipelines: impl IntoIterator<Item = &'a Pipeline>) -> Vec<Conflict> {
    let mut owners: HashMap<String, Claim> = HashMap::new();
    let mut out = Vec::new();
    for p in pipelines {
        let claims = [
            (
                Role::Source,
                &p.source.name,
                p.source.inner.exclusive_resource(),
            ),
            (Role::Sink, &p.sink.name, p.sink.inner.exclusive_resource()),
        ]
        .into_iter()
        .chain(
            p.dead_letter
                .iter()
                .map(|d| (Role::DeadLetter, &d.name, d.inner.exclusive_resource())),
        );
        for (role, name, resource) in claims {
            let Some(resource) = resource else { continue };
            let claim = Claim {
                pipeline: p.name.clone(),
                role,
                name: name.clone(),
            };
            match owners.get(&resource) {
                Some(first) => out.push(Conflict {
                    resource,
                    first: first.clone(),
                    second: claim,
                }),
                None => {
                    owners.insert(resource, claim);
                }
            }
        }
    }
    out
}

/// Two pipelines whose state would share one offset-store key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SharedOffsets {
    pub(crate) key: String,
    pub(crate) first: String,
    pub(crate) second: String,
}

impl fmt::Display for SharedOffsets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "pipelines `{}` and `{}` would keep their offsets in one place (`{}`): rename one of them",
            self.first, self.second, self.key
        )
    }
}

/// Every pair of pipelines whose offsets `store` would keep under one key.
pub(crate) fn shared_offsets<'a>(
    store: &dyn super::offset_store::OffsetStore,
    pipelines: impl IntoIterator<Item = &'a Pipeline>,
) -> Vec<SharedOffsets> {
    let mut owners: HashMap<String, &str> = HashMap::new();
    let mut out = Vec::new();
    for p in pipelines {
        let key = store.storage_key(&p.name);
        match owners.get(&key) {
            Some(first) => out.push(SharedOffsets {
                key,
                first: (*first).to_string(),
                second: p.name.clone(),
            }),
            None => {
                owners.insert(key, &p.name);
            }
        }
    }
    out
}
