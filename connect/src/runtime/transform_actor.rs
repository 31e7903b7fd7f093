//! A transform actor: applies one transform to every event of each batch, in order
//! (one call per batch, see [`AnyTransform::transform_batch`]), and disposes of the
//! records it rejects by the pipeline's `on_error`. With `on_error: stop` the batch is
//! never acknowledged, so nothing past the rejected record is committed.

use ractor::{Actor, ActorProcessingErr, ActorRef};
use std::sync::Arc;

use super::any::AnyTransform;
use super::messages::{DataMsg, DeadLetter, StageError};
use super::pipeline::Named;
use super::settings::OnError;
use super::stats::PipelineStats;

pub(crate) struct TransformActor;

pub(crate) struct TransformArgs {
    pub(crate) pipeline: Arc<str>,
    pub(crate) transform: Named<dyn AnyTransform>,
    pub(crate) next: ActorRef<DataMsg>,
    pub(crate) on_error: OnError,
    pub(crate) stats: Arc<PipelineStats>,
}

impl Actor for TransformActor {
    type Msg = DataMsg;
    type State = TransformArgs;
    type Arguments = TransformArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<DataMsg>,
        args: TransformArgs,
    ) -> Result<TransformArgs, ActorProcessingErr> {
        Ok(args)
    }

    async fn handle(
        &self,
        _myself: ActorRef<DataMsg>,
        message: DataMsg,
        st: &mut TransformArgs,
    ) -> Result<(), ActorProcessingErr> {
        let mut batch = match message {
            DataMsg::Batch(batch) => batch,
            DataMsg::Eof { .. } => {
                let _ = st.next.send_message(message);
                return Ok(());
            }
            DataMsg::Linger(_) => return Ok(()),
        };
        let input = std::mem::take(&mut batch.events);
        let keep_originals = st.on_error == OnError::DeadLetter;
        let done = st
            .transform
            .inner
            .transform_batch(input, keep_originals)
            .await;
        for (err, original) in done.failures {
            match st.on_error {
                OnError::Skip => {
                    tracing::warn!(pipeline = %st.pipeline, transform = %st.transform.name, error = %err, "skipping a record the transform rejected");
                    PipelineStats::add(&st.stats.failed, 1);
                }
                OnError::DeadLetter => {
                    batch.dead.push(DeadLetter::new(
                        original,
                        &err,
                        "transform",
                        &st.transform.name,
                    ));
                }
                OnError::Stop => {
                    return Err(Box::new(StageError::stop(err.context(format!(
                        "pipeline `{}` stopped (on_error: stop) in transform `{}`",
                        st.pipeline, st.transform.name
                    )))));
                }
            }
        }
        PipelineStats::add(&st.stats.dropped, done.dropped);
        batch.events = done.events;
        let _ = st.next.send_message(DataMsg::Batch(batch));
        Ok(())
    }
}
