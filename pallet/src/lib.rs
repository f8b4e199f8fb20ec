//! # pallet-tessera
//!
//! The Tessera subnet pallet: subnets and their hyperparameters, neuron registration,
//! axon serving and model commitments, nominator stake pools, weights (direct and
//! commit-reveal) and the storage that Yuma consensus fills each tempo.
//!
//! Semantics follow subtensor (the Bittensor chain) unless the project's DESIGN.md says
//! otherwise. The implementation is split by concern:
//!
//! - [`registration`]: `burned_register`, uid assignment, pruning, burn adjustment;
//! - [`serving`]: `serve_axon`, `commit_model`;
//! - [`staking`]: share pools, `add_stake`, `remove_stake`, delegate take;
//! - [`weights`]: `set_weights` checks, commit-reveal;
//! - [`subnets`]: subnet creation and hyperparameter setters;
//! - [`fraud`]: miner bonds, `report_fraud`, slashing, `deregister` and the escrow of
//!   reported neurons' bonds;
//! - [`evidence`]: the fraud evidence the runtime checks (the miner's step signature);
//! - [`address`]: which axon addresses are global;
//! - [`metagraph`]: the `TesseraApi` runtime API and its one-call metagraph;
//! - `invariants` (tests and try-runtime): the storage invariants `try_state` checks.
//!
//! Every call is weighed by [`weights_info::WeightInfo`]; no call loops over more than
//! `max_allowed_uids` items, which is bounded by [`Config::MaxAllowedUidsLimit`].

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub use pallet::*;

pub mod address;
pub mod epoch;
pub mod escrow;
pub mod evidence;
pub mod feeless;
pub mod fraud;
#[cfg(any(test, feature = "try-runtime"))]
pub mod invariants;
pub mod metagraph;
pub mod migrations;
pub mod registration;
pub mod serving;
pub mod staking;
pub mod subnets;
pub mod types;
pub mod weights;
pub mod weights_info;
pub mod yuma;

#[cfg(feature = "runtime-benchmarks")]
pub mod benchmarking;
#[cfg(any(test, all(feature = "std", feature = "runtime-benchmarks")))]
pub mod mock;
#[cfg(test)]
mod tests;

pub use evidence::{AccountIdIsPublicKey, PublicKeyOf};
pub use types::*;
pub use weights_info::WeightInfo;

#[frame_support::pallet]
pub mod pallet {
	use super::*;
	use alloc::vec::Vec;
	use frame_support::{
		pallet_prelude::*,
		traits::{
			fungible::{Inspect, InspectHold, Mutate, MutateHold},
			BuildGenesisConfig,
		},
		PalletId,
	};
	use frame_system::pallet_prelude::*;
	use sp_core::H256;
	use sp_runtime::traits::AccountIdConversion;

	/// The in-code storage version.
	/// 2: `SubnetHyperparams` gained the audit fields (see [`crate::migrations`]).
	/// 3: `SubnetHyperparams` gained `max_model_bytes`; fraud reports are keyed by hotkey
	/// and carry the disputed digest.
	const STORAGE_VERSION: StorageVersion = StorageVersion::new(4);

	#[pallet::pallet]
	#[pallet::storage_version(STORAGE_VERSION)]
	#[pallet::without_storage_info]
	pub struct Pallet<T>(_);

	/// Why the pallet holds a balance.
	#[pallet::composite_enum]
	pub enum HoldReason {
		/// Tokens a coldkey has staked to a hotkey's pool.
		Staked,
		/// A miner's registration bond on a subnet with audits enabled.
		MinerBond,
	}

	#[pallet::config]
	pub trait Config: frame_system::Config {
		/// The overarching event type.
		#[allow(deprecated)]
		type RuntimeEvent: From<Event<Self>> + IsType<<Self as frame_system::Config>::RuntimeEvent>;

		/// The native token: burns, holds for stake, reward minting.
		type Currency: Inspect<Self::AccountId, Balance = Balance>
			+ Mutate<Self::AccountId>
			+ InspectHold<Self::AccountId, Reason = Self::RuntimeHoldReason>
			+ MutateHold<Self::AccountId>;

		/// The overarching hold reason.
		type RuntimeHoldReason: From<HoldReason>;

		/// Account that holds rewards not yet withdrawn from stake pools.
		#[pallet::constant]
		type PalletId: Get<PalletId>;

		/// Hard upper bound for any subnet's `max_allowed_uids` (bounds every loop).
		#[pallet::constant]
		type MaxAllowedUidsLimit: Get<u16>;

		/// Highest delegate take a hotkey may set, `u16::MAX` = 100% (subtensor: 18%).
		#[pallet::constant]
		type MaxDelegateTake: Get<u16>;

		/// Take of a hotkey that never set one.
		#[pallet::constant]
		type DefaultDelegateTake: Get<u16>;

		/// Smallest amount `add_stake` accepts.
		#[pallet::constant]
		type MinStake: Get<Balance>;

		/// Most unrevealed weight commits one hotkey may have per subnet.
		#[pallet::constant]
		type MaxWeightCommits: Get<u32>;

		/// Tokens emitted per block before any halving (Bittensor: 1 TAO).
		#[pallet::constant]
		type InitialBlockEmission: Get<Balance>;

		/// Most tokens ever emitted by subnets (Bittensor: 21M); emission halves each time
		/// half of what is left under the cap has been emitted.
		#[pallet::constant]
		type TotalSupplyCap: Get<Balance>;

		/// The sr25519 public key of a hotkey (fraud evidence is the accused hotkey's
		/// signature); [`AccountIdIsPublicKey`] for `AccountId32`.
		type PublicKeyOf: PublicKeyOf<Self::AccountId>;

