fn main() {
	#[cfg(feature = "std")]
	{
		// The target directory lives outside the checkout (see scripts/env.sh), so tell the
		// wasm builder where the workspace (and its Cargo.lock) is: the wasm runtime must
		// build with exactly the locked dependency versions. Read the manifest dir when the
		// script runs, not when it was compiled (`env!`): cargo reuses this compiled script
		// across checkouts at other paths that share the target directory.
		let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR for build scripts");
		let workspace = std::path::Path::new(&manifest).join("..");
		if std::env::var_os("WASM_BUILD_WORKSPACE_HINT").is_none() {
			std::env::set_var("WASM_BUILD_WORKSPACE_HINT", workspace);
		}
		substrate_wasm_builder::WasmBuilder::build_using_defaults();
	}
}
