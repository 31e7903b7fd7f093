use rivven_connect::prelude::*;

#[derive(Deserialize, Validate, JsonSchema, SinkConfig)]
#[sink(batching, batch_size = 0)]
pub struct MySinkConfig {}

fn main() {}
