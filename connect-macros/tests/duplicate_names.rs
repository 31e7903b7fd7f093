//! Two different connector types registered under one name: building the registry fails
//! and names both types. (Its own test binary: the clash would fail every other test.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use futures::stream::BoxStream;
use rivven_connect::prelude::*;
use rivven_connect::registry::Registry;

macro_rules! clashing_source {
    ($config:ident, $source:ident) => {
        #[derive(Debug, Deserialize, Validate, JsonSchema, SourceConfig)]
        #[source(name = "dup", connector = $source)]
        pub struct $config {}

        #[derive(Default)]
        pub struct $source;

        #[async_trait]
        impl Source for $source {
            type Config = $config;
            fn spec() -> ConnectorSpec {
                ConnectorSpec::builder("dup", "0.0.1").build()
            }
            async fn check(&self, _: &$config) -> Result<CheckResult> {
                Ok(CheckResult::success())
            }
            async fn discover(&self, _: &$config) -> Result<Catalog> {
                Ok(Catalog::default())
            }
            async fn read(
                &self,
                _: &$config,
                _: &ConfiguredCatalog,
                _: Option<State>,
            ) -> Result<BoxStream<'static, Result<SourceEvent>>> {
                Ok(Box::pin(futures::stream::empty()))
            }
        }
    };
}

clashing_source!(FirstConfig, FirstSource);
clashing_source!(SecondConfig, SecondSource);

#[test]
fn duplicate_names_are_reported_with_both_types() {
    let err = Registry::discovered().unwrap_err().to_string();
    assert!(err.contains("duplicate") && err.contains("`dup`"), "{err}");
    assert!(
        err.contains("FirstSource") && err.contains("SecondSource"),
        "{err}"
    );
}
