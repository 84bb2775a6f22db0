//! The architecture registry. Adding an architecture = one function returning its
//! layer specs, plus one line in [`Arch::by_name`].

use anyhow::{bail, Result};

/// One block of a network, top to bottom. Shapes are per image, `[C, H, W]`.
#[derive(Debug, Clone, PartialEq)]
pub enum LayerSpec {
    /// conv k x k (`pad` zero padding) -> optional BatchNorm -> ReLU.
    /// Weights: `{name}.weight`/`{name}.bias`, or with BatchNorm `{name}.conv.weight`
    /// and `{name}.bn.{weight,bias,running_mean,running_var}`.
    Conv {
        name: &'static str,
        cin: usize,
        cout: usize,
        k: usize,
        pad: usize,
        batchnorm: bool,
    },
    /// 2x2 max pooling, stride 2: `[C, H, W] -> [C, H/2, W/2]`.
    MaxPool2,
    /// `[C, H, W] -> [C*H*W]` then dense (`{name}.weight` `[out, in]`, `{name}.bias`),
    /// ReLU unless it is the last (logits) layer.
    Dense {
        name: &'static str,
        inputs: usize,
        outputs: usize,
        relu: bool,
    },
}

#[derive(Debug, Clone)]
pub struct Arch {
    pub name: &'static str,
    pub summary: &'static str,
    /// Side of the square network input (a centre crop of the preprocessed face).
    pub input: usize,
    pub layers: Vec<LayerSpec>,
}

