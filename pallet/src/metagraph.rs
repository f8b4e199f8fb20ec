//! The `TesseraApi` runtime API: the whole metagraph of a subnet in one call.

use crate::*;
use alloc::vec::Vec;

sp_api::decl_runtime_apis! {
	/// Read access to subnets for validators, miners and UIs, so nobody walks storage
	/// maps key by key. Version 2 added `coldkey_info`.
	#[api_version(2)]
	pub trait TesseraApi<AccountId> where AccountId: codec::Codec {
		/// Every neuron of `netuid` with its stake, consensus outputs, axon and model.
		fn metagraph(netuid: NetUid) -> Option<Metagraph<AccountId>>;
		/// One neuron of `netuid`.
		fn neuron(netuid: NetUid, uid: Uid) -> Option<NeuronInfo<AccountId>>;
		/// The hyperparameters of `netuid`.
		fn hyperparams(netuid: NetUid) -> Option<SubnetHyperparams>;
		/// The netuids of every subnet.
		fn subnets() -> Vec<NetUid>;
		/// A coldkey's free, held and transferable balance and every stake position
		/// (hotkey, shares, principal, value).
		fn coldkey_info(coldkey: AccountId) -> ColdkeyInfo<AccountId>;
	}
}

/// Per-uid vectors of a subnet, read once for a whole metagraph.
struct EpochVectors {
	rank: Vec<u16>,
	trust: Vec<u16>,
	consensus: Vec<u16>,
	incentive: Vec<u16>,
	dividends: Vec<u16>,
	validator_trust: Vec<u16>,
	emission: Vec<Balance>,
	permit: Vec<bool>,
	active: Vec<bool>,
	last_update: Vec<BlockHeight>,
	pruning: Vec<u16>,
}

impl EpochVectors {
	fn load<T: Config>(netuid: NetUid) -> Self {
		Self {
			rank: Rank::<T>::get(netuid),
			trust: Trust::<T>::get(netuid),
			consensus: Consensus::<T>::get(netuid),
			incentive: Incentive::<T>::get(netuid),
			dividends: Dividends::<T>::get(netuid),
			validator_trust: ValidatorTrust::<T>::get(netuid),
			emission: Emission::<T>::get(netuid),
			permit: ValidatorPermit::<T>::get(netuid),
			active: Active::<T>::get(netuid),
			last_update: LastUpdate::<T>::get(netuid),
			pruning: PruningScores::<T>::get(netuid),
		}
	}
}

fn at<V: Copy + Default>(v: &[V], uid: Uid) -> V {
	v.get(uid as usize).copied().unwrap_or_default()
}

impl<T: Config> Pallet<T> {
	/// All neurons of `netuid`, or `None` if the subnet does not exist.
	pub fn metagraph(netuid: NetUid) -> Option<Metagraph<T::AccountId>> {
		let hyperparams = Hyperparams::<T>::get(netuid)?;
		let vectors = EpochVectors::load::<T>(netuid);
		let neurons = (0..SubnetN::<T>::get(netuid))
			.filter_map(|uid| Self::build_neuron(netuid, uid, &vectors))
			.collect();
		Some(Metagraph { netuid, block: Self::current_block(), hyperparams, neurons })
	}

	/// One neuron of `netuid`, or `None` if there is no such uid.
	pub fn neuron(netuid: NetUid, uid: Uid) -> Option<NeuronInfo<T::AccountId>> {
		if !Hyperparams::<T>::contains_key(netuid) {
			return None;
		}
		Self::build_neuron(netuid, uid, &EpochVectors::load::<T>(netuid))
	}

	/// Netuids of all subnets, ascending.
	pub fn subnet_ids() -> Vec<NetUid> {
		let mut ids: Vec<NetUid> = Hyperparams::<T>::iter_keys().collect();
		ids.sort_unstable();
		ids
	}

	fn build_neuron(netuid: NetUid, uid: Uid, v: &EpochVectors) -> Option<NeuronInfo<T::AccountId>> {
		let hotkey = Keys::<T>::get(netuid, uid)?;
		let coldkey = Owner::<T>::get(&hotkey)?;
		Some(NeuronInfo {
			uid,
			netuid,
			stake: TotalHotkeyStake::<T>::get(&hotkey),
			rank: at(&v.rank, uid),
			trust: at(&v.trust, uid),
			consensus: at(&v.consensus, uid),
			incentive: at(&v.incentive, uid),
			dividends: at(&v.dividends, uid),
			validator_trust: at(&v.validator_trust, uid),
			emission: at(&v.emission, uid),
			active: at(&v.active, uid),
			validator_permit: at(&v.permit, uid),
			last_update: at(&v.last_update, uid),
			registered_at: BlockAtRegistration::<T>::get(netuid, uid),
			pruning_score: at(&v.pruning, uid),
			axon: Axons::<T>::get(netuid, &hotkey),
			model: ModelCommitments::<T>::get(netuid, &hotkey),
			take: Self::delegate_take(&hotkey),
			weights: Weights::<T>::get(netuid, uid),
			hotkey,
			coldkey,
		})
	}
}
