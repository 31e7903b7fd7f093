//! The sink's topic: look it up, create it (`auto_create`) or refuse
//! (`require_topic_exists`), and compare an existing one with the
//! configuration (`validate_existing`).

use rivven_client::Client;
use rivven_connect::{ConnectorError, Result};

use super::connection::client_error;

/// What the sink's configuration says about its topic.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TopicPolicy<'a> {
    pub topic: &'a str,
    pub partitions: u32,
    pub auto_create: bool,
    pub require_topic_exists: bool,
    pub validate_existing: bool,
}

/// The topic as found (or made).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TopicState {
    /// Its partition count.
    pub partitions: u32,
    /// Whether it was created now.
    pub created: bool,
    /// The `validate_existing` mismatch, if any.
    pub mismatch: Option<String>,
}

/// The partition count of `topic`, `None` if it does not exist.
pub(crate) async fn describe(client: &mut Client, topic: &str) -> Result<Option<u32>> {
    // Existence by listing, not by the wording of GetMetadata's error.
    let topics = client.list_topics().await.map_err(client_error)?;
    if !topics.iter().any(|t| t == topic) {
        return Ok(None);
    }
    let (_, partitions) = client.get_metadata(topic).await.map_err(client_error)?;
    Ok(Some(partitions))
}

impl TopicPolicy<'_> {
    /// Find the topic; create it if the policy allows (`create`), else say
    /// what is wrong.
    pub(crate) async fn apply(&self, client: &mut Client, create: bool) -> Result<TopicState> {
        if let Some(partitions) = describe(client, self.topic).await? {
            return Ok(self.existing(partitions));
        }
        if self.require_topic_exists || !self.auto_create {
            let why = if self.require_topic_exists {
                "require_topic_exists"
            } else {
                "auto_create is off"
            };
            return Err(ConnectorError::config(format!(
                "topic `{}` does not exist on the broker ({why}): create it first",
                self.topic
            )));
        }
        if !create {
            return Ok(TopicState {
                partitions: self.partitions,
                created: false,
                mismatch: None,
            });
        }
        match client.create_topic(self.topic, Some(self.partitions)).await {
            Ok(partitions) => {
                tracing::info!(topic = self.topic, partitions, "created the topic");
                Ok(TopicState {
                    partitions,
                    created: true,
                    mismatch: None,
                })
            }
            // Another producer may have created it meanwhile.
            Err(e) => match describe(client, self.topic).await? {
                Some(partitions) => Ok(self.existing(partitions)),
                None => Err(client_error(e).context(format!("create topic `{}`", self.topic))),
            },
        }
    }

    fn existing(&self, partitions: u32) -> TopicState {
        let mismatch = (self.validate_existing && partitions != self.partitions).then(|| {
            format!(
                "warning: topic `{}` exists with {partitions} partition(s) but the configuration \
                 says partitions: {} (validate_existing); the existing topic is used unchanged",
                self.topic, self.partitions
            )
        });
        if let Some(warning) = &mismatch {
            tracing::warn!(
                topic = self.topic,
                existing = partitions,
                configured = self.partitions,
                "{warning}"
            );
        }
        TopicState {
            partitions,
            created: false,
            mismatch,
        }
    }
}
