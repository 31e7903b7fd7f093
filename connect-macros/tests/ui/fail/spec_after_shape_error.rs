use rivven_connect::prelude::*;

#[derive(Deserialize, JsonSchema, TransformConfig)]
pub struct MyConfig(String);

fn main() {
    // Only the shape error is reported: the spec type exists.
    let _ = MyConfigSpec::spec();
    let _ = MyConfigSpec::category();
}
