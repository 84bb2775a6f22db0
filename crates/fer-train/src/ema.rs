//! An exponential moving average of the network's weights and BatchNorm statistics: a
//! second, smoothed copy of the network, updated after every optimizer step and evaluated
//! beside the live one each epoch. Averaging over the last ~1/(1-decay) steps irons out
//! the step-to-step noise of SGD, which a 2-core training budget cannot anneal away.

use crate::net::{params_channels_last, TorchNet};
use moodtune_fer::model::Arch;
use tch::nn::VarStore;
use tch::{Device, Tensor};

pub struct Ema {
    /// The averaged network's variables (same names as the live VarStore's).
    pub vs: VarStore,
    pub net: TorchNet,
    decay: f64,
    /// Updates so far; saved with the checkpoint, since the warm-up depends on it.
    pub updates: i64,
    /// (average, live) pairs, sharing storage with the two VarStores.
    pairs: Vec<(Tensor, Tensor)>,
}

impl Ema {
    /// An average that starts equal to `live` (its current weights).
    pub fn new(live: &VarStore, arch: &Arch, dropout: f64, decay: f64) -> Ema {
        let vs = VarStore::new(Device::Cpu);
        let net = TorchNet::new(&vs.root(), arch, dropout);
        params_channels_last(&vs);
        let averaged = vs.variables();
        let mut pairs: Vec<(String, Tensor, Tensor)> = live
            .variables()
            .into_iter()
            .map(|(name, t)| {
                let avg = averaged
                    .get(&name)
                    .unwrap_or_else(|| panic!("same architecture: {name}"))
                    .shallow_clone();
                (name, avg, t)
            })
            .collect();
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        let mut ema = Ema {
            vs,
            net,
            decay,
            updates: 0,
            pairs: pairs.into_iter().map(|(_, a, l)| (a, l)).collect(),
        };
        ema.copy_live();
        ema
    }

    /// Restarts the average from the live weights (after loading an `--init` file).
    pub fn copy_live(&mut self) {
        tch::no_grad(|| {
            for (avg, live) in self.pairs.iter_mut() {
                avg.copy_(live);
            }
        });
    }

    /// The decay this update uses: ramped up from 0.1 as (1 + n) / (10 + n), so the
    /// random initialisation is forgotten within the first few hundred steps.
    pub fn decay_at(&self, updates: i64) -> f64 {
        let n = updates as f64;
        self.decay.min((1.0 + n) / (10.0 + n))
    }

    /// average = d * average + (1 - d) * live, after an optimizer step.
    pub fn update(&mut self) {
        let d = self.decay_at(self.updates);
        self.updates += 1;
        tch::no_grad(|| {
            for (avg, live) in self.pairs.iter_mut() {
                let _ = avg.g_mul_scalar_(d).g_add_(&(&*live * (1.0 - d)));
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_average_moves_toward_the_live_weights_at_the_ramped_decay() {
        // Building a network draws from libtorch's global generator.
        let _turn = crate::torch_turn();
        let arch = Arch::by_name("slimvgg").unwrap();
        let live = VarStore::new(Device::Cpu);
        let _net = TorchNet::new(&live.root(), &arch, 0.0);
        let mut ema = Ema::new(&live, &arch, 0.0, 0.999);
        let name = "fc2.weight";
        let value = |vs: &VarStore| vs.variables()[name].double_value(&[0, 0]);
        let start = value(&live);
        assert_eq!(value(&ema.vs), start, "starts as a copy");

        // Move the live weight by +1: the first update uses d = 1/10, the second 2/11.
        tch::no_grad(|| {
            let mut w = live.variables()[name].shallow_clone();
            let _ = w.g_add_scalar_(1.0);
        });
        ema.update();
        let after_one = start + 0.9;
        assert!((value(&ema.vs) - after_one).abs() < 1e-5);
        ema.update();
        let after_two = (2.0 / 11.0) * after_one + (9.0 / 11.0) * (start + 1.0);
        assert!((value(&ema.vs) - after_two).abs() < 1e-5);
        assert_eq!(ema.updates, 2);
        // Far into training the configured decay takes over.
        assert_eq!(ema.decay_at(1_000_000), 0.999);
        // The live network is never touched by the average.
        assert!((value(&live) - (start + 1.0)).abs() < 1e-6);
    }
}
