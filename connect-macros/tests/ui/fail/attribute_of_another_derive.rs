use rivven_connect::prelude::*;

#[derive(Deserialize, Validate, JsonSchema, SourceConfig)]
#[sink(name = "my-sink")]
pub struct MyConfig {}

fn main() {}