		/// Weights of the calls.
		type WeightInfo: WeightInfo;
	}

	// ----------------------------------------------------------------------------------
	// Subnets
	// ----------------------------------------------------------------------------------

	/// Hyperparameters of every existing subnet; a subnet exists iff it has an entry.
	#[pallet::storage]
	pub type Hyperparams<T> = StorageMap<_, Twox64Concat, NetUid, SubnetHyperparams, OptionQuery>;

	/// Number of subnets.
	#[pallet::storage]
	pub type TotalNetworks<T> = StorageValue<_, u16, ValueQuery>;

	/// Relative share of block emission each subnet receives (root-set); when every share
	/// is zero, subnets share equally.
	#[pallet::storage]
	pub type SubnetEmissionShare<T> = StorageMap<_, Twox64Concat, NetUid, u16, ValueQuery>;

	/// Emission scheduled for a subnet and not yet paid out by its epoch.
	#[pallet::storage]
	pub type PendingEmission<T> = StorageMap<_, Twox64Concat, NetUid, Balance, ValueQuery>;

	/// All emission ever scheduled (drives the halving schedule and the supply cap).
	#[pallet::storage]
	pub type TotalEmitted<T> = StorageValue<_, Balance, ValueQuery>;

	/// Registrations in the current adjustment interval, per subnet.
	#[pallet::storage]
	pub type RegistrationsThisInterval<T> = StorageMap<_, Twox64Concat, NetUid, u16, ValueQuery>;

	/// Registrations in the current block, per subnet.
	#[pallet::storage]
	pub type RegistrationsThisBlock<T> = StorageMap<_, Twox64Concat, NetUid, u16, ValueQuery>;

	/// Block at which each subnet's burn was last adjusted.
	#[pallet::storage]
	pub type LastAdjustmentBlock<T> = StorageMap<_, Twox64Concat, NetUid, BlockHeight, ValueQuery>;

	// ----------------------------------------------------------------------------------
	// Neurons
	// ----------------------------------------------------------------------------------

	/// Number of uid slots per subnet: neurons plus vacated uids (see `VacantUids`).
	#[pallet::storage]
	pub type SubnetN<T> = StorageMap<_, Twox64Concat, NetUid, u16, ValueQuery>;

	/// Hotkey of each `(netuid, uid)`.
	#[pallet::storage]
	pub type Keys<T: Config> =
		StorageDoubleMap<_, Twox64Concat, NetUid, Twox64Concat, Uid, T::AccountId, OptionQuery>;

	/// Uid of each `(netuid, hotkey)`.
	#[pallet::storage]
	pub type Uids<T: Config> =
		StorageDoubleMap<_, Twox64Concat, NetUid, Blake2_128Concat, T::AccountId, Uid, OptionQuery>;

	/// Coldkey that owns a hotkey (set by its first registration, never changes).
	#[pallet::storage]
	pub type Owner<T: Config> = StorageMap<_, Blake2_128Concat, T::AccountId, T::AccountId, OptionQuery>;

	/// Subnets on which a hotkey is registered (bounded by the number of subnets).
	#[pallet::storage]
	pub type HotkeyNetworks<T: Config> =
		StorageMap<_, Blake2_128Concat, T::AccountId, Vec<NetUid>, ValueQuery>;

	/// Block at which each `(netuid, uid)` was (last) registered.
	#[pallet::storage]
	pub type BlockAtRegistration<T> =
		StorageDoubleMap<_, Twox64Concat, NetUid, Twox64Concat, Uid, BlockHeight, ValueQuery>;

	/// Axon of each `(netuid, hotkey)`.
	#[pallet::storage]
	pub type Axons<T: Config> =
		StorageDoubleMap<_, Twox64Concat, NetUid, Blake2_128Concat, T::AccountId, AxonInfo, OptionQuery>;

	/// Model commitment of each `(netuid, hotkey)`.
	#[pallet::storage]
	pub type ModelCommitments<T: Config> = StorageDoubleMap<
		_,
		Twox64Concat,
		NetUid,
		Blake2_128Concat,
		T::AccountId,
		ModelCommitment,
		OptionQuery,
	>;

	/// First commitment of each model hash in a subnet: `(block, hotkey)`. Earliest wins ties.
	#[pallet::storage]
	pub type FirstModelCommit<T: Config> = StorageDoubleMap<
		_,
		Twox64Concat,
		NetUid,
		Identity,
		H256,
		(BlockHeight, T::AccountId),
		OptionQuery,
	>;

	/// Model hashes an owner (coldkey) may no longer commit on a subnet, after a fraud slash
	/// of one of its hotkeys that claimed them, with the block of the bar. Keyed by owner:
	/// honest miners serving the same (e.g. the default) model are not affected, so a
	/// cheater cannot bar a popular model for everyone.
	#[pallet::storage]
	pub type BarredModels<T: Config> =
		StorageDoubleMap<_, Twox64Concat, NetUid, Blake2_128Concat, (T::AccountId, H256), BlockHeight, OptionQuery>;

	/// Bond held from the owner coldkey of each `(netuid, hotkey)`: the amount actually
	/// held at registration (later `miner_bond` changes do not affect it).
	#[pallet::storage]
	pub type MinerBonds<T: Config> =
		StorageDoubleMap<_, Twox64Concat, NetUid, Blake2_128Concat, T::AccountId, Balance, OptionQuery>;

