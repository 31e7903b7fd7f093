use rivven_connect::prelude::*;

#[derive(Debug, Deserialize, Validate, JsonSchema, SinkConfig)]
#[sink(name = "my-sink", batch_sise = 10)]
pub struct MyConfig {}

fn main() {
    // Only the attribute error is reported: the spec type and the trait impl exist.
    let _ = MyConfigSpec::spec();
    let _ = (MyConfigSpec::NAME, MyConfigSpec::name(), MyConfigSpec::version());
    let _ = MyConfigSpec::batch_config();
    let _ = <MyConfig as SinkConfig>::config_schema();
}
