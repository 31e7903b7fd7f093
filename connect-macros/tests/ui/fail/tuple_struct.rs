use rivven_connect::prelude::*;

#[derive(Deserialize, JsonSchema, SourceConfig)]
pub struct MyConfig(String);

fn main() {}