	/// Fraud reports against each `(netuid, hotkey)`, oldest first. Keyed by hotkey, so
	/// they never carry over to another neuron taking the uid, and they follow a reported
	/// neuron that left into the escrow of its bond (see [`EscrowedBonds`]). Only reports
	/// of validators that still hold a permit and are younger than `fraud_window` count;
	/// the others are dropped at the next report. Removed when the neuron leaves with no
	/// report counting, when its escrow is returned, and when it is slashed.
	#[pallet::storage]
	pub type FraudReports<T: Config> = StorageDoubleMap<
		_,
		Twox64Concat,
		NetUid,
		Blake2_128Concat,
		T::AccountId,
		BoundedVec<FraudReport<T::AccountId>, fraud::MaxReporters<T>>,
		ValueQuery,
	>;

	/// Bonds of neurons that left `netuid` (pruned, replaced or deregistered) while fraud
	/// reports against them still counted, by hotkey: held until every report is older
	/// than `fraud_window` (then returned to the owner by `release_escrow` or the
	/// per-block sweep) or until the reports reach the threshold (then slashed). The
	/// hotkey cannot register on the subnet again meanwhile.
	#[pallet::storage]
	pub type EscrowedBonds<T: Config> =
		StorageDoubleMap<_, Twox64Concat, NetUid, Blake2_128Concat, T::AccountId, EscrowedBond<T::AccountId>, OptionQuery>;

	/// Number of entries in [`EscrowedBonds`] (the per-block sweep does nothing at zero).
	#[pallet::storage]
	pub type EscrowCount<T> = StorageValue<_, u32, ValueQuery>;

	/// Raw storage key of the last [`EscrowedBonds`] entry the per-block sweep visited;
	/// the next sweep continues after it (absent: from the start).
	#[pallet::storage]
	pub type EscrowCursor<T> = StorageValue<_, Vec<u8>, OptionQuery>;

	/// Uids below `SubnetN` left empty by `deregister` or a fraud slash, ascending; the
	/// next registrations fill them first.
	#[pallet::storage]
	pub type VacantUids<T> = StorageMap<_, Twox64Concat, NetUid, Vec<Uid>, ValueQuery>;

	// ----------------------------------------------------------------------------------
	// Epoch outputs (vectors indexed by uid, length `SubnetN`)
	// ----------------------------------------------------------------------------------

	/// Rank of each uid, `u16::MAX` = 1.0.
	#[pallet::storage]
	pub type Rank<T> = StorageMap<_, Twox64Concat, NetUid, Vec<u16>, ValueQuery>;
	/// Trust of each uid.
	#[pallet::storage]
	pub type Trust<T> = StorageMap<_, Twox64Concat, NetUid, Vec<u16>, ValueQuery>;
	/// Consensus weight of each uid.
	#[pallet::storage]
	pub type Consensus<T> = StorageMap<_, Twox64Concat, NetUid, Vec<u16>, ValueQuery>;
	/// Incentive of each uid.
	#[pallet::storage]
	pub type Incentive<T> = StorageMap<_, Twox64Concat, NetUid, Vec<u16>, ValueQuery>;
	/// Dividends of each uid.
	#[pallet::storage]
	pub type Dividends<T> = StorageMap<_, Twox64Concat, NetUid, Vec<u16>, ValueQuery>;
	/// Validator trust of each uid.
	#[pallet::storage]
	pub type ValidatorTrust<T> = StorageMap<_, Twox64Concat, NetUid, Vec<u16>, ValueQuery>;
	/// Emission of each uid at the last epoch.
	#[pallet::storage]
	pub type Emission<T> = StorageMap<_, Twox64Concat, NetUid, Vec<Balance>, ValueQuery>;
	/// Whether each uid holds a validator permit.
	#[pallet::storage]
	pub type ValidatorPermit<T> = StorageMap<_, Twox64Concat, NetUid, Vec<bool>, ValueQuery>;
	/// Stake behind each uid's hotkey as the last epoch read it. Fraud reports (and the
	/// permit stake they are measured against) count this snapshot, so stake added after
	/// the epoch, e.g. in the block of a report, cannot buy the vote. Zero for a uid
	/// registered since.
	#[pallet::storage]
	pub type EpochStake<T> = StorageMap<_, Twox64Concat, NetUid, Vec<Balance>, ValueQuery>;
	/// Whether each uid was active at the last epoch.
	#[pallet::storage]
	pub type Active<T> = StorageMap<_, Twox64Concat, NetUid, Vec<bool>, ValueQuery>;
	/// Block of each uid's last weight update.
	#[pallet::storage]
	pub type LastUpdate<T> = StorageMap<_, Twox64Concat, NetUid, Vec<BlockHeight>, ValueQuery>;
	/// Pruning score of each uid (lowest is replaced first).
	#[pallet::storage]
	pub type PruningScores<T> = StorageMap<_, Twox64Concat, NetUid, Vec<u16>, ValueQuery>;

	/// Weights row of each `(netuid, uid)`: sparse `(target uid, weight)`.
	#[pallet::storage]
	pub type Weights<T> =
		StorageDoubleMap<_, Twox64Concat, NetUid, Twox64Concat, Uid, Vec<(Uid, u16)>, ValueQuery>;

	/// Bonds row of each `(netuid, uid)`: sparse `(target uid, bond)`.
	#[pallet::storage]
	pub type Bonds<T> =
		StorageDoubleMap<_, Twox64Concat, NetUid, Twox64Concat, Uid, Vec<(Uid, u16)>, ValueQuery>;

	/// Unrevealed weight commits of each `(netuid, hotkey)`, oldest first.
	#[pallet::storage]
	pub type WeightCommits<T: Config> = StorageDoubleMap<
		_,
		Twox64Concat,
		NetUid,
		Blake2_128Concat,
		T::AccountId,
		BoundedVec<WeightCommit, T::MaxWeightCommits>,
		ValueQuery,
	>;

