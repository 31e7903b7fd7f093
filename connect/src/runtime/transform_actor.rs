//! A transform actor: applies one transform to every event of each batch, in order.

use ractor::{Actor, ActorProcessingErr, ActorRef};
use std::sync::Arc;

use super::any::AnyTransform;
use super::messages::{DataMsg, DeadLetter, StageError};
use super::pipeline::Named;
use super::settings::OnError;
use super::stats::PipelineStats;
use crate::connector::TransformOutput;

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
        let keep_original = st.on_error == OnError::DeadLetter;
        let input = std::mem::take(&mut batch.events);
        let mut output = Vec::with_capacity(input.len());
        let mut dropped = 0u64;
        for event in input {
            let original = keep_original.then(|| event.clone());
            match st.transform.inner.transform(event).await {
                Ok(TransformOutput::Drop) => dropped += 1,
                Ok(out) => out.extend_into(&mut output),
                Err(err) => match st.on_error {
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
                },
            }
        }
        PipelineStats::add(&st.stats.dropped, dropped);
        batch.events = output;
        let _ = st.next.send_message(DataMsg::Batch(batch));
        Ok(())
    }
}
