//! The client's checked-in metadata must be the runtime's metadata.

#[test]
fn metadata_matches_runtime() {
	let runtime = tessera_runtime::Runtime::metadata_at_version(15).expect("runtime has metadata v15");
	let runtime: &[u8] = &runtime;
	if std::env::var_os("TESSERA_BLESS").is_some() {
		let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../client/metadata.scale");
		std::fs::write(path, runtime).unwrap();
		return;
	}
	assert!(
		runtime == tessera_client::METADATA,
		"client/metadata.scale is stale: run `tessera-node export-metadata --out client/metadata.scale` \
		 (or this test with TESSERA_BLESS=1) and rebuild"
	);
}
