//! The validator's embedded database (redb): EMA scores, pending weight commits with
//! their salts, and retired evaluation windows. Every write is one committed transaction,
//! so a validator killed at any point resumes from a consistent state.

use std::{collections::BTreeMap, path::Path};

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::corpus::{Retired, Window};

/// uid -> hotkey (32 bytes) ++ EMA score (f64 little-endian).
const EMA: TableDefinition<u16, &[u8]> = TableDefinition::new("ema");
/// commit hash -> [`PendingCommit`] as JSON.
const COMMITS: TableDefinition<&[u8], &str> = TableDefinition::new("commits");
/// document hash -> retired byte ranges, (start, end) u64 little-endian pairs.
const RETIRED: TableDefinition<&[u8], &[u8]> = TableDefinition::new("retired");
/// miner hotkey ++ model hash -> [`FailedAudit`] as JSON: miners that failed an audit
/// with that model (weight 0 until they commit another model or leave).
const FAILED: TableDefinition<&[u8], &str> = TableDefinition::new("failed_audits");
/// Counters and settings.
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

/// Errors of the database.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
	/// redb failed (I/O, corruption, or the database is open in another process).
	#[error("database: {0}")]
	Db(#[from] redb::Error),
	/// Creating the database directory failed.
	#[error("{path}: {source}")]
	Io {
		/// The directory.
		path: String,
		/// The error.
		source: std::io::Error,
	},
	/// A stored record could not be decoded.
	#[error("database record: {0}")]
	Corrupt(String),
}

macro_rules! db_err {
	($($t:ty),*) => {$(
		impl From<$t> for StoreError {
			fn from(e: $t) -> Self {
				StoreError::Db(e.into())
			}
		}
	)*};
}
db_err!(redb::DatabaseError, redb::TransactionError, redb::TableError, redb::StorageError, redb::CommitError);

/// A miner that failed an audit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedAudit {
	/// Its uid then.
	pub uid: u16,
	/// Hash of the evidence (the `evidence_hash` of the fraud report), kept as a file
	/// next to the database.
	pub evidence_hash: [u8; 32],
	/// Whether `report_fraud` went through.
	pub reported: bool,
}

/// The EMA score of one uid, and the hotkey it was earned by (a uid that changes hands
/// starts again from zero).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EmaEntry {
	/// Hotkey holding the uid when it was scored.
	pub hotkey: [u8; 32],
	/// The smoothed score.
	pub score: f64,
}

/// A `commit_weights` whose reveal is still to come. Stored before the commit is
/// submitted, so the salt survives a crash at any point.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingCommit {
	/// The commit hash (BlakeTwo256 of SCALE(hotkey, netuid, uids, values, salt, version_key)).
	pub hash: [u8; 32],
	/// Subnet.
	pub netuid: u16,
	/// Weight destinations.
	pub uids: Vec<u16>,
	/// Weight values.
	pub values: Vec<u16>,
	/// The secret salt.
	pub salt: Vec<u16>,
	/// Version key.
	pub version_key: u64,
	/// Block of the finalized commit; `None` while it is being submitted.
	pub commit_block: Option<u64>,
	/// Epoch in which the commit must be revealed; `None` while it is being submitted.
	pub reveal_epoch: Option<u64>,
}

/// The database.
pub struct Store {
	db: Database,
}

impl std::fmt::Debug for Store {
	fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
		f.debug_struct("Store").finish_non_exhaustive()
	}
}

fn encode_ranges(ranges: &[(u64, u64)]) -> Vec<u8> {
	ranges.iter().flat_map(|(s, e)| s.to_le_bytes().into_iter().chain(e.to_le_bytes())).collect()
}

fn decode_ranges(bytes: &[u8]) -> Result<Vec<(u64, u64)>, StoreError> {
	if bytes.len() % 16 != 0 {
		return Err(StoreError::Corrupt(format!("retired ranges of {} bytes", bytes.len())));
	}
	Ok(bytes
		.chunks_exact(16)
		.map(|c| {
			let (s, e) = c.split_at(8);
			(u64::from_le_bytes(s.try_into().expect("8 bytes")), u64::from_le_bytes(e.try_into().expect("8 bytes")))
		})
		.collect())
}

