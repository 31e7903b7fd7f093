use rivven_connect::prelude::*;

#[derive(Deserialize, Validate, JsonSchema, SourceConfig)]
#[source(name = "a", name = "b")]
pub struct MyConfig {}

fn main() {}
