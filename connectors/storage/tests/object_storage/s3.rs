//! The S3 provider against a private moto server: SigV4-signed requests,
//! objects read back by boto3, multipart uploads bigger than the part size,
//! and an aborted upload that leaves nothing visible.

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, UploadPart,
};
use rivven_connect::runtime::PipelineState;
use rivven_connect_storage::compression::Compression;
use rivven_connect_storage::format::Format;
use rivven_connect_storage::object_storage::{open_store, put_object, ObjectStorageSinkConfig};
use rivven_connect_testing::prelude::*;
use rivven_connect_testing::services::{
    test_python, Moto, MOTO_ACCESS_KEY_ID, MOTO_SECRET_ACCESS_KEY,
};
use serde_json::{json, Value};

use crate::support::{assert_exactly, read_back, run_orders, settings, sizes};

/// Runs `code` with boto3 against `moto` (`s3` is the client); prints its stdout.
pub fn boto3(moto: &Moto, code: &str) -> String {
    let python = test_python(&["boto3"]).unwrap();
    let script = format!("import boto3, json\ns3 = boto3.client('s3')\n{code}");
    let out = Command::new(python)
        .args(["-c", &script])
        .envs(moto.boto3_env())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn config(moto: &Moto, bucket: &str) -> ObjectStorageSinkConfig {
    ObjectStorageSinkConfig::from_value(json!({
        "provider": "s3",
        "bucket": bucket,
        "prefix": "cdc/orders",
        "s3": {
            "endpoint": moto.endpoint(),
            "force_path_style": true,
            "region": "us-east-1",
            "access_key_id": MOTO_ACCESS_KEY_ID,
            "secret_access_key": MOTO_SECRET_ACCESS_KEY,
        }
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_objects_on_s3_read_back_with_boto3() {
    let moto = Moto::start().await.unwrap();
    boto3(&moto, "s3.create_bucket(Bucket='lake')");
    let config = ObjectStorageSinkConfig {
        format: Format::Jsonl,
        compression: Compression::Gzip,
        batch_size: 400,
        ..config(&moto, "lake")
    };
    let (p, _) = run_orders(config, 1_000).await;
    assert_eq!(p.state, PipelineState::Completed, "{p:?}");
    let seen = read_back(&["s3", "lake", "cdc/orders/"], &moto.boto3_env());
    assert_eq!(sizes(&seen), [400, 400, 200]);
    assert_exactly(&seen, 1_000);
    assert!(seen["objects"][0]["name"]
        .as_str()
        .unwrap()
        .ends_with(".jsonl.gz"));
    // The requests were signed (SigV4 `Authorization` headers reach moto).
    let log = std::fs::read_to_string(moto.log_path()).unwrap_or_default();
    assert!(log.contains("PUT /lake/cdc/orders/part-"), "{log}");
}

/// An object of ~12 MiB with 5 MiB parts goes up as a three-part multipart
/// upload; boto3 sees one whole object (multipart ETag `…-3`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn big_objects_go_up_as_multipart_uploads() {
    let moto = Moto::start().await.unwrap();
    boto3(&moto, "s3.create_bucket(Bucket='big')");
    let config = ObjectStorageSinkConfig {
        format: Format::Jsonl,
        batch_size: 1_000_000,
        multipart_threshold_bytes: 5 << 20,
        part_size_bytes: 5 << 20,
        ..config(&moto, "big")
    };
    let n = 6_000;
    let source = crate::support::padded_events(n);
    let (p, _) = crate::support::run_source(source, config, settings()).await;
    assert_eq!(p.state, PipelineState::Completed, "{p:?}");
    let etags = boto3(
        &moto,
        "r = s3.list_objects_v2(Bucket='big')\n\
         print(json.dumps([[o['Size'], s3.head_object(Bucket='big', Key=o['Key'])['ETag']] for o in r['Contents']]))",
    );
    let etags: Value = serde_json::from_str(&etags).unwrap();
    assert_eq!(etags.as_array().unwrap().len(), 1, "{etags}");
    assert!(etags[0][0].as_u64().unwrap() > 10 << 20, "{etags}");
    assert!(etags[0][1].as_str().unwrap().ends_with("-3\""), "{etags}");
    let seen = read_back(&["s3", "big", ""], &moto.boto3_env());
    assert_exactly(&seen, n);
}

/// A store that fails the second part of every multipart upload.
#[derive(Debug)]
struct FailingSecondPart(Arc<dyn ObjectStore>);

impl std::fmt::Display for FailingSecondPart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FailingSecondPart({})", self.0)
    }
}

#[derive(Debug)]
struct FailingUpload {
    inner: Box<dyn MultipartUpload>,
    parts: AtomicUsize,
}

#[async_trait]
impl MultipartUpload for FailingUpload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        if self.parts.fetch_add(1, Ordering::SeqCst) == 1 {
            return Box::pin(async {
                Err(object_store::Error::Generic {
                    store: "test",
                    source: "injected part failure".into(),
                })
            });
        }
        self.inner.put_part(data)
    }
    async fn complete(&mut self) -> object_store::Result<PutResult> {
        self.inner.complete().await
    }
    async fn abort(&mut self) -> object_store::Result<()> {
        self.inner.abort().await
    }
}

#[async_trait]
impl ObjectStore for FailingSecondPart {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        self.0.put_opts(location, payload, opts).await
    }
    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        let inner = self.0.put_multipart_opts(location, opts).await?;
        Ok(Box::new(FailingUpload {
            inner,
            parts: AtomicUsize::new(0),
        }))
    }
    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.0.get_opts(location, options).await
    }
    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        self.0.delete_stream(locations)
    }
    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.0.list(prefix)
    }
    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.0.list_with_delimiter(prefix).await
    }
    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.0.copy_opts(from, to, options).await
    }
}

/// A part fails: the upload is aborted, nothing is visible under the name
/// and no unfinished upload is left behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_multipart_upload_is_aborted_and_leaves_nothing_visible() {
    let moto = Moto::start().await.unwrap();
    boto3(&moto, "s3.create_bucket(Bucket='abort')");
    let config = ObjectStorageSinkConfig {
        multipart_threshold_bytes: 5 << 20,
        part_size_bytes: 5 << 20,
        ..config(&moto, "abort")
    };
    let store = FailingSecondPart(open_store(&config).unwrap());
    let body = Bytes::from(vec![b'x'; 12 << 20]);
    let err = put_object(&store, &Path::from("cdc/orders/torn.jsonl"), body, &config)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("injected part failure"), "{err}");
    assert!(err.is_retryable());
    let left = boto3(
        &moto,
        "print(json.dumps([s3.list_objects_v2(Bucket='abort').get('KeyCount', 0), \
         len(s3.list_multipart_uploads(Bucket='abort').get('Uploads', []))]))",
    );
    assert_eq!(left, "[0, 0]");
}
