use rivven_connect::prelude::*;

#[derive(Deserialize, Validate, JsonSchema, SinkConfig)]
#[sink(name = "my-sink", incremental)]
pub struct MySinkConfig {}

fn main() {}