impl Store {
	/// Opens (or creates) the database at `path`, creating its directory. Fails if another
	/// process holds it.
	pub fn open(path: &Path) -> Result<Self, StoreError> {
		if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
			std::fs::create_dir_all(dir).map_err(|source| StoreError::Io { path: dir.display().to_string(), source })?;
		}
		let db = Database::create(path)?;
		let tx = db.begin_write()?;
		tx.open_table(EMA)?;
		tx.open_table(COMMITS)?;
		tx.open_table(RETIRED)?;
		tx.open_table(META)?;
		tx.open_table(FAILED)?;
		tx.commit()?;
		Ok(Self { db })
	}

	/// The stored EMA scores.
	pub fn load_ema(&self) -> Result<BTreeMap<u16, EmaEntry>, StoreError> {
		let tx = self.db.begin_read()?;
		let table = tx.open_table(EMA)?;
		let mut out = BTreeMap::new();
		for row in table.iter()? {
			let (k, v) = row?;
			let v = v.value();
			if v.len() != 40 {
				return Err(StoreError::Corrupt(format!("EMA record of uid {} has {} bytes", k.value(), v.len())));
			}
			let hotkey: [u8; 32] = v[..32].try_into().expect("32 bytes");
			let score = f64::from_le_bytes(v[32..].try_into().expect("8 bytes"));
			out.insert(k.value(), EmaEntry { hotkey, score });
		}
		Ok(out)
	}

	/// Replaces the stored EMA scores with `ema`, and bumps the round counter.
	pub fn save_ema(&self, ema: &BTreeMap<u16, EmaEntry>) -> Result<(), StoreError> {
		let tx = self.db.begin_write()?;
		{
			let mut table = tx.open_table(EMA)?;
			table.retain(|_, _| false)?;
			for (uid, e) in ema {
				let mut v = e.hotkey.to_vec();
				v.extend_from_slice(&e.score.to_le_bytes());
				table.insert(*uid, v.as_slice())?;
			}
			let mut meta = tx.open_table(META)?;
			let rounds = meta.get("rounds")?.map_or(0, |v| v.value());
			meta.insert("rounds", rounds + 1)?;
		}
		tx.commit()?;
		Ok(())
	}

	/// Rounds whose scores were saved.
	pub fn rounds(&self) -> Result<u64, StoreError> {
		let tx = self.db.begin_read()?;
		Ok(tx.open_table(META)?.get("rounds")?.map_or(0, |v| v.value()))
	}

	/// Pending commits, oldest first.
	pub fn pending_commits(&self) -> Result<Vec<PendingCommit>, StoreError> {
		let tx = self.db.begin_read()?;
		let table = tx.open_table(COMMITS)?;
		let mut out = Vec::new();
		for row in table.iter()? {
			let (_, v) = row?;
			out.push(serde_json::from_str::<PendingCommit>(v.value()).map_err(|e| StoreError::Corrupt(e.to_string()))?);
		}
		out.sort_by_key(|c| c.commit_block.unwrap_or(u64::MAX));
		Ok(out)
	}

	/// Miners that failed an audit, by (hotkey, model hash).
	pub fn failed_audits(&self) -> Result<BTreeMap<([u8; 32], [u8; 32]), FailedAudit>, StoreError> {
		let tx = self.db.begin_read()?;
		let mut out = BTreeMap::new();
		for row in tx.open_table(FAILED)?.iter()? {
			let (k, v) = row?;
			let key: [u8; 64] = k.value().try_into().map_err(|_| StoreError::Corrupt("failed-audit key".into()))?;
			let (hotkey, model) = key.split_at(32);
			let entry = serde_json::from_str(v.value()).map_err(|e| StoreError::Corrupt(e.to_string()))?;
			out.insert((hotkey.try_into().expect("32 bytes"), model.try_into().expect("32 bytes")), entry);
		}
		Ok(out)
	}

	/// Records (or updates) a failed audit of `hotkey` serving `model`.
	pub fn put_failed_audit(&self, hotkey: &[u8; 32], model: &[u8; 32], entry: &FailedAudit) -> Result<(), StoreError> {
		let json = serde_json::to_string(entry).map_err(|e| StoreError::Corrupt(e.to_string()))?;
		let key = [hotkey.as_slice(), model.as_slice()].concat();
		let tx = self.db.begin_write()?;
		tx.open_table(FAILED)?.insert(key.as_slice(), json.as_str())?;
		tx.commit()?;
		Ok(())
	}

	/// Inserts or updates a pending commit.
	pub fn put_commit(&self, c: &PendingCommit) -> Result<(), StoreError> {
		let json = serde_json::to_string(c).map_err(|e| StoreError::Corrupt(e.to_string()))?;
		let tx = self.db.begin_write()?;
		tx.open_table(COMMITS)?.insert(c.hash.as_slice(), json.as_str())?;
		tx.commit()?;
		Ok(())
	}

	/// Forgets a commit (revealed, expired, or never included).
	pub fn remove_commit(&self, hash: &[u8; 32]) -> Result<(), StoreError> {
		let tx = self.db.begin_write()?;
		tx.open_table(COMMITS)?.remove(hash.as_slice())?;
		tx.commit()?;
		Ok(())
	}

	/// Every retired range.
	pub fn load_retired(&self) -> Result<Retired, StoreError> {
		let tx = self.db.begin_read()?;
		let table = tx.open_table(RETIRED)?;
		let mut out = Retired::new();
		for row in table.iter()? {
			let (k, v) = row?;
			let doc: [u8; 32] =
				k.value().try_into().map_err(|_| StoreError::Corrupt("retired key is not 32 bytes".into()))?;
			out.set(doc, decode_ranges(v.value())?);
		}
		Ok(out)
	}

	/// Retires `windows` in `retired` and in the database, in one transaction. Call it
	/// before any of their text is sent.
	pub fn retire(&self, retired: &mut Retired, windows: &[Window]) -> Result<(), StoreError> {
		let tx = self.db.begin_write()?;
		{
			let mut table = tx.open_table(RETIRED)?;
			for w in windows {
				let ranges = retired.retire(w.doc_hash, w.start, w.end);
				table.insert(w.doc_hash.as_slice(), encode_ranges(ranges).as_slice())?;
			}
		}
		tx.commit()?;
		Ok(())
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn everything_survives_reopening() {
		let dir = tempfile::tempdir().unwrap();
		let path = dir.path().join("sub").join("v.redb");
		let commit = PendingCommit {
			hash: [7; 32],
			netuid: 1,
			uids: vec![1, 2],
			values: vec![65535, 10],
			salt: vec![9, 8, 7],
			version_key: 0,
			commit_block: Some(44),
			reveal_epoch: Some(5),
		};
		{
			let s = Store::open(&path).unwrap();
			assert!(s.load_ema().unwrap().is_empty());
			let ema = BTreeMap::from([(1, EmaEntry { hotkey: [1; 32], score: 0.25 }), (3, EmaEntry { hotkey: [3; 32], score: 1.0 })]);
			s.save_ema(&ema).unwrap();
			s.save_ema(&ema).unwrap();
			s.put_commit(&commit).unwrap();
			s.put_commit(&PendingCommit { hash: [8; 32], commit_block: None, ..commit.clone() }).unwrap();
			s.remove_commit(&[8; 32]).unwrap();
			let mut retired = Retired::new();
			let w = Window { doc: 0, doc_hash: [5; 32], start: 10, end: 20, tokens: vec![1, 2], bytes: vec![5, 5], prefix: 1 };
			s.retire(&mut retired, &[w.clone(), Window { start: 18, end: 40, ..w }]).unwrap();
			assert_eq!(retired.of(&[5; 32]), &[(10, 40)]);
			// A second handle on the same file is refused while this one is open.
			assert!(Store::open(&path).is_err());
		}
		let s = Store::open(&path).unwrap();
		let ema = s.load_ema().unwrap();
		assert_eq!(ema.len(), 2);
		assert_eq!(ema[&1], EmaEntry { hotkey: [1; 32], score: 0.25 });
		assert_eq!(s.rounds().unwrap(), 2);
		assert_eq!(s.pending_commits().unwrap(), vec![commit]);
		assert_eq!(s.load_retired().unwrap().of(&[5; 32]), &[(10, 40)]);
		s.save_ema(&BTreeMap::new()).unwrap();
		assert!(s.load_ema().unwrap().is_empty());
	}
}
