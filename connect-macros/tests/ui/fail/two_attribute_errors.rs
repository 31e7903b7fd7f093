use rivven_connect::prelude::*;

#[derive(Debug, Deserialize, Validate, JsonSchema, SourceConfig)]
#[source(nmae = "typo", category = "nope", version = "1.0.0")]
#[transform(name = "other")]
pub struct MyConfig {}

fn main() {
    let _ = MyConfigSpec::spec();
}
