//! The Azure provider (feature `azure`) against a private Azurite: requests
//! signed with the account key, objects read back by Python's
//! `azure-storage-blob`, a multipart (block list) upload bigger than the
//! part size, the source reading back, and a refused key failing `check`.

use std::process::Command;

use rivven_connect::runtime::PipelineState;
use rivven_connect::{Sink, SinkConfig};
use rivven_connect_storage::compression::Compression;
use rivven_connect_storage::format::Format;
use rivven_connect_storage::object_storage::{
    ObjectStorageSink, ObjectStorageSinkConfig, ObjectStorageSource, ObjectStorageSourceConfig,
};
use rivven_connect_testing::prelude::*;
use rivven_connect_testing::services::{
    test_python, Azurite, AZURITE_ACCOUNT, AZURITE_ACCOUNT_KEY,
};
use serde_json::{json, Value};

use crate::support::{assert_exactly, read_back, run_orders, run_source, settings, sizes};

/// Runs `code` with azure-storage-blob (`service` is a BlobServiceClient).
fn azure_py(azurite: &Azurite, code: &str) -> String {
    let python = test_python(&["azure.storage.blob"]).unwrap();
    let script = format!(
        "import json, os\nfrom azure.storage.blob import BlobServiceClient\n\
         service = BlobServiceClient.from_connection_string(os.environ['AZURE_STORAGE_CONNECTION_STRING'])\n{code}"
    );
    let out = Command::new(python)
        .args(["-c", &script])
        .envs(env(azurite))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn env(azurite: &Azurite) -> Vec<(String, String)> {
    vec![(
        "AZURE_STORAGE_CONNECTION_STRING".into(),
        azurite.connection_string(),
    )]
}

fn azure(azurite: &Azurite, container: &str, key: &str) -> Value {
    json!({
        "provider": "azure",
        "bucket": container,
        "prefix": "cdc/orders",
        "azure": {
            "account": AZURITE_ACCOUNT,
            "access_key": key,
            "endpoint": azurite.endpoint(),
        }
    })
}

fn config(azurite: &Azurite, container: &str) -> ObjectStorageSinkConfig {
    ObjectStorageSinkConfig::from_value(azure(azurite, container, AZURITE_ACCOUNT_KEY)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_objects_on_azurite_read_back_by_the_azure_sdk_and_the_source() {
    let azurite = Azurite::start().await.unwrap();
    azure_py(&azurite, "service.create_container('lake')");
    let sink = ObjectStorageSinkConfig {
        format: Format::Csv,
        compression: Compression::Zstd,
        batch_size: 400,
        ..config(&azurite, "lake")
    };
    let check = ObjectStorageSink::new().check(&sink).await.unwrap();
    assert!(check.is_success(), "{check:?}");
    let (p, _) = run_orders(sink, 1_000).await;
    assert_eq!(p.state, PipelineState::Completed, "{p:?}");
    let seen = read_back(&["azure", "lake", "cdc/orders/"], &env(&azurite));
    assert_eq!(sizes(&seen), [400, 400, 200]);
    assert_exactly(&seen, 1_000);
    assert!(seen["objects"][0]["name"]
        .as_str()
        .unwrap()
        .ends_with(".csv.zst"));

    // The source lists the container and reads every event back, in order.
    let mut source = azure(&azurite, "lake", AZURITE_ACCOUNT_KEY);
    source["prefix"] = json!("cdc/orders/");
    let source = ObjectStorageSourceConfig::from_value(source).unwrap();
    let harness = TestHarness::with_configs(
        ObjectStorageSource,
        source,
        MockSink::new(),
        MockConfig::default(),
    );
    let r = harness.run_pipeline().await.unwrap();
    assert!(r.success, "{r:?}");
    let ids: Vec<u64> = harness
        .sink()
        .written_events()
        .iter()
        .filter_map(|e| e.data["id"].as_u64())
        .collect();
    assert_eq!(ids, (0..1_000).collect::<Vec<u64>>());
}

/// An object of ~12 MiB with 5 MiB parts goes up as blocks and one block
/// list; the SDK sees one whole blob made of three committed blocks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn big_objects_go_up_as_block_lists() {
    let azurite = Azurite::start().await.unwrap();
    azure_py(&azurite, "service.create_container('big')");
    let sink = ObjectStorageSinkConfig {
        format: Format::Jsonl,
        batch_size: 1_000_000,
        multipart_threshold_bytes: 5 << 20,
        part_size_bytes: 5 << 20,
        ..config(&azurite, "big")
    };
    let n = 6_000;
    let source = crate::support::padded_events(n);
    let (p, _) = run_source(source, sink, settings()).await;
    assert_eq!(p.state, PipelineState::Completed, "{p:?}");
    let blobs = azure_py(
        &azurite,
        "c = service.get_container_client('big')\n\
         out = []\n\
         for b in c.list_blobs():\n\
         \x20   committed, _ = c.get_blob_client(b.name).get_block_list('all')\n\
         \x20   out.append([b.size, len(committed)])\n\
         print(json.dumps(out))",
    );
    let blobs: Value = serde_json::from_str(&blobs).unwrap();
    assert_eq!(blobs.as_array().unwrap().len(), 1, "{blobs}");
    assert!(blobs[0][0].as_u64().unwrap() > 10 << 20, "{blobs}");
    assert_eq!(blobs[0][1], json!(3), "{blobs}");
    let seen = read_back(&["azure", "big", ""], &env(&azurite));
    assert_exactly(&seen, n);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_or_a_missing_container_fails_check_in_one_line() {
    let azurite = Azurite::start().await.unwrap();
    azure_py(&azurite, "service.create_container('lake')");
    // A valid base64 key of the right length that is not the account's.
    let wrong = AZURITE_ACCOUNT_KEY.replace('E', "F");
    for (config, what) in [
        (azure(&azurite, "lake", &wrong), "wrong key"),
        (
            azure(&azurite, "absent", AZURITE_ACCOUNT_KEY),
            "missing container",
        ),
    ] {
        let config = ObjectStorageSinkConfig::from_value(config).unwrap();
        let check = ObjectStorageSink::new().check(&config).await.unwrap();
        assert!(!check.is_success(), "{what}: {check:?}");
        let message = check.message.unwrap_or_default();
        assert!(
            !message.is_empty() && !message.contains('\n'),
            "{what}: {message}"
        );
        assert!(
            !message.contains(&wrong) && !message.contains(AZURITE_ACCOUNT_KEY),
            "{what}: {message}"
        );
    }
}
