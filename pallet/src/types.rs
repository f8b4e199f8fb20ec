//! Plain data types stored by the pallet and returned by the runtime API.

use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use scale_info::TypeInfo;
use alloc::vec::Vec;
use frame_support::{traits::ConstU32, BoundedVec};
use sp_core::H256;

/// Subnet identifier.
pub type NetUid = u16;
/// Position of a neuron inside a subnet.
pub type Uid = u16;
/// Token amounts (9 decimals).
pub type Balance = u128;
/// Block heights as the pallet stores them (independent of the runtime's block number type).
pub type BlockHeight = u64;

/// `u16::MAX`, the fixed-point "1.0" used by weights, kappa, trust, take, ...
pub const U16_ONE: u16 = u16::MAX;

/// Where a neuron serves (subtensor's `AxonInfo`).
#[derive(
	Encode, Decode, DecodeWithMemTracking, Clone, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen, Default,
)]
pub struct AxonInfo {
	/// Block at which the axon was last served.
	pub block: BlockHeight,
	/// Software version of the server.
	pub version: u32,
	/// IPv4 (in the low 32 bits) or IPv6 address.
	pub ip: u128,
	/// TCP port.
	pub port: u16,
	/// 4 or 6.
	pub ip_type: u8,
	/// Wire protocol; 0 = gRPC (`tessera.v1.Miner`).
	pub protocol: u8,
}

/// What model (and tokenizer) a neuron says it serves, and since when.
#[derive(
	Encode, Decode, DecodeWithMemTracking, Clone, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen, Default,
)]
pub struct ModelCommitment {
	/// Hash of the model file served through `FetchModel`.
	pub model_hash: H256,
	/// Hash of the tokenizer the model uses; must equal the subnet's tokenizer hash when set.
	pub tokenizer_hash: H256,
	/// Block at which this commitment was recorded.
	pub block: BlockHeight,
}

/// Default `max_model_bytes` of a new subnet: 4 GiB.
pub const DEFAULT_MAX_MODEL_BYTES: u64 = 4 << 30;

