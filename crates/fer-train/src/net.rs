//! The registry's layer specs as libtorch modules, with the inference engine's tensor
//! names (`block1_1.conv.weight`, `fc1.bias`, ...).

use moodtune_fer::model::{Arch, LayerSpec};
use tch::nn::{self, Module, ModuleT};
use tch::{Device, Kind, Tensor};

#[derive(Debug)]
enum Layer {
    // Boxed: a BatchNorm is much larger than the other variants.
    // The padding is kept beside the module: tch keeps its own config private.
    Conv(nn::Conv2D, Option<Box<nn::BatchNorm>>, i64),
    Pool,
    Dense(nn::Linear, bool),
}

#[derive(Debug)]
pub struct TorchNet {
    layers: Vec<Layer>,
    dropout: f64,
    /// Training passes run convolutions and dense layers in bfloat16 on float32 master
    /// weights (what PyTorch's CPU autocast does, which tch does not expose). CPUs with
    /// AVX512-BF16 (Zen 4, Sapphire Rapids) train about 1.9x faster; evaluation passes stay
    /// float32, as the inference engine runs.
    bf16: bool,
}

impl TorchNet {
    pub fn new(root: &nn::Path, arch: &Arch, dropout: f64) -> TorchNet {
        let layers = arch
            .layers
            .iter()
            .map(|spec| match *spec {
                LayerSpec::Conv {
                    name,
                    cin,
                    cout,
                    k,
                    pad,
                    batchnorm,
                } => {
                    let cfg = nn::ConvConfig {
                        padding: pad as i64,
                        bias: !batchnorm,
                        ..Default::default()
                    };
                    if batchnorm {
                        let p = root / name;
                        let conv = nn::conv2d(&p / "conv", cin as i64, cout as i64, k as i64, cfg);
                        Layer::Conv(
                            conv,
                            Some(Box::new(nn::batch_norm2d(
                                &p / "bn",
                                cout as i64,
                                Default::default(),
                            ))),
                            pad as i64,
                        )
                    } else {
                        Layer::Conv(
                            nn::conv2d(root / name, cin as i64, cout as i64, k as i64, cfg),
                            None,
                            pad as i64,
                        )
                    }
                }
                LayerSpec::MaxPool2 => Layer::Pool,
                LayerSpec::Dense {
                    name,
                    inputs,
                    outputs,
                    relu,
                } => Layer::Dense(
                    nn::linear(
                        root / name,
                        inputs as i64,
                        outputs as i64,
                        Default::default(),
                    ),
                    relu,
                ),
            })
            .collect();
        TorchNet {
            layers,
            dropout,
            bf16: false,
        }
    }

    /// The same network, training in bfloat16 (see [`TorchNet::bf16`]).
    pub fn with_bf16(mut self, bf16: bool) -> TorchNet {
        self.bf16 = bf16;
        self
    }
}

fn bf16(t: &Tensor) -> Tensor {
    t.to_kind(Kind::BFloat16)
}

impl ModuleT for TorchNet {
    // [N, 1, S, S] -> logits [N, 7]
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let low = self.bf16 && train;
        let mut x = if low { bf16(xs) } else { xs.shallow_clone() };
        for layer in &self.layers {
            x = match layer {
                Layer::Conv(conv, bn, pad) => {
                    let y = if low {
                        x.conv2d(
                            &bf16(&conv.ws),
                            conv.bs.as_ref().map(bf16),
                            [1, 1],
                            [*pad, *pad],
                            [1, 1],
                            1,
                        )
                    } else {
                        conv.forward(&x)
                    };
                    // BatchNorm takes the bfloat16 activations with its float32 parameters
                    // and statistics.
                    match bn {
                        Some(bn) => bn.forward_t(&y, train).relu(),
                        None => y.relu(),
                    }
                }
                Layer::Pool => x.max_pool2d_default(2),
                Layer::Dense(lin, relu) => {
                    let flat = if x.dim() > 2 { x.flatten(1, -1) } else { x };
                    // Dropout before every dense layer, as the recipe in docs/MODEL.md.
                    let flat = flat.dropout(self.dropout, train);
                    let y = if low {
                        flat.linear(&bf16(&lin.ws), lin.bs.as_ref().map(bf16))
                    } else {
                        lin.forward(&flat)
                    };
                    if *relu {
                        y.relu()
                    } else {
                        y
                    }
                }
            };
        }
        // The loss and the accuracy count take float32 logits.
        if low {
            x.to_kind(Kind::Float)
        } else {
            x
        }
    }
}

/// Copies a 4-D NCHW tensor into channels-last strides, which oneDNN's CPU
/// convolutions run markedly faster on (the same as PyTorch's
/// `.to(memory_format=torch.channels_last)`).
pub fn channels_last(t: &Tensor) -> Tensor {
    let s = t.size();
    if s.len() != 4 {
        return t.shallow_clone();
    }
    let (c, h, w) = (s[1], s[2], s[3]);
    let mut out = Tensor::empty_strided(&s, [c * h * w, 1, w * c, c], (Kind::Float, Device::Cpu));
    out.copy_(t);
    out
}

/// Re-lays every 4-D parameter (convolution weights) out channels-last, in place.
pub fn params_channels_last(vs: &nn::VarStore) {
    tch::no_grad(|| {
        for (_, mut v) in vs.variables() {
            if v.dim() == 4 {
                let cl = channels_last(&v);
                v.set_data(&cl);
            }
        }
    });
}
