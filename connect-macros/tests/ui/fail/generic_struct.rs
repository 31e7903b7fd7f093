use rivven_connect::prelude::*;

#[derive(Deserialize, Validate, JsonSchema, SourceConfig)]
pub struct MyConfig<T> {
    pub value: T,
}

fn main() {}
