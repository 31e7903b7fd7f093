use rivven_connect::prelude::*;

#[derive(Deserialize, Validate, JsonSchema, SourceConfig)]
#[source(name = "my-source", allow_unknown_fields = "yes")]
pub struct MySourceConfig {}

fn main() {}