/// Every hyperparameter of a subnet, with subtensor's meaning.
#[derive(
	Encode, Decode, DecodeWithMemTracking, Clone, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen,
)]
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct SubnetHyperparams {
	/// Blocks between two epochs of this subnet.
	pub tempo: u16,
	/// Consensus majority threshold, `u16::MAX` = 1.0 (default 0.5).
	pub kappa: u16,
	/// Bonds EMA moving average, per million (default 900_000 = 0.9).
	pub bonds_moving_average: u64,
	/// Use Yuma3 (per-bond EMA) instead of the legacy bonds.
	pub yuma3_enabled: bool,
	/// Use liquid alpha for the bonds EMA (Yuma3).
	pub liquid_alpha_enabled: bool,
	/// Lower bound of liquid alpha, `u16::MAX` = 1.0.
	pub alpha_low: u16,
	/// Upper bound of liquid alpha, `u16::MAX` = 1.0.
	pub alpha_high: u16,
	/// Most neurons the subnet holds.
	pub max_allowed_uids: u16,
	/// Most validator permits handed out each epoch (top by stake).
	pub max_allowed_validators: u16,
	/// Fewest non-self weights a validator must set.
	pub min_allowed_weights: u16,
	/// Largest single weight after max-upscaling, `u16::MAX` = no limit.
	pub max_weight_limit: u16,
	/// Blocks after registration during which a neuron cannot be pruned.
	pub immunity_period: u16,
	/// Blocks without a weight update after which a validator is inactive.
	pub activity_cutoff: u16,
	/// Blocks between two weight updates of one neuron.
	pub weights_rate_limit: u64,
	/// Blocks between two `serve_axon` calls of one neuron.
	pub serving_rate_limit: u64,
	/// Lowest weights version key accepted.
	pub weights_version_key: u64,
	/// Weights must go through `commit_weights` / `reveal_weights`.
	pub commit_reveal_enabled: bool,
	/// Epochs between a commit and its reveal window.
	pub commit_reveal_period: u64,
	/// Current registration burn.
	pub burn: Balance,
	/// Floor of the burn adjustment.
	pub min_burn: Balance,
	/// Ceiling of the burn adjustment.
	pub max_burn: Balance,
	/// Registrations the burn adjustment aims for per interval.
	pub target_registrations_per_interval: u16,
	/// Blocks per registration-adjustment interval.
	pub adjustment_interval: u16,
	/// Most registrations in one block.
	pub max_registrations_per_block: u16,
	/// Whether `burned_register` is open.
	pub registration_allowed: bool,
	/// Stake a hotkey needs to set weights.
	pub weights_min_stake: Balance,
	/// Hash of the subnet tokenizer; `H256::zero()` means "any".
	pub tokenizer_hash: H256,
	/// Accept loopback and unspecified-range axon addresses (local test networks only).
	pub allow_local_axons: bool,
	/// Verifiable work: registrations place a bond and validators may `report_fraud`.
	pub audits_enabled: bool,
	/// Bond held from the registering coldkey while audits are enabled; returned when the
	/// neuron leaves cleanly, slashed when enough validator stake reports fraud.
	pub miner_bond: Balance,
	/// Share of the subnet's validator-permit stake that fraud reports must exceed to slash,
	/// `u16::MAX` = 1.0 (default 32_768, just over 0.5: exactly half does not slash).
	pub fraud_threshold: u16,
	/// Blocks a fraud report counts for (and during which its validator cannot report the
	/// same neuron again).
	pub fraud_window: u64,
	/// Pay a slashed bond to the reporters pro rata by stake instead of burning it.
	pub slash_to_reporters: bool,
	/// Largest model file, in bytes, a miner may commit on the subnet: validators refuse
	/// to fetch more (a model over it is the miner's failed audit). Default 4 GiB.
	pub max_model_bytes: u64,
}

impl Default for SubnetHyperparams {
	fn default() -> Self {
		Self {
			tempo: 360,
			kappa: 32_767,
			bonds_moving_average: 900_000,
			yuma3_enabled: false,
			liquid_alpha_enabled: false,
			alpha_low: 45_875,
			alpha_high: 58_982,
			max_allowed_uids: 256,
			max_allowed_validators: 64,
			min_allowed_weights: 1,
			max_weight_limit: u16::MAX,
			immunity_period: 4_096,
			activity_cutoff: 5_000,
			weights_rate_limit: 100,
			serving_rate_limit: 50,
			weights_version_key: 0,
			commit_reveal_enabled: false,
			commit_reveal_period: 1,
			burn: 1_000_000_000,
			min_burn: 100_000_000,
			max_burn: 100_000_000_000,
			target_registrations_per_interval: 2,
			adjustment_interval: 100,
			max_registrations_per_block: 3,
			registration_allowed: true,
			weights_min_stake: 0,
			tokenizer_hash: H256::zero(),
			allow_local_axons: false,
			audits_enabled: false,
			miner_bond: 10_000_000_000,
			fraud_threshold: 32_768,
			fraud_window: 7_200,
			slash_to_reporters: false,
			max_model_bytes: DEFAULT_MAX_MODEL_BYTES,
		}
	}
}

