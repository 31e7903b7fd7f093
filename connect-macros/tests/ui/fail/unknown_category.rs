use rivven_connect::prelude::*;

#[derive(Deserialize, Validate, JsonSchema, SourceConfig)]
#[source(category = "databases")]
pub struct MyConfig {}

fn main() {}
