use rivven_connect::prelude::*;

#[derive(Deserialize, JsonSchema, TransformConfig)]
pub struct MyConfig {
    pub field: String,
}

fn main() {}