/// One hyperparameter change, as set by root with `sudo_set_hyperparam`.
#[derive(Encode, Decode, DecodeWithMemTracking, Clone, PartialEq, Eq, Debug, TypeInfo)]
pub enum Hyperparam {
	Tempo(u16),
	Kappa(u16),
	BondsMovingAverage(u64),
	Yuma3Enabled(bool),
	LiquidAlphaEnabled(bool),
	AlphaValues { low: u16, high: u16 },
	MaxAllowedUids(u16),
	MaxAllowedValidators(u16),
	MinAllowedWeights(u16),
	MaxWeightLimit(u16),
	ImmunityPeriod(u16),
	ActivityCutoff(u16),
	WeightsRateLimit(u64),
	ServingRateLimit(u64),
	WeightsVersionKey(u64),
	CommitRevealEnabled(bool),
	CommitRevealPeriod(u64),
	Burn(Balance),
	BurnBounds { min: Balance, max: Balance },
	TargetRegistrationsPerInterval(u16),
	AdjustmentInterval(u16),
	MaxRegistrationsPerBlock(u16),
	RegistrationAllowed(bool),
	WeightsMinStake(Balance),
	TokenizerHash(H256),
	AllowLocalAxons(bool),
	AuditsEnabled(bool),
	MinerBond(Balance),
	FraudThreshold(u16),
	FraudWindow(u64),
	SlashToReporters(bool),
	MaxModelBytes(u64),
}

/// Most answer digests one signed step (and so one [`FraudEvidence`]) holds.
pub const MAX_EVIDENCE_DIGESTS: u32 = 256;

/// What a miner's step signature covers for one answered position (the miner's
/// `tessera_proto::receipt::AnswerDigest`, encoded the same way).
#[derive(
	Encode, Decode, DecodeWithMemTracking, Clone, Copy, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen, Default,
)]
pub struct AnswerDigest {
	/// Index of the predicted token in its document.
	pub position: u32,
	/// Hash of the document's tokens before `position`.
	pub context: [u8; 32],
	/// Hash of the answered distribution.
	pub distribution: [u8; 32],
}

/// Evidence of fraud the runtime can check: one step the accused miner signed for the
/// reporting validator, and which of its answers is disputed.
///
/// The signature is the accused hotkey's sr25519 signature (signing context
/// "substrate") over the SCALE encoding of
/// `(b"tessera/v1/step", reporter hotkey, accused hotkey, model_hash, digests)`, exactly
/// the bytes a miner signs for every `Evaluate` step.
#[derive(
	Encode, Decode, DecodeWithMemTracking, Clone, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen,
)]
pub struct FraudEvidence {
	/// The model the miner said it ran; must be its (current or escrowed) commitment.
	pub model_hash: H256,
	/// Every digest of the signed step, in order.
	pub digests: BoundedVec<AnswerDigest, ConstU32<MAX_EVIDENCE_DIGESTS>>,
	/// Which digest is disputed (`< digests.len()`).
	pub index: u32,
	/// The miner's sr25519 signature of the step.
	pub signature: [u8; 64],
	/// Hash of the full evidence the validator keeps (context tokens and distribution).
	pub evidence_hash: H256,
}

/// One validator's fraud report against a neuron (see `report_fraud`).
#[derive(
	Encode, Decode, DecodeWithMemTracking, Clone, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen,
)]
pub struct FraudReport<AccountId> {
	/// Hotkey of the reporting validator.
	pub reporter: AccountId,
	/// Block of the report; it counts until `block + fraud_window`.
	pub block: BlockHeight,
	/// Hash of the evidence the validator keeps (signed answers that do not match the
	/// committed model).
	pub evidence_hash: H256,
	/// The signed digest the report disputes.
	pub disputed: AnswerDigest,
}

/// The bond of a neuron that left its subnet while fraud reports against it still
/// counted: held until they expire (then returned) or reach the threshold (slashed).
#[derive(
	Encode, Decode, DecodeWithMemTracking, Clone, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen,
)]
pub struct EscrowedBond<AccountId> {
	/// Owner coldkey the bond is held from.
	pub coldkey: AccountId,
	/// Tokens held (may be zero: the reports can still bar the model).
	pub amount: Balance,
	/// Model commitment of the neuron when it left (evidence must name it).
	pub model_hash: Option<H256>,
	/// The uid the neuron had.
	pub uid: Uid,
	/// Block it left at.
	pub since: BlockHeight,
}

/// Where a slashed miner bond went.
#[derive(
	Encode, Decode, DecodeWithMemTracking, Clone, Copy, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen,
)]
pub enum SlashDestination {
	/// Burned: total issuance fell by the bond.
	Burned,
	/// Paid to the reporters' coldkeys pro rata by stake.
	Reporters,
}

