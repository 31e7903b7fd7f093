use rivven_connect::prelude::*;

#[derive(Debug, Deserialize, Validate, JsonSchema, SourceConfig)]
#[source(name = "my-source", aliases = ["other"])]
pub struct MyConfig {}

fn main() {}
