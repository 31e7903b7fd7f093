use rivven_connect::prelude::*;

#[derive(Deserialize, JsonSchema, SourceConfig)]
pub enum Mode {
    Fast,
    Slow,
}

fn main() {}