/// Why a neuron left its subnet without being replaced by a registration.
#[derive(
	Encode, Decode, DecodeWithMemTracking, Clone, Copy, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen,
)]
pub enum DeregisterReason {
	/// Its owner called `deregister`.
	Voluntary,
	/// Validator stake above the subnet's fraud threshold reported it.
	Fraud,
}

/// A weights commitment waiting for its reveal (commit-reveal).
#[derive(
	Encode, Decode, DecodeWithMemTracking, Clone, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen,
)]
pub struct WeightCommit {
	/// BlakeTwo256 of SCALE(who, netuid, uids, values, salt, version_key).
	pub hash: H256,
	/// Block of the commit.
	pub commit_block: BlockHeight,
	/// Epoch index during which the commit must be revealed.
	pub reveal_epoch: u64,
}

/// A nominator's position in a hotkey's stake pool.
#[derive(
	Encode, Decode, DecodeWithMemTracking, Clone, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen, Default,
)]
pub struct StakePosition {
	/// Shares of the hotkey's pool.
	pub shares: u128,
	/// Tokens of the coldkey currently held (locked) for this position.
	pub principal: Balance,
}

/// Everything the chain knows about one neuron (runtime API).
#[derive(Encode, Decode, Clone, PartialEq, Eq, Debug, TypeInfo)]
pub struct NeuronInfo<AccountId> {
	pub uid: Uid,
	pub netuid: NetUid,
	pub hotkey: AccountId,
	pub coldkey: AccountId,
	/// Total value of the hotkey's stake pool.
	pub stake: Balance,
	pub rank: u16,
	pub trust: u16,
	pub consensus: u16,
	pub incentive: u16,
	pub dividends: u16,
	pub validator_trust: u16,
	/// Emission of the last epoch.
	pub emission: Balance,
	pub active: bool,
	pub validator_permit: bool,
	pub last_update: BlockHeight,
	pub registered_at: BlockHeight,
	pub pruning_score: u16,
	pub axon: Option<AxonInfo>,
	pub model: Option<ModelCommitment>,
	/// Delegate take of the hotkey, `u16::MAX` = 100%.
	pub take: u16,
	/// Weights this neuron set: (uid, weight).
	pub weights: Vec<(Uid, u16)>,
}

/// One stake position of a coldkey (runtime API `coldkey_info`).
#[derive(Encode, Decode, Clone, PartialEq, Eq, Debug, TypeInfo)]
pub struct StakeInfo<AccountId> {
	pub hotkey: AccountId,
	/// Shares of the hotkey's pool.
	pub shares: u128,
	/// Tokens of the coldkey held for this position.
	pub principal: Balance,
	/// What the shares are worth now (principal plus rewards), rounded down.
	pub value: Balance,
}

/// A coldkey's balances and every stake position, in one call (runtime API).
#[derive(Encode, Decode, Clone, PartialEq, Eq, Debug, TypeInfo)]
pub struct ColdkeyInfo<AccountId> {
	pub coldkey: AccountId,
	/// Free balance.
	pub free: Balance,
	/// Held for any reason (stake principal and miner bonds).
	pub held: Balance,
	/// What the account could transfer now (free less frozen and the existential deposit
	/// where it must stay alive).
	pub transferable: Balance,
	/// Sum of the positions' values.
	pub staked: Balance,
	/// Every hotkey it stakes to, in the order of the `StakingHotkeys` index.
	pub positions: Vec<StakeInfo<AccountId>>,
}

/// The whole metagraph of a subnet in one call (runtime API).
#[derive(Encode, Decode, Clone, PartialEq, Eq, Debug, TypeInfo)]
pub struct Metagraph<AccountId> {
	pub netuid: NetUid,
	pub block: BlockHeight,
	pub hyperparams: SubnetHyperparams,
	pub neurons: Vec<NeuronInfo<AccountId>>,
}

