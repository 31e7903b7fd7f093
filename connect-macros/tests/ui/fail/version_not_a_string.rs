use rivven_connect::prelude::*;

#[derive(Deserialize, Validate, JsonSchema, SinkConfig)]
#[sink(version = 1.0)]
pub struct MyConfig {}

fn main() {}
