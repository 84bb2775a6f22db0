//! SGD (Nesterov momentum, PyTorch semantics: no dampening, decoupled from nothing) and
//! Adam, written over named tensors so their state is saved with the checkpoint and a
//! resumed run continues exactly.

use crate::config::Optimizer;
use std::collections::BTreeMap;
use tch::Tensor;

pub struct Optim {
    kind: Optimizer,
    /// Trainable parameters by name, in a fixed order.
    params: Vec<(String, Tensor)>,
    /// Momentum (SGD) or first moment (Adam), then second moment (Adam).
    pub m: BTreeMap<String, Tensor>,
    pub v: BTreeMap<String, Tensor>,
    pub step: i64,
}

impl Optim {
    pub fn new(kind: Optimizer, vs: &tch::nn::VarStore) -> Optim {
        let mut params: Vec<(String, Tensor)> = vs
            .variables()
            .into_iter()
            .filter(|(_, t)| t.requires_grad())
            .collect();
        params.sort_by(|a, b| a.0.cmp(&b.0));
        let zeros = |params: &[(String, Tensor)]| {
            params
                .iter()
                .map(|(n, t)| (n.clone(), t.zeros_like()))
                .collect()
        };
        Optim {
            kind,
            m: zeros(&params),
            v: zeros(&params),
            params,
            step: 0,
        }
    }

    pub fn zero_grad(&mut self) {
        for (_, p) in self.params.iter_mut() {
            p.zero_grad();
        }
    }

    /// One update. Weight decay applies to weights of rank > 1 only (not biases or
    /// BatchNorm scales), the usual practice for these networks.
    pub fn step(&mut self, lr: f64, weight_decay: f64) {
        self.step += 1;
        let t = self.step as f64;
        tch::no_grad(|| {
            for (name, p) in self.params.iter_mut() {
                let mut g = p.grad();
                if !g.defined() {
                    continue;
                }
                if weight_decay > 0.0 && p.dim() > 1 {
                    g = &g + &*p * weight_decay;
                }
                let m = self.m.get_mut(name).expect("state for every parameter");
                match self.kind {
                    Optimizer::Sgd => {
                        // buf = 0.9 buf + g; p -= lr (g + 0.9 buf)
                        let _ = m.g_mul_scalar_(0.9).g_add_(&g);
                        let update = &g + &*m * 0.9;
                        let _ = p.g_sub_(&(update * lr));
                    }
                    Optimizer::Adam => {
                        let v = self.v.get_mut(name).expect("state for every parameter");
                        let (b1, b2, eps) = (0.9, 0.999, 1e-8);
                        let _ = m.g_mul_scalar_(b1).g_add_(&(&g * (1.0 - b1)));
                        let _ = v.g_mul_scalar_(b2).g_add_(&(&g * &g * (1.0 - b2)));
                        let mhat = &*m / (1.0 - b1.powf(t));
                        let vhat = &*v / (1.0 - b2.powf(t));
                        let _ = p.g_sub_(&(mhat / (vhat.sqrt() + eps) * lr));
                    }
                }
            }
        });
    }
}
