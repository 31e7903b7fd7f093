use rivven_connect::prelude::*;

#[derive(Deserialize, JsonSchema, SinkConfig)]
pub struct MyConfig;

fn main() {}