impl Arch {
    pub const NAMES: [&'static str; 4] = ["paper", "paper-table", "slimvgg", "widevgg"];

    pub fn by_name(name: &str) -> Result<Arch> {
        Ok(match name {
            "paper" => paper(3, 1, 12),
            "paper-table" => paper(7, 0, 3),
            "slimvgg" => vgg4(
                "slimvgg",
                "4 x [2 x (conv3x3 + BN + ReLU) + maxpool], 32/64/128/256 channels, fc256, fc7; 40x40 input",
                32,
            ),
            "widevgg" => vgg4(
                "widevgg",
                "4 x [2 x (conv3x3 + BN + ReLU) + maxpool], 48/96/192/384 channels, fc256, fc7; 40x40 input",
                48,
            ),
            _ => bail!(
                "unknown architecture {name:?}; available: {}",
                Self::NAMES.join(", ")
            ),
        })
    }

    /// (parameters, multiply-accumulates per image) of the inference graph.
    pub fn cost(&self) -> (usize, usize) {
        let (mut params, mut macs) = (0, 0);
        let mut side = self.input;
        for l in &self.layers {
            match *l {
                LayerSpec::Conv {
                    cin,
                    cout,
                    k,
                    pad,
                    batchnorm,
                    ..
                } => {
                    side = side + 2 * pad + 1 - k;
                    // BatchNorm convs have no bias of their own, but a scale and shift per channel.
                    params += cout * cin * k * k + if batchnorm { 2 * cout } else { cout };
                    macs += side * side * cout * cin * k * k;
                }
                LayerSpec::MaxPool2 => side /= 2,
                LayerSpec::Dense {
                    inputs, outputs, ..
                } => {
                    params += inputs * outputs + outputs;
                    macs += inputs * outputs;
                }
            }
        }
        (params, macs)
    }
}

/// The reference network of SPEC.md. `paper` reads its 3x3 kernels with padding 1
/// (48 -> 48 -> 48 -> 24 -> 24 -> 24 -> 12); `paper-table` reads its size table, which
/// only 7x7 unpadded kernels produce (48 -> 42 -> 36 -> 18 -> 12 -> 6 -> 3).
fn paper(k: usize, pad: usize, final_side: usize) -> Arch {
    use LayerSpec::*;
    Arch {
        name: if k == 3 { "paper" } else { "paper-table" },
        summary: "reference CNN: conv64, conv128, pool, conv256, conv256, pool, fc512, fc7",
        input: 48,
        layers: vec![
            Conv {
                name: "conv1",
                cin: 1,
                cout: 64,
                k,
                pad,
                batchnorm: false,
            }, // [64,48,48] | [64,42,42]
            Conv {
                name: "conv2",
                cin: 64,
                cout: 128,
                k,
                pad,
                batchnorm: false,
            }, // [128,48,48] | [128,36,36]
            MaxPool2, // [128,24,24] | [128,18,18]
            Conv {
                name: "conv3",
                cin: 128,
                cout: 256,
                k,
                pad,
                batchnorm: false,
            }, // [256,24,24] | [256,12,12]
            Conv {
                name: "conv4",
                cin: 256,
                cout: 256,
                k,
                pad,
                batchnorm: false,
            }, // [256,24,24] | [256,6,6]
            MaxPool2, // [256,12,12] | [256,3,3]
            Dense {
                name: "fc1",
                inputs: 256 * final_side * final_side,
                outputs: 512,
                relu: true,
            },
            Dense {
                name: "fc2",
                inputs: 512,
                outputs: 7,
                relu: false,
            }, // logits [7]
        ],
    }
}

/// Four BatchNorm VGG blocks on 40x40 crops: the CPU-friendly workhorse.
/// Four VGG blocks of two 3x3 convolutions (BN, ReLU) and a 2x2 max pool, channels
/// `width` x 1/2/4/8, then fc256 and the logits. slimvgg is width 32; widevgg (48) has
/// 2.25x its multiply-accumulates, for when a bigger network is affordable.
fn vgg4(name: &'static str, summary: &'static str, width: usize) -> Arch {
    use LayerSpec::*;
    let conv = |name, cin, cout| Conv {
        name,
        cin,
        cout,
        k: 3,
        pad: 1,
        batchnorm: true,
    };
    let [c1, c2, c3, c4] = [width, 2 * width, 4 * width, 8 * width];
    Arch {
        name,
        summary,
        input: 40,
        layers: vec![
            conv("block1_1", 1, c1),  // [c1,40,40]
            conv("block1_2", c1, c1), // [c1,40,40]
            MaxPool2,                 // [c1,20,20]
            conv("block2_1", c1, c2), // [c2,20,20]
            conv("block2_2", c2, c2), // [c2,20,20]
            MaxPool2,                 // [c2,10,10]
            conv("block3_1", c2, c3), // [c3,10,10]
            conv("block3_2", c3, c3),
            MaxPool2,                 // [c3,5,5]
            conv("block4_1", c3, c4), // [c4,5,5]
            conv("block4_2", c4, c4),
            MaxPool2, // [c4,2,2]
            Dense {
                name: "fc1",
                inputs: 4 * c4,
                outputs: 256,
                relu: true,
            },
            Dense {
                name: "fc2",
                inputs: 256,
                outputs: 7,
                relu: false,
            }, // logits [7]
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_knows_every_name_and_rejects_others() {
        for n in Arch::NAMES {
            assert_eq!(Arch::by_name(n).unwrap().name, n);
        }
        let err = Arch::by_name("resnet").unwrap_err().to_string();
        assert!(err.contains("paper, paper-table, slimvgg, widevgg"));
    }

    #[test]
    fn costs_match_hand_computation() {
        // paper: 12x12x256 = 36864 features into fc512, as SPEC.md says for the 3x3 reading.
        let (params, macs) = Arch::by_name("paper").unwrap().cost();
        assert_eq!(
            params,
            640 + 73856 + 295168 + 590080 + (36864 * 512 + 512) + (512 * 7 + 7)
        );
        assert!((0.65e9..0.95e9).contains(&(macs as f64)), "{macs}");
        // paper-table: 3x3x256 = 2304 into fc512.
        let (_, macs_t) = Arch::by_name("paper-table").unwrap().cost();
        assert!((0.65e9..0.95e9).contains(&(macs_t as f64)), "{macs_t}");
        // slimvgg: 1.44M parameters (with BN scale+shift), ~83M MACs.
        let (p, m) = Arch::by_name("slimvgg").unwrap().cost();
        // conv 1,170,720 + BN 2 x 960 + fc1 262,400 + fc2 1,799.
        assert_eq!(p, 1_436_839);
        assert!((80e6..90e6).contains(&(m as f64)), "{m}");
        // widevgg: conv 9 x 292,656 (no biases: BN follows) + BN 2 x 1,440 + fc1 + fc2.
        let (pw, mw) = Arch::by_name("widevgg").unwrap().cost();
        assert_eq!(pw, 2_633_904 + 2_880 + 393_472 + 1_799);
        assert!((mw as f64 / m as f64 - 2.25).abs() < 0.01, "{mw} vs {m}");
    }
}
