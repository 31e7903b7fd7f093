use rivven_connect::prelude::*;

#[derive(Deserialize, Validate, JsonSchema, SourceConfig)]
#[source(name = "My Source")]
pub struct MyConfig {}

fn main() {}
