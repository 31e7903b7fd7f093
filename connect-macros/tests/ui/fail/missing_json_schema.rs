use rivven_connect::prelude::*;

#[derive(Deserialize, Validate, SourceConfig)]
pub struct MyConfig {
    pub endpoint: String,
}

fn main() {}
