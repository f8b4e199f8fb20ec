fn main() {
	#[cfg(feature = "std")]
	{
		// The target directory lives outside the checkout (see scripts/env.sh), so tell the
		// wasm builder where the workspace (and its Cargo.lock) is: the wasm runtime must
		// build with exactly the locked dependency versions.
		let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
		if std::env::var_os("WASM_BUILD_WORKSPACE_HINT").is_none() {
			std::env::set_var("WASM_BUILD_WORKSPACE_HINT", workspace);
		}
		substrate_wasm_builder::WasmBuilder::build_using_defaults();
	}
}
