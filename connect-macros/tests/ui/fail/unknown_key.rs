use rivven_connect::prelude::*;

#[derive(Deserialize, Validate, JsonSchema, SourceConfig)]
#[source(nmae = "typo")]
pub struct MyConfig {}

fn main() {}
