use rivven_connect::prelude::*;

#[derive(Deserialize, Validate, JsonSchema, SourceConfig)]
#[source(name = "my-source", batching)]
pub struct MySourceConfig {}

fn main() {}
