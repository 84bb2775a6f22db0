//! The registry's layer specs as libtorch modules, with the inference engine's tensor
//! names (`block1_1.conv.weight`, `fc1.bias`, ...).

use moodtune_fer::model::{Arch, LayerSpec};
use tch::nn::{self, Module, ModuleT};
use tch::{Device, Kind, Tensor};

#[derive(Debug)]
enum Layer {
    // Boxed: a BatchNorm is much larger than the other variants.
    Conv(nn::Conv2D, Option<Box<nn::BatchNorm>>),
    Pool,
    Dense(nn::Linear, bool),
}

#[derive(Debug)]
pub struct TorchNet {
    layers: Vec<Layer>,
    dropout: f64,
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
                        )
                    } else {
                        Layer::Conv(
                            nn::conv2d(root / name, cin as i64, cout as i64, k as i64, cfg),
                            None,
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
        TorchNet { layers, dropout }
    }
}

impl ModuleT for TorchNet {
    // [N, 1, S, S] -> logits [N, 7]
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let mut x = xs.shallow_clone();
        for layer in &self.layers {
            x = match layer {
                Layer::Conv(conv, bn) => {
                    let y = conv.forward(&x);
                    match bn {
                        Some(bn) => bn.forward_t(&y, train).relu(),
                        None => y.relu(),
                    }
                }
                Layer::Pool => x.max_pool2d_default(2),
                Layer::Dense(lin, relu) => {
                    let flat = if x.dim() > 2 { x.flatten(1, -1) } else { x };
                    // Dropout before every dense layer, as the recipe in docs/MODEL.md.
                    let y = lin.forward(&flat.dropout(self.dropout, train));
                    if *relu {
                        y.relu()
                    } else {
                        y
                    }
                }
            };
        }
        x
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
