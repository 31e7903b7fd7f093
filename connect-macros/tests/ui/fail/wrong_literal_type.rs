use rivven_connect::prelude::*;

#[derive(Deserialize, Validate, JsonSchema, SourceConfig)]
#[source(name = 42)]
pub struct MyConfig {}

fn main() {}
