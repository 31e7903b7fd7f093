use rivven_connect::prelude::*;

#[derive(Validate, JsonSchema, SinkConfig)]
pub struct MyConfig {
    pub endpoint: String,
}

fn main() {}
