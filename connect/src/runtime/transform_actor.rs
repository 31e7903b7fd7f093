//! A transform actor: applies one transform to every event of each batch, in order
//! (one call per batch, see [`AnyTransform::transform_batch`]), and disposes of the
//! records it rejects through the pipeline's [`Disposer`]. With `on_error: stop` the
//! batch is never acknowledged, so nothing past the rejected record is committed.

use ractor::{Actor, ActorProcessingErr, ActorRef};
use std::sync::Arc;

use super::any::AnyTransform;
use super::dispose::{Disposer, Stage};
use super::messages::DataMsg;
use super::pipeline::Named;
use super::stats::PipelineStats;

pub(crate) struct TransformActor;

pub(crate) struct TransformArgs {
    pub(crate) transform: Named<dyn AnyTransform>,
    pub(crate) next: ActorRef<DataMsg>,
    pub(crate) disposer: Disposer,
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
            DataMsg::Linger(_) | DataMsg::FlushHeld(_) => return Ok(()),
        };
        let input = std::mem::take(&mut batch.events);
        let done = st
            .transform
            .inner
            .transform_batch(input, st.disposer.keeps_originals())
            .await;
        for (err, original) in done.failures {
            st.disposer
                .reject(
                    Stage::Transform,
                    &st.transform.name,
                    err,
                    original,
                    None,
                    &mut batch.dead,
                )
                .into_result()
                // Boxed as the error itself: the supervisor downcasts it.
                .map_err(|stop| Box::new(stop) as ActorProcessingErr)?;
        }
        PipelineStats::add(&st.stats.dropped, done.dropped);
        batch.events = done.events;
        let _ = st.next.send_message(DataMsg::Batch(batch));
        Ok(())
    }
}
