use rivven_connect::prelude::*;
use futures::stream::BoxStream;

#[derive(Deserialize, Validate, JsonSchema, SourceConfig)]
#[source(connector = MySource)]
pub struct MyConfig {}

#[derive(Deserialize, Validate, JsonSchema, SourceConfig)]
pub struct OtherConfig {}

#[derive(Default)]
pub struct MySource;

#[async_trait]
impl Source for MySource {
    type Config = OtherConfig;
    fn spec() -> ConnectorSpec {
        OtherConfigSpec::spec()
    }
    async fn check(&self, _: &OtherConfig) -> Result<CheckResult> {
        Ok(CheckResult::success())
    }
    async fn discover(&self, _: &OtherConfig) -> Result<Catalog> {
        Ok(Catalog::default())
    }
    async fn read(&self, _: &OtherConfig, _: &ConfiguredCatalog, _: Option<State>) -> Result<BoxStream<'static, Result<SourceEvent>>> {
        Ok(Box::pin(futures::stream::empty()))
    }
}

fn main() {}