	/// Block of the last weights commit of each `(netuid, hotkey)` (commit rate limit).
	#[pallet::storage]
	pub type LastCommitBlock<T: Config> =
		StorageDoubleMap<_, Twox64Concat, NetUid, Blake2_128Concat, T::AccountId, BlockHeight, OptionQuery>;

	// ----------------------------------------------------------------------------------
	// Staking
	// ----------------------------------------------------------------------------------

	/// Value of each hotkey's stake pool (principal plus undistributed rewards).
	#[pallet::storage]
	pub type TotalHotkeyStake<T: Config> =
		StorageMap<_, Blake2_128Concat, T::AccountId, Balance, ValueQuery>;

	/// Shares outstanding in each hotkey's pool.
	#[pallet::storage]
	pub type TotalHotkeyShares<T: Config> =
		StorageMap<_, Blake2_128Concat, T::AccountId, u128, ValueQuery>;

	/// Each `(hotkey, coldkey)` position: pool shares and held principal.
	#[pallet::storage]
	pub type Stake<T: Config> = StorageDoubleMap<
		_,
		Blake2_128Concat,
		T::AccountId,
		Blake2_128Concat,
		T::AccountId,
		StakePosition,
		OptionQuery,
	>;

	/// Index of `Stake` by coldkey: `(coldkey, hotkey)` for every position, so a coldkey's
	/// positions are read without walking the whole `Stake` map.
	#[pallet::storage]
	pub type StakingHotkeys<T: Config> =
		StorageDoubleMap<_, Blake2_128Concat, T::AccountId, Blake2_128Concat, T::AccountId, (), OptionQuery>;

	/// Sum of all pools' values.
	#[pallet::storage]
	pub type TotalStake<T> = StorageValue<_, Balance, ValueQuery>;

	/// Delegate take of a hotkey, `u16::MAX` = 100%; absent = `DefaultDelegateTake`.
	#[pallet::storage]
	pub type DelegateTake<T: Config> = StorageMap<_, Blake2_128Concat, T::AccountId, u16, OptionQuery>;

	// ----------------------------------------------------------------------------------
	// Genesis
	// ----------------------------------------------------------------------------------

	#[pallet::genesis_config]
	#[derive(frame_support::DefaultNoBound)]
	pub struct GenesisConfig<T: Config> {
		/// Subnets created at genesis with their hyperparameters.
		pub subnets: Vec<(NetUid, SubnetHyperparams)>,
		#[serde(skip)]
		pub _config: core::marker::PhantomData<T>,
	}

	#[pallet::genesis_build]
	impl<T: Config> BuildGenesisConfig for GenesisConfig<T> {
		fn build(&self) {
			// The reward pot must exist before the first reward is minted into it.
			// Fund it with the existential deposit so rewards can be paid out of it with
			// `Preservation::Preserve` and it is never reaped.
			let pot = Pallet::<T>::pot_account();
			let ed = T::Currency::minimum_balance();
			if T::Currency::balance(&pot) < ed {
				T::Currency::mint_into(&pot, ed).expect("minting the pot's existential deposit");
			}
			for (netuid, params) in &self.subnets {
				assert!(
					Pallet::<T>::validate_hyperparams(params).is_ok(),
					"genesis hyperparameters of subnet {netuid} are invalid"
				);
				assert!(!Hyperparams::<T>::contains_key(netuid), "subnet {netuid} listed twice");
				Pallet::<T>::create_subnet(*netuid, params.clone());
			}
		}
	}

