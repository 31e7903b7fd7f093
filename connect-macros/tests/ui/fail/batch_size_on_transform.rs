use rivven_connect::prelude::*;

#[derive(Deserialize, Validate, JsonSchema, TransformConfig)]
#[transform(batch_size = 10)]
pub struct MyTransformConfig {}

fn main() {}
