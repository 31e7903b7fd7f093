use rivven_connect::prelude::*;
use futures::stream::BoxStream;

#[derive(Deserialize, Validate, JsonSchema, SourceConfig)]
#[source(connector = MySource)]
pub struct MyConfig {}

pub struct MySource {
    pub client: String,
}

#[async_trait]
impl Source for MySource {
    type Config = MyConfig;
    fn spec() -> ConnectorSpec {
        MyConfigSpec::spec()
    }
    async fn check(&self, _: &MyConfig) -> Result<CheckResult> {
        Ok(CheckResult::success())
    }
    async fn discover(&self, _: &MyConfig) -> Result<Catalog> {
        Ok(Catalog::default())
    }
    async fn read(&self, _: &MyConfig, _: &ConfiguredCatalog, _: Option<State>) -> Result<BoxStream<'static, Result<SourceEvent>>> {
        Ok(Box::pin(futures::stream::empty()))
    }
}

fn main() {}