	// ----------------------------------------------------------------------------------
	// Events and errors
	// ----------------------------------------------------------------------------------

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// A subnet was created.
		NetworkAdded { netuid: NetUid },
		/// Root changed a hyperparameter of a subnet.
		HyperparamSet { netuid: NetUid, param: Hyperparam },
		/// A hotkey registered on a subnet, paying `burn`; `replaced` is the hotkey it pruned.
		NeuronRegistered {
			netuid: NetUid,
			uid: Uid,
			hotkey: T::AccountId,
			coldkey: T::AccountId,
			burn: Balance,
			replaced: Option<T::AccountId>,
		},
		/// Root set a subnet's share of block emission.
		EmissionShareSet { netuid: NetUid, share: u16 },
		/// A subnet ran its epoch and paid `emitted` tokens; `pending` stays for later.
		EpochCompleted { netuid: NetUid, block: BlockHeight, emitted: Balance, pending: Balance },
		/// A subnet's registration burn was adjusted.
		BurnAdjusted { netuid: NetUid, burn: Balance },
		/// A neuron announced where it serves.
		AxonServed { netuid: NetUid, hotkey: T::AccountId, axon: AxonInfo },
		/// A neuron committed to the model it serves.
		ModelCommitted {
			netuid: NetUid,
			hotkey: T::AccountId,
			model_hash: H256,
			tokenizer_hash: H256,
			first_committed_at: BlockHeight,
		},
		/// A coldkey staked to a hotkey's pool.
		StakeAdded { coldkey: T::AccountId, hotkey: T::AccountId, amount: Balance, shares: u128 },
		/// A coldkey withdrew from a hotkey's pool.
		StakeRemoved { coldkey: T::AccountId, hotkey: T::AccountId, amount: Balance, shares: u128 },
		/// A hotkey's owner set its delegate take.
		DelegateTakeSet { hotkey: T::AccountId, take: u16 },
		/// A neuron set its weights.
		WeightsSet { netuid: NetUid, uid: Uid, count: u32 },
		/// A neuron committed to weights it will reveal later.
		WeightsCommitted { netuid: NetUid, hotkey: T::AccountId, hash: H256, reveal_epoch: u64 },
		/// A neuron revealed committed weights.
		WeightsRevealed { netuid: NetUid, hotkey: T::AccountId, hash: H256 },
		/// A registration on a subnet with audits placed a bond on the coldkey.
		MinerBonded { netuid: NetUid, uid: Uid, hotkey: T::AccountId, coldkey: T::AccountId, amount: Balance },
		/// A bond was released to its coldkey (clean exit: deregistration or pruning with
		/// no report counting, or an escrow whose reports all expired).
		BondReturned { netuid: NetUid, hotkey: T::AccountId, coldkey: T::AccountId, amount: Balance },
		/// A neuron left `netuid` while fraud reports against it still counted: its bond
		/// is held in escrow until they expire or reach the threshold.
		BondEscrowed { netuid: NetUid, uid: Uid, hotkey: T::AccountId, coldkey: T::AccountId, amount: Balance },
		/// A validator reported a neuron (or an escrowed hotkey; `uid` is then the uid it
		/// had) for fraud. `reported_stake` is the epoch stake of every reporter whose
		/// report still counts, `permitted_stake` the epoch stake of all permits.
		FraudReported {
			netuid: NetUid,
			uid: Uid,
			hotkey: T::AccountId,
			reporter: T::AccountId,
			evidence_hash: H256,
			reported_stake: Balance,
			permitted_stake: Balance,
		},
		/// Fraud reports crossed the threshold: the neuron's (or escrow's) bond of `amount` was slashed to
		/// `destination`; `burned` is the part burned (all of it, or reporter shares that
		/// could not be paid).
		MinerSlashed {
			netuid: NetUid,
			uid: Uid,
			hotkey: T::AccountId,
			coldkey: T::AccountId,
			amount: Balance,
			destination: SlashDestination,
			burned: Balance,
		},
		/// A reporter's coldkey received its share of a slashed bond.
		SlashRewardPaid { netuid: NetUid, reporter: T::AccountId, coldkey: T::AccountId, amount: Balance },
		/// A model hash was barred for an owner on a subnet after a fraud slash.
		ModelBarred { netuid: NetUid, coldkey: T::AccountId, model_hash: H256 },
		/// A neuron left its subnet; its uid is vacant until the next registration.
		MinerDeregistered { netuid: NetUid, uid: Uid, hotkey: T::AccountId, reason: DeregisterReason },
	}

	#[pallet::error]
	pub enum Error<T> {
		/// No subnet with this netuid.
		SubnetNotFound,
		/// A subnet with this netuid already exists.
		SubnetAlreadyExists,
		/// Hyperparameter out of range (e.g. tempo 0, max uids above the runtime limit,
		/// min burn above max burn, alpha low above alpha high).
		InvalidHyperparameter,
		/// The subnet does not accept registrations now.
		RegistrationDisabled,
		/// This block already has the subnet's maximum number of registrations.
		TooManyRegistrationsThisBlock,
		/// This interval already has three times the subnet's target registrations.
		TooManyRegistrationsThisInterval,
		/// The hotkey is already registered on this subnet.
		HotkeyAlreadyRegistered,
		/// The hotkey belongs to another coldkey.
		NotHotkeyOwner,
		/// The coldkey cannot pay the registration burn and stay alive.
		NotEnoughBalanceToRegister,
		/// The subnet is full and every neuron is inside its immunity period.
		AllNeuronsImmune,
		/// The hotkey is not registered on this subnet.
		HotkeyNotRegistered,
		/// The hotkey is not registered on any subnet, so it has no stake pool.
		HotkeyNotFound,
		/// IP type must be 4 or 6.
		InvalidIpType,
		/// The IP address is not a routable address of its type.
		InvalidIpAddress,
		/// Port 0 is not a port.
		InvalidPort,
		/// Unknown axon protocol.
		InvalidProtocol,
		/// `serve_axon` again before `serving_rate_limit` blocks passed.
		ServingRateLimitExceeded,
		/// The tokenizer hash differs from the subnet's tokenizer hash.
		TokenizerMismatch,
		/// The hotkey's owner was slashed for fraud while claiming this model hash: it may
		/// not commit it on this subnet again.
		ModelBarred,
		/// The hotkey already committed exactly this model and tokenizer.
		ModelAlreadyCommitted,
		/// Stake amount is below the minimum stake.
		StakeTooLow,
		/// The coldkey's free balance cannot cover the stake.
		NotEnoughBalanceToStake,
		/// The coldkey has less stake on this hotkey than requested.
		NotEnoughStakeToWithdraw,
		/// Delegate take above the runtime's maximum.
		DelegateTakeTooHigh,
		/// Arithmetic overflow in stake accounting.
		StakeOverflow,
		/// The reward pot lacks the funds owed (should never happen).
		RewardPotInsufficient,
		/// `uids` and `values` differ in length.
		WeightVecNotEqualSize,
		/// More weights than neurons in the subnet.
		TooManyWeights,
		/// The same uid appears twice.
		DuplicateUids,
		/// A uid does not exist in the subnet.
		InvalidUid,
		/// Fewer non-self weights than `min_allowed_weights`.
		WeightVecLengthIsLow,
		/// A weight exceeds `max_weight_limit` after normalization.
		MaxWeightExceeded,
		/// The hotkey has no validator permit (only self-weight is allowed without one).
		NoValidatorPermit,
		/// The hotkey's stake is below `weights_min_stake`.
		NotEnoughStakeToSetWeights,
		/// `version_key` is older than the subnet's `weights_version_key`.
		IncorrectWeightVersionKey,
		/// Weights again before `weights_rate_limit` blocks passed.
		SettingWeightsTooFast,
		/// The subnet requires commit-reveal: use `commit_weights` and `reveal_weights`.
		CommitRevealEnabled,
		/// The subnet does not use commit-reveal: use `set_weights`.
		CommitRevealDisabled,
		/// The hotkey already has `MaxWeightCommits` unrevealed commits.
		TooManyUnrevealedCommits,
		/// Commit again before `weights_rate_limit` blocks passed.
		CommittingWeightsTooFast,
		/// No pending commit matches the revealed weights, salt and version key.
		NoMatchingCommit,
		/// The matching commit's reveal epoch has not started yet.
		RevealTooEarly,
		/// The matching commit's reveal epoch is over.
		RevealTooLate,
		/// The subnet does not run audits: no bonds, no fraud reports.
		AuditsDisabled,
		/// The coldkey cannot pay the registration burn plus the miner bond and stay alive.
		NotEnoughBalanceForBond,
		/// This validator already reported this neuron within the fraud window.
		AlreadyReported,
		/// A validator cannot report itself.
		CannotReportSelf,
		/// The neuron already has a report from every permitted validator.
		TooManyFraudReports,
		/// The escrow still has fraud reports younger than `fraud_window`.
		FraudReportsPending,
		/// The address is not a global unicast address (loopback, private, link-local,
		/// shared, documentation, multicast, ... or such an IPv4 address inside IPv6), and
		/// the subnet does not allow local axons.
		AxonAddressNotGlobal,
		/// The evidence's `index` is not one of its digests.
		EvidenceIndexOutOfRange,
		/// The evidence's model hash is not the accused's committed model.
		EvidenceModelMismatch,
		/// The evidence's signature is not the accused hotkey's signature of the step for
		/// the reporting validator.
		EvidenceSignatureInvalid,
		/// The hotkey's bond on this subnet is in escrow until its fraud reports resolve;
		/// it cannot register there meanwhile.
		HotkeyBondInEscrow,
		/// No escrowed bond for this hotkey on this subnet.
		NoEscrow,
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		fn on_runtime_upgrade() -> Weight {
			migrations::migrate::<T>()
		}

		fn on_initialize(_n: BlockNumberFor<T>) -> Weight {
			let now = Self::current_block();
			Self::on_new_block()
				.saturating_add(Self::accrue_emission())
				.saturating_add(Self::run_scheduled_epochs(now))
				.saturating_add(Self::sweep_escrows(now))
		}

		#[cfg(feature = "try-runtime")]
		fn try_state(_n: BlockNumberFor<T>) -> Result<(), sp_runtime::TryRuntimeError> {
			Self::do_try_state()
		}

		#[cfg(feature = "std")]
		fn integrity_test() {
			assert!(T::MaxAllowedUidsLimit::get() > 0, "MaxAllowedUidsLimit must be positive");
			assert!(T::DefaultDelegateTake::get() <= T::MaxDelegateTake::get());
			assert!(T::MaxWeightCommits::get() > 0);
		}
	}

	// ----------------------------------------------------------------------------------
	// Calls
	// ----------------------------------------------------------------------------------

	#[pallet::call]
	impl<T: Config> Pallet<T> {
		/// Register `hotkey` on subnet `netuid`, paying the subnet's current burn from the
		/// signing coldkey. The hotkey gets the next free uid or, when the subnet is full,
		/// replaces the neuron with the lowest pruning score outside its immunity period.
		///
		/// Charged for the worst case (a full subnet of `MaxAllowedUidsLimit` uids to scan
		/// for pruning) up front; a registration that scanned no uids is refunded down to
		/// `burned_register(0)`. A failed one pays the worst case.
		#[pallet::call_index(0)]
		#[pallet::weight(T::WeightInfo::burned_register(T::MaxAllowedUidsLimit::get() as u32))]
		pub fn burned_register(
			origin: OriginFor<T>,
			netuid: NetUid,
			hotkey: T::AccountId,
		) -> DispatchResultWithPostInfo {
			let coldkey = ensure_signed(origin)?;
			let scanned = Self::do_burned_register(coldkey, netuid, hotkey)?;
			Ok(Some(T::WeightInfo::burned_register(scanned)).into())
		}

		/// Announce the axon (address) the signing hotkey serves on `netuid`.
		/// Rate-limited by the subnet's `serving_rate_limit`. Free when it succeeds (see
		/// [`feeless`]).
		#[pallet::call_index(1)]
		#[pallet::weight(T::WeightInfo::serve_axon().saturating_mul(feeless::FEELESS_CHECK_RUNS))]
		#[pallet::feeless_if(|origin: &OriginFor<T>, netuid: &NetUid, version: &u32, ip: &u128, port: &u16, ip_type: &u8, protocol: &u8| -> bool {
			Pallet::<T>::serve_axon_is_feeless(origin, *netuid, *version, *ip, *port, *ip_type, *protocol)
		})]
		pub fn serve_axon(
			origin: OriginFor<T>,
			netuid: NetUid,
			version: u32,
			ip: u128,
			port: u16,
			ip_type: u8,
			protocol: u8,
		) -> DispatchResult {
			let hotkey = ensure_signed(origin)?;
			Self::do_serve_axon(hotkey, netuid, version, ip, port, ip_type, protocol)
		}

		/// Record the model (and tokenizer) the signing hotkey serves on `netuid`.
		/// The first commitment of a model hash on a subnet is remembered: the earliest
		/// committer wins ties, so copying a model does not pay. Free when it succeeds, at
		/// most once per `serving_rate_limit` blocks (see [`feeless`]).
		#[pallet::call_index(2)]
		#[pallet::weight(T::WeightInfo::commit_model().saturating_mul(feeless::FEELESS_CHECK_RUNS))]
		#[pallet::feeless_if(|origin: &OriginFor<T>, netuid: &NetUid, model_hash: &H256, tokenizer_hash: &H256| -> bool {
			Pallet::<T>::commit_model_is_feeless(origin, *netuid, *model_hash, *tokenizer_hash)
		})]
		pub fn commit_model(
			origin: OriginFor<T>,
			netuid: NetUid,
			model_hash: H256,
			tokenizer_hash: H256,
		) -> DispatchResult {
			let hotkey = ensure_signed(origin)?;
			Self::do_commit_model(hotkey, netuid, model_hash, tokenizer_hash)
		}

		/// Stake `amount` from the signing coldkey into `hotkey`'s pool. The tokens stay in
		/// the coldkey's account under a hold; the coldkey receives pool shares.
		#[pallet::call_index(3)]
		#[pallet::weight(T::WeightInfo::add_stake())]
		pub fn add_stake(origin: OriginFor<T>, hotkey: T::AccountId, amount: Balance) -> DispatchResult {
			let coldkey = ensure_signed(origin)?;
			Self::do_add_stake(coldkey, hotkey, amount)
		}

		/// Withdraw `amount` of value from the signing coldkey's position in `hotkey`'s
		/// pool: principal is released from the hold, rewards are paid from the pot.
		#[pallet::call_index(4)]
		#[pallet::weight(T::WeightInfo::remove_stake())]
		pub fn remove_stake(
			origin: OriginFor<T>,
			hotkey: T::AccountId,
			amount: Balance,
		) -> DispatchResult {
			let coldkey = ensure_signed(origin)?;
			Self::do_remove_stake(coldkey, hotkey, amount)
		}

		/// Set the delegate take of `hotkey` (signed by its owner coldkey),
		/// `u16::MAX` = 100%, at most `MaxDelegateTake`.
		#[pallet::call_index(5)]
		#[pallet::weight(T::WeightInfo::set_delegate_take())]
		pub fn set_delegate_take(origin: OriginFor<T>, hotkey: T::AccountId, take: u16) -> DispatchResult {
			let coldkey = ensure_signed(origin)?;
			Self::do_set_delegate_take(coldkey, hotkey, take)
		}

		/// Set the signing hotkey's weights on `netuid` (subnets without commit-reveal).
		/// `dests` are uids, `weights` their relative weights; they are max-upscaled so the
		/// largest becomes `u16::MAX`. Every check subtensor makes applies. Free when it
		/// succeeds (see [`feeless`]).
		#[pallet::call_index(6)]
		#[pallet::weight(T::WeightInfo::set_weights(dests.len() as u32).saturating_mul(feeless::FEELESS_CHECK_RUNS))]
		#[pallet::feeless_if(|origin: &OriginFor<T>, netuid: &NetUid, dests: &Vec<Uid>, weights: &Vec<u16>, version_key: &u64| -> bool {
			Pallet::<T>::set_weights_is_feeless(origin, *netuid, dests, weights, *version_key)
		})]
		pub fn set_weights(
			origin: OriginFor<T>,
			netuid: NetUid,
			dests: Vec<Uid>,
			weights: Vec<u16>,
			version_key: u64,
		) -> DispatchResult {
			let hotkey = ensure_signed(origin)?;
			Self::do_set_weights(hotkey, netuid, dests, weights, version_key, false)
		}

		/// Commit to weights on a commit-reveal subnet: `hash` =
		/// BlakeTwo256(SCALE(hotkey, netuid, uids, values, salt, version_key)).
		/// The reveal is accepted only during epoch `current + commit_reveal_period`.
		/// Free when it succeeds (see [`feeless`]).
		#[pallet::call_index(7)]
		#[pallet::weight(T::WeightInfo::commit_weights().saturating_mul(feeless::FEELESS_CHECK_RUNS))]
		#[pallet::feeless_if(|origin: &OriginFor<T>, netuid: &NetUid, hash: &H256| -> bool {
			Pallet::<T>::commit_weights_is_feeless(origin, *netuid, *hash)
		})]
		pub fn commit_weights(origin: OriginFor<T>, netuid: NetUid, hash: H256) -> DispatchResult {
			let hotkey = ensure_signed(origin)?;
			Self::do_commit_weights(hotkey, netuid, hash)
		}

		/// Reveal weights committed with `commit_weights`; they are checked and set as with
		/// `set_weights`, and the commit is consumed (a second reveal fails). Free when it
		/// succeeds (see [`feeless`]).
		#[pallet::call_index(8)]
		#[pallet::weight(T::WeightInfo::reveal_weights(uids.len() as u32).saturating_mul(feeless::FEELESS_CHECK_RUNS))]
		#[pallet::feeless_if(|origin: &OriginFor<T>, netuid: &NetUid, uids: &Vec<Uid>, values: &Vec<u16>, salt: &Vec<u16>, version_key: &u64| -> bool {
			Pallet::<T>::reveal_weights_is_feeless(origin, *netuid, uids, values, salt, *version_key)
		})]
		pub fn reveal_weights(
			origin: OriginFor<T>,
			netuid: NetUid,
			uids: Vec<Uid>,
			values: Vec<u16>,
			salt: Vec<u16>,
			version_key: u64,
		) -> DispatchResult {
			let hotkey = ensure_signed(origin)?;
			Self::do_reveal_weights(hotkey, netuid, uids, values, salt, version_key)
		}

		/// Root: create subnet `netuid` with default hyperparameters (or `params`).
		#[pallet::call_index(9)]
		#[pallet::weight(T::WeightInfo::sudo_register_network())]
		pub fn sudo_register_network(
			origin: OriginFor<T>,
			netuid: NetUid,
			params: Option<SubnetHyperparams>,
		) -> DispatchResult {
			ensure_root(origin)?;
			Self::do_register_network(netuid, params.unwrap_or_default())
		}

		/// Root: change one hyperparameter of subnet `netuid`.
		#[pallet::call_index(10)]
		#[pallet::weight(T::WeightInfo::sudo_set_hyperparam())]
		pub fn sudo_set_hyperparam(
			origin: OriginFor<T>,
			netuid: NetUid,
			param: Hyperparam,
		) -> DispatchResult {
			ensure_root(origin)?;
			Self::do_set_hyperparam(netuid, param)
		}

		/// Root: set subnet `netuid`'s relative share of block emission.
		#[pallet::call_index(11)]
		#[pallet::weight(T::WeightInfo::sudo_set_hyperparam())]
		pub fn sudo_set_emission_share(origin: OriginFor<T>, netuid: NetUid, share: u16) -> DispatchResult {
			ensure_root(origin)?;
			ensure!(Hyperparams::<T>::contains_key(netuid), Error::<T>::SubnetNotFound);
			SubnetEmissionShare::<T>::insert(netuid, share);
			Self::deposit_event(Event::EmissionShareSet { netuid, share });
			Ok(())
		}

		/// Report neuron `uid` of `netuid` for fraud (signed answers that do not come from
		/// its committed model), signed by a validator hotkey of the subnet holding a
		/// permit. `evidence` is a step the neuron's hotkey signed for this validator
		/// while claiming its committed model (see [`crate::evidence`]); it is checked
		/// before anything else. When the epoch stake (see [`EpochStake`]) of the
		/// validators whose reports count (younger than `fraud_window`) exceeds
		/// `fraud_threshold` of the epoch stake of all permits, the neuron's bond is
		/// slashed, its model hash barred and its uid vacated.
		///
		/// Weighed by the subnet's number of validator permits (every loop is bounded by
		/// it) and the evidence's digests (at most 256). As subtensor's `set_weights`, a
		/// successful report pays no fee: only permitted validators with a valid miner
		/// signature get that far, once per neuron per window.
		#[pallet::call_index(12)]
		#[pallet::weight(T::WeightInfo::report_fraud(
			Pallet::<T>::validator_permit_count(*netuid),
			evidence.digests.len() as u32,
		))]
		pub fn report_fraud(
			origin: OriginFor<T>,
			netuid: NetUid,
			uid: Uid,
			evidence: FraudEvidence,
		) -> DispatchResultWithPostInfo {
			let reporter = ensure_signed(origin)?;
			Self::do_report_fraud(reporter, netuid, fraud::Target::Uid(uid), evidence)?;
			Ok(Pays::No.into())
		}

		/// Take `hotkey` off subnet `netuid` (signed by its owner coldkey): its uid becomes
		/// vacant and its bond, if any, is released, or held in escrow while fraud reports
		/// against it still count (see [`EscrowedBonds`]).
		#[pallet::call_index(13)]
		#[pallet::weight(T::WeightInfo::deregister())]
		pub fn deregister(origin: OriginFor<T>, netuid: NetUid, hotkey: T::AccountId) -> DispatchResult {
			let coldkey = ensure_signed(origin)?;
			Self::do_deregister(coldkey, netuid, hotkey)
		}

		/// Return the escrowed bond of `hotkey` on `netuid` to its owner once every fraud
		/// report against it is older than `fraud_window` (or audits are off). Anyone may
		/// call it; the per-block sweep does the same a few escrows at a time.
		#[pallet::call_index(14)]
		#[pallet::weight(T::WeightInfo::release_escrow(Pallet::<T>::max_reports(*netuid)))]
		pub fn release_escrow(origin: OriginFor<T>, netuid: NetUid, hotkey: T::AccountId) -> DispatchResult {
			ensure_signed(origin)?;
			Self::do_release_escrow(netuid, &hotkey)
		}

		/// Report the escrowed `hotkey` of `netuid` (a reported neuron that left the
		/// subnet) for fraud: as `report_fraud`, with the evidence checked against the
		/// model it had committed when it left. Crossing the threshold slashes the escrow
		/// and bars the model.
		#[pallet::call_index(15)]
		#[pallet::weight(T::WeightInfo::report_fraud(
			Pallet::<T>::validator_permit_count(*netuid),
			evidence.digests.len() as u32,
		))]
		pub fn report_escrowed(
			origin: OriginFor<T>,
			netuid: NetUid,
			hotkey: T::AccountId,
			evidence: FraudEvidence,
		) -> DispatchResultWithPostInfo {
			let reporter = ensure_signed(origin)?;
			Self::do_report_fraud(reporter, netuid, fraud::Target::Escrowed(hotkey), evidence)?;
			Ok(Pays::No.into())
		}
	}

	impl<T: Config> Pallet<T> {
		/// Account of the reward pot.
		pub fn pot_account() -> T::AccountId {
			T::PalletId::get().into_account_truncating()
		}

		/// Current block as the pallet stores heights.
		pub fn current_block() -> BlockHeight {
			use sp_runtime::traits::UniqueSaturatedInto;
			frame_system::Pallet::<T>::block_number().unique_saturated_into()
		}
	}
}
